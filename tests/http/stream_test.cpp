#include "http/server.h"

#include "client.h"
#include "server_fixture.h"
#include "ws_client.h"

#include <boost/beast/websocket.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <thread>

using namespace sluice;
using sluice::testing::http_client;
using sluice::testing::ws_client;
using namespace std::chrono_literals;

namespace {

namespace websocket = boost::beast::websocket;

struct fixture : sluice::testing::server_fixture {
  explicit fixture(http::stream_limits sl = {}) : server_fixture({}, sl) {}
};

std::string field(const std::string& json, const char* key) { return sluice::testing::json_field(json, key); }

std::string open(int i) {
  return fmt::format(R"({{"type":"account.open","aggregate_id":"A{}","payload":{{"owner":"o"}}}})", i);
}

} // namespace

TEST_CASE("ping, bad messages and unknown subscriptions get answers and the stream stays open", "[stream]") {
  fixture f;
  ws_client ws(f.server->port());
  ws.send(R"({"op":"ping"})");
  CHECK(ws.receive() == R"({"type":"pong"})");
  ws.send("not json");
  auto e = ws.receive();
  CHECK(field(e, "type") == "error");
  CHECK(field(e, "code") == "bad_request");
  ws.send(R"({"op":"subscribe","id":"s1","view":"nope","key":"k"})");
  CHECK(field(ws.receive(), "code") == "not_found");
  ws.send(R"({"op":"unsubscribe","id":"zz"})");
  CHECK(field(ws.receive(), "code") == "not_found");
  ws.send(R"({"op":"ping"})");
  CHECK(ws.receive() == R"({"type":"pong"})");
  // Plain HTTP on the stream path is told to upgrade.
  CHECK(http_client(f.server->port()).request("GET", "/v1/stream").status == 426);
}

TEST_CASE("a view subscription sends subscribed, the snapshot, then each change", "[stream]") {
  fixture f;
  http_client c(f.server->port());
  ws_client ws(f.server->port());
  ws.send(R"({"op":"subscribe","id":"s1","view":"account_balance","key":"A1"})");
  auto sub = ws.receive();
  CHECK(field(sub, "type") == "subscribed");
  CHECK(field(sub, "id") == "s1");
  auto snap = ws.receive();
  CHECK(field(snap, "type") == "snapshot");
  CHECK(field(snap, "value") == "null");
  REQUIRE(c.request("POST", "/v1/commands", open(1)).status == 200);
  REQUIRE(c.request("POST", "/v1/commands", R"({"type":"account.deposit","aggregate_id":"A1","payload":{"amount":5}})")
              .status == 200);
  auto latest = ws.receive();
  CHECK(field(latest, "type") == "change");
  CHECK(field(latest, "key") == "A1");
  // The two changes may arrive conflated into one; either way the last one shows the deposit.
  const std::string final_value =
      R"("value":{"account_id":"A1","owner":"o","status":"open","balance":5.00,"version":2})";
  if (latest.find(final_value) == std::string::npos)
    latest = ws.receive();
  CHECK(latest.find(final_value) != std::string::npos);
  CHECK(field(latest, "position") == "2");
}

TEST_CASE("an event subscription catches up from the log and goes live with no gap or repeat", "[stream]") {
  fixture f;
  http_client c(f.server->port());
  for (int i = 0; i < 100; ++i)
    REQUIRE(c.request("POST", "/v1/commands", open(i)).status == 200);
  ws_client ws(f.server->port());
  ws.send(R"({"op":"subscribe","id":"e1","events":true,"from_position":1})");
  CHECK(field(ws.receive(), "type") == "subscribed");
  std::thread writer([&] {
    http_client w(f.server->port());
    for (int i = 100; i < 400; ++i)
      w.request("POST", "/v1/commands", open(i));
  });
  for (uint64_t expected = 1; expected <= 400; ++expected) {
    auto m = ws.receive();
    REQUIRE(field(m, "type") == "event");
    simdjson::dom::parser p;
    uint64_t position = p.parse(m)["event"]["position"].get_uint64().value();
    REQUIRE(position == expected);
  }
  writer.join();
  ws.send(R"({"op":"unsubscribe","id":"e1"})");
  ws.send(R"({"op":"ping"})");
  CHECK(ws.receive() == R"({"type":"pong"})");
}

TEST_CASE("a subscriber that stops reading is cut off after a bounded buffer", "[stream]") {
  http::stream_limits sl;
  sl.max_queued_bytes = 16 << 10;
  sl.stall_timeout = 1s;
  fixture f(sl);
  std::string batch;
  for (int i = 0; i < 50000; ++i)
    batch += open(i) + "\n";
  REQUIRE(http_client(f.server->port()).request("POST", "/v1/commands/batch", batch, "application/x-ndjson").status ==
          200);

  // Subscribes to ~15 MB of events, then reads nothing: far more than socket buffers hold.
  boost::asio::io_context ioc;
  websocket::stream<boost::beast::tcp_stream> ws(ioc);
  // A small receive buffer, set before connecting so the kernel cannot scale the window past it.
  auto& socket = boost::beast::get_lowest_layer(ws).socket();
  socket.open(boost::asio::ip::tcp::v4());
  socket.set_option(boost::asio::socket_base::receive_buffer_size(64 << 10));
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), f.server->port()});
  ws.handshake("localhost", "/v1/stream");
  ws.write(boost::asio::buffer(std::string(R"({"op":"subscribe","id":"e","events":true,"from_position":1})")));
  std::this_thread::sleep_for(6s);

  // Reading now finds the connection cut before all 50,000 events arrive.
  size_t events = 0;
  boost::beast::error_code ec;
  boost::beast::flat_buffer b;
  while (!ec && events < 50001) {
    ws.read(b, ec);
    b.consume(b.size());
    ++events;
  }
  CHECK(ec);
  CHECK(events < 50001);
  // The server is fine.
  CHECK(http_client(f.server->port()).request("GET", "/healthz").status == 200);
}

