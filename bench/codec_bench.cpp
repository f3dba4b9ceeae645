// Decoding commands and encoding events: the per-command CPU cost on the
// I/O threads (decode) and in the journal (encode).
#include "builtin/builtin.h"
#include "codec/json_writer.h"
#include "domain/command_decoder.h"
#include "domain/event_json.h"
#include "log/write_batch.h"

#include <benchmark/benchmark.h>

#include <string>

using namespace sluice;

namespace {

const std::string k_add_item = R"({"command_id":"c-7f3a9b21","type":"order.add_item","aggregate_id":"ORD-104729",)"
                               R"("expected_version":3,"payload":{"product":"Laptop","qty":1,"price":999.99}})";
const std::string k_deposit =
    R"({"command_id":"c-1","type":"account.deposit","aggregate_id":"ACC-77","payload":{"amount":25.5}})";

// A command as the HTTP layer holds it: in a buffer with simdjson's padding.
void decode(benchmark::State& state, const std::string& json) {
  std::string buf = json;
  buf.resize(json.size() + domain::k_json_padding, '\0');
  domain::command_decoder decoder{builtin::model().types()};
  for (auto _ : state) {
    auto c = decoder.decode(buf.data(), json.size(), buf.size());
    benchmark::DoNotOptimize(c);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(json.size()));
}

void BM_CommandDecode(benchmark::State& state) { decode(state, k_add_item); }
BENCHMARK(BM_CommandDecode);

void BM_CommandDecodeDeposit(benchmark::State& state) { decode(state, k_deposit); }
BENCHMARK(BM_CommandDecodeDeposit);

// Decide + encode the resulting event into a log batch, as the journal will.
void BM_EventEncode(benchmark::State& state) {
  domain::command_decoder decoder{builtin::model().types()};
  auto cmd = decoder.decode(k_add_item);
  auto& type = *cmd->type;
  auto st = type.make_state();
  domain::event_list events;
  // Make the order exist so that add_item is accepted.
  auto create = decoder.decode(R"({"type":"order.create","aggregate_id":"O","payload":{"customer_id":"C-1"}})");
  type.decide(*st, create->kind, create->payload, events);
  type.evolve(*st, events[0].type, events[0].data);

  log::write_batch batch;
  size_t bytes = 0;
  for (auto _ : state) {
    events.clear();
    auto d = type.decide(*st, cmd->kind, cmd->payload, events);
    benchmark::DoNotOptimize(d);
    batch.add({0, 4, 1'795'600'800'000'000, events[0].type, cmd->aggregate_id, cmd->command_id, events[0].data});
    if (batch.bytes() > (1 << 20)) {
      bytes += batch.bytes();
      batch.clear();
    }
  }
  bytes += batch.bytes();
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_EventEncode);

// Event JSON for the API and the event stream.
void BM_EventJson(benchmark::State& state) {
  std::string data;
  domain::command_decoder decoder{builtin::model().types()};
  auto cmd = decoder.decode(k_add_item);
  log::record r{1234, 4, 1'795'600'800'123'000, "order.item_added", "ORD-104729", "c-7f3a9b21", cmd->payload};
  std::string out;
  for (auto _ : state) {
    out.clear();
    codec::json_writer w(out);
    domain::write_event_json(builtin::model().types(), r, w);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EventJson);

} // namespace
