// What a run of sluice-load measured, and how it is printed.
#pragma once

#include "histogram.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sluice::load {

/// One kind of HTTP request: its answers, their latency and their errors.
struct section {
  std::string name;                       // "commands", "batches" or "queries"
  uint64_t requests = 0;                  // answered requests
  uint64_t ok = 0;                        // answered with 200
  uint64_t items = 0;                     // commands carried (batch lines; 1 per command POST)
  uint64_t items_ok = 0;                  // commands answered with status 200
  histogram latency;                      // nanoseconds, from the intended send time
  std::map<std::string, uint64_t> errors; // "503 overloaded" → count

  void merge(const section& other);
};

struct verify_result {
  bool ran = false;
  bool ok = false;
  uint64_t acks_checked = 0;         // acknowledged commands looked up in the log
  uint64_t events_scanned = 0;       // events of the log read back
  uint64_t views_checked = 0;        // view rows compared with what was sent
  uint64_t views_skipped = 0;        // rows with a command of unknown outcome
  std::vector<std::string> problems; // the first few, for the report
  uint64_t problem_count = 0;
};

/// One second of a run, for the plots of `sluice-load report`.
struct point {
  double t = 0;          // seconds since the run's clock started
  std::string section;   // a section's name ("commands", "batches", "queries", "ended")
  uint64_t requests = 0; // answered in that second
  uint64_t items = 0;    // commands carried
  uint64_t p50_ns = 0, p99_ns = 0;
};

struct report {
  std::string workload;
  std::string url;
  std::string run_id;
  unsigned connections = 0;
  unsigned pipeline = 0;
  double target_rate = 0; // 0: closed loop
  double seconds = 0;     // the measured window
  std::vector<section> sections;
  uint64_t unanswered = 0; // requests in flight when a connection failed or the run ended

  unsigned subscribers = 0;
  uint64_t ws_messages = 0;
  std::map<std::string, uint64_t> ws_errors;

  bool e2e = false;
  std::string e2e_label = "ack -> change";
  histogram e2e_latency; // nanoseconds, acknowledgement → change received
  uint64_t e2e_unmatched = 0;

  /// transfers: how the acknowledged ones ended ("completed", "failed <reason>").
  std::map<std::string, uint64_t> outcomes;
  double outcome_seconds = 0; // from the first request to the last end

  verify_result verify;

  std::vector<point> series; // per second, in order

  /// True when nothing went wrong that a user should look at.
  bool clean() const;
};

std::string render_text(const report& r);
std::string render_json(const report& r);

/// "1.23 ms" and the like, for a nanosecond value.
std::string format_duration(uint64_t ns);

} // namespace sluice::load