namespace {

// The value of one sample line of a /metrics text ("name{labels} value").
double sample(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos)
    return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

} // namespace

TEST_CASE("/metrics carries every SPEC metric with live values, histograms with cumulative buckets", "[stream]") {
  fixture f;
  sluice::testing::http_client c(f.server->port());
  ws_client ws(f.server->port());
  ws.send(R"({"op":"subscribe","id":"s","view":"account_balance","key":"*"})");
  CHECK(field(ws.receive(), "type") == "subscribed");
  for (int i = 0; i < 5; ++i)
    REQUIRE(c.request("POST", "/v1/commands", open(i)).status == 200);
  for (int i = 0; i < 5; ++i)
    CHECK(field(ws.receive(), "type") == "change");
  CHECK(c.request("POST", "/v1/commands", open(0)).status == 422);
  REQUIRE(c.request("GET", "/v1/views/account_balance/A4?min_position=5").status == 200);

  auto r = c.request("GET", "/metrics");
  REQUIRE(r.status == 200);
  auto& m = r.body;
  for (auto name : {"sluice_commands_total", "sluice_command_duration_seconds", "sluice_events_appended_total",
                    "sluice_log_syncs_total", "sluice_log_sync_duration_seconds", "sluice_log_position",
                    "sluice_view_position", "sluice_aggregates_live", "sluice_command_bus_depth", "sluice_ws_sessions",
                    "sluice_ws_messages_sent_total", "sluice_ws_changes_conflated_total"})
    CHECK_THAT(m, Catch::Contains(fmt::format("# TYPE {} ", name)));
  CHECK(sample(m, "sluice_commands_total{result=\"ok\"}") == 5);
  CHECK(sample(m, "sluice_commands_total{result=\"rejected\"}") == 1);
  CHECK(sample(m, "sluice_command_duration_seconds_count") == 6);
  CHECK(sample(m, "sluice_command_duration_seconds_bucket{le=\"+Inf\"}") == 6);
  CHECK(sample(m, "sluice_command_duration_seconds_bucket{le=\"10\"}") == 6);
  CHECK(sample(m, "sluice_command_duration_seconds_sum") > 0);
  CHECK(sample(m, "sluice_log_position") == 5);
  CHECK(sample(m, "sluice_view_position{view=\"account_balance\"}") == 5);
  CHECK(sample(m, "sluice_log_sync_duration_seconds_count") == sample(m, "sluice_log_syncs_total"));
  CHECK(sample(m, "sluice_ws_sessions") >= 1);
  CHECK(sample(m, "sluice_ws_messages_sent_total") >= 6); // subscribed + five changes
  CHECK(sample(m, "sluice_command_bus_depth") == 0);
  // Buckets are cumulative: never decreasing.
  double last = 0;
  for (size_t at = 0; (at = m.find("sluice_command_duration_seconds_bucket{", at)) != std::string::npos; ++at) {
    double v = std::stod(m.substr(m.find("} ", at) + 2));
    CHECK(v >= last);
    last = v;
  }
}

TEST_CASE("a message over the size limit is closed with 1009, however large", "[http][stream]") {
  fixture f;
  for (size_t size : {size_t{65 << 10}, size_t{1} << 20, size_t{4} << 20}) {
    INFO(size << " bytes");
    ws_client ws(f.server->port());
    CHECK(ws.send_and_await_close(std::string(size, 'x')) == 1009);
  }
  // The server goes on.
  ws_client ws(f.server->port());
  ws.send(R"({"op":"ping"})");
  CHECK(ws.receive() == R"({"type":"pong"})");
}

TEST_CASE("a from_position no integer holds is an error under the subscription's id", "[http][stream]") {
  fixture f;
  ws_client ws(f.server->port());
  ws.send(R"({"op":"subscribe","id":"s9","events":true,"from_position":18446744073709551616})");
  auto e = ws.receive();
  INFO(e);
  CHECK(field(e, "type") == "error");
  CHECK(field(e, "id") == "s9");
  CHECK(field(e, "code") == "bad_request");
  CHECK_THAT(field(e, "message"), Catch::Contains("from_position"));
  ws.send(R"({"op":"subscribe","id":"s8","events":true,"from_position":1e400})");
  e = ws.receive();
  CHECK(field(e, "id") == "s8");
  CHECK_THAT(field(e, "message"), Catch::Contains("from_position"));
  // Malformed JSON has no id to answer under.
  ws.send(R"({"op":"subscribe","id":"s7",)");
  e = ws.receive();
  CHECK(field(e, "id") == "null");
  CHECK_THAT(field(e, "message"), Catch::Contains("malformed JSON"));
}
