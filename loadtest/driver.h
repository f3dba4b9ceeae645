// sluice-load: named workloads against a running sluice server.
//
//   ingest     single-command POSTs to /v1/commands
//   batch      NDJSON batches of --batch-size commands to /v1/commands/batch
//   query      view reads, GET /v1/views/{view}/{key}
//   subscribe  --subscribers WebSocket subscribers to every key of the views
//              while --connections drive single commands to make changes
//   mixed      commands, queries and subscribers at once
//   e2e        commands, and the latency from each acknowledgement to the
//              WebSocket change that carries its position
//   transfers  random transfers among the run's accounts (SPEC §13), and
//              the latency from each acknowledgement to the transfer's end
//
// Commands are account deposits and order line additions (--mix) on
// aggregates created, under ids unique to the run, before the clock starts;
// or, with --template, the commands of any domain (command_template.h) for
// ingest and batch.
#pragma once

#include "command_template.h"
#include "report.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::load {

enum class workload { ingest, batch, create, query, subscribe, mixed, e2e, transfers };

struct workload_info {
  workload kind;
  std::string_view name;
  std::string_view what;
};

inline constexpr workload_info k_workloads[] = {
    {workload::ingest, "ingest", "single-command POSTs"},
    {workload::batch, "batch", "NDJSON batches of --batch-size commands"},
    {workload::create, "create", "NDJSON batches in which every order is new: its create, then --items add_item"},
    {workload::query, "query", "view reads"},
    {workload::subscribe, "subscribe", "WebSocket subscribers to every key, fed by single commands"},
    {workload::mixed, "mixed", "commands, queries and subscribers at once"},
    {workload::e2e, "e2e", "latency from a command's acknowledgement to its WebSocket change"},
    {workload::transfers, "transfers",
     "NDJSON batches of --batch-size transfers among --aggregates accounts; latency from acknowledgement to end"},
};

std::optional<workload> parse_workload(std::string_view name);

struct options {
  std::string url = "http://127.0.0.1:8080";
  std::string token;   ///< bearer token sent with every request and upgrade (SPEC §11); empty: none
  std::string ca_file; ///< https://: verify the server's certificate against it; empty: no verification
  workload kind = workload::ingest;
  unsigned connections = 64;       // command connections (query connections for `query`)
  unsigned query_connections = 16; // `mixed` only
  unsigned subscribers = 4;        // `subscribe`, `mixed` and `e2e`
  unsigned threads = 2;
  unsigned pipeline = 1; // requests in flight per connection
  unsigned batch_size = 100;
  unsigned items = 2;           // `create`: add_item commands per new order
  double duration = 10;         // seconds measured, after the warm-up
  uint64_t count = 0;           // if set: send this many requests, no warm-up
  double rate = 0;              // requests/s per kind, open loop; 0: closed loop
  double zipf = 0;              // key skew; 0: uniform
  uint64_t aggregates = 10'000; // per domain in the mix
  unsigned orders_weight = 0;   // --mix orders:accounts
  unsigned accounts_weight = 1;
  double warmup = 1; // seconds not measured
  bool setup = true; // create the aggregates first
  bool verify = false;
  bool progress = true; // a line each second on stderr
  std::string run_id;   // random if empty
  /// ingest and batch: commands of this template instead of the built-in domain's.
  std::shared_ptr<const command_template> tmpl = {};
  /// When set and it turns true (e.g. on Ctrl-C), the run stops early and
  /// reports what it measured so far.
  const std::atomic<bool>* interrupt = nullptr;
};

/// Runs the workload and returns what it measured. Throws std::runtime_error
/// when the run cannot start (bad URL, server unreachable, setup failed).
report run(const options& opt);

} // namespace sluice::load
