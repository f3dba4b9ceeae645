#include "report.h"

#include "codec/json_writer.h"

#include <fmt/format.h>

namespace sluice::load {

namespace {

constexpr double k_percentiles[] = {50, 90, 99, 99.9};

double per_second(uint64_t n, double seconds) { return seconds > 0 ? static_cast<double>(n) / seconds : 0.0; }

void latency_line(std::string& out, const char* label, const histogram& h) {
  fmt::format_to(std::back_inserter(out), "  {:<10} p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  (n={})\n", label,
                 format_duration(h.percentile(50)), format_duration(h.percentile(90)),
                 format_duration(h.percentile(99)), format_duration(h.percentile(99.9)), format_duration(h.max()),
                 h.count());
}

void json_number(codec::json_writer& w, const char* k, double v) { w.key(k).raw(fmt::format("{:.3f}", v)); }

void json_latency(codec::json_writer& w, const char* k, const histogram& h) {
  w.key(k).begin_object();
  w.key("count").uinteger(h.count());
  for (double p : k_percentiles)
    json_number(w, fmt::format("p{}_ms", p).c_str(), static_cast<double>(h.percentile(p)) / 1e6);
  json_number(w, "max_ms", static_cast<double>(h.max()) / 1e6);
  json_number(w, "mean_ms", h.mean() / 1e6);
  w.end_object();
}

void json_counts(codec::json_writer& w, const char* k, const std::map<std::string, uint64_t>& m) {
  w.key(k).begin_object();
  for (auto& [name, n] : m)
    w.key(name).uinteger(n); // names are the driver's own ("503 overloaded")
  w.end_object();
}

// The whole distribution, for plots: [percentile, ms] pairs.
void json_latency_distribution(codec::json_writer& w, const histogram& h) {
  w.key("latency_distribution").begin_array();
  for (double p : {0.0,  1.0,  5.0,  10.0, 20.0, 30.0, 40.0, 50.0, 60.0,  70.0,  75.0,
                   80.0, 85.0, 90.0, 95.0, 97.5, 99.0, 99.5, 99.9, 99.95, 99.99, 100.0}) {
    w.begin_array();
    w.raw(fmt::format("{}", p));
    w.raw(fmt::format("{:.4f}", static_cast<double>(p == 100.0 ? h.max() : h.percentile(p)) / 1e6));
    w.end_array();
  }
  w.end_array();
}

void json_section(codec::json_writer& w, const section& s, double seconds) {
  w.begin_object();
  w.key("name").string(s.name);
  w.key("requests").uinteger(s.requests);
  w.key("ok").uinteger(s.ok);
  w.key("commands").uinteger(s.items);
  w.key("commands_ok").uinteger(s.items_ok);
  json_number(w, "requests_per_second", per_second(s.requests, seconds));
  json_number(w, "commands_per_second", per_second(s.items, seconds));
  json_latency(w, "latency", s.latency);
  json_latency_distribution(w, s.latency);
  json_counts(w, "errors", s.errors);
  w.end_object();
}

void json_websocket(codec::json_writer& w, const report& r) {
  w.key("websocket").begin_object();
  w.key("subscribers").uinteger(r.subscribers);
  w.key("messages").uinteger(r.ws_messages);
  json_number(w, "messages_per_second", per_second(r.ws_messages, r.seconds));
  json_counts(w, "errors", r.ws_errors);
  w.end_object();
}

void json_series(codec::json_writer& w, const std::vector<point>& series) {
  w.key("series").begin_array();
  for (auto& p : series) {
    w.begin_object();
    json_number(w, "t", p.t);
    w.key("section").string(p.section).key("requests").uinteger(p.requests).key("commands").uinteger(p.items);
    json_number(w, "p50_ms", static_cast<double>(p.p50_ns) / 1e6);
    json_number(w, "p99_ms", static_cast<double>(p.p99_ns) / 1e6);
    w.end_object();
  }
  w.end_array();
}

void json_verify(codec::json_writer& w, const verify_result& v) {
  w.key("verify").begin_object();
  w.key("ok").boolean(v.ok);
  w.key("acks_checked").uinteger(v.acks_checked);
  w.key("events_scanned").uinteger(v.events_scanned);
  w.key("views_checked").uinteger(v.views_checked);
  w.key("views_skipped").uinteger(v.views_skipped);
  w.key("problem_count").uinteger(v.problem_count);
  w.key("problems").begin_array();
  for (auto& p : v.problems)
    w.string(p);
  w.end_array();
  w.end_object();
}

} // namespace

void section::merge(const section& o) {
  requests += o.requests;
  ok += o.ok;
  items += o.items;
  items_ok += o.items_ok;
  latency.merge(o.latency);
  for (auto& [k, n] : o.errors)
    errors[k] += n;
}

bool report::clean() const {
  for (auto& s : sections)
    if (!s.errors.empty())
      return false;
  return unanswered == 0 && ws_errors.empty() && (!verify.ran || verify.ok);
}

std::string format_duration(uint64_t ns) {
  if (ns < 1'000)
    return fmt::format("{} ns", ns);
  if (ns < 1'000'000)
    return fmt::format("{:.1f} us", static_cast<double>(ns) / 1e3);
  if (ns < 1'000'000'000)
    return fmt::format("{:.2f} ms", static_cast<double>(ns) / 1e6);
  return fmt::format("{:.2f} s", static_cast<double>(ns) / 1e9);
}

std::string render_text(const report& r) {
  std::string out;
  auto o = std::back_inserter(out);
  fmt::format_to(o, "sluice-load {} against {} (run {})\n", r.workload, r.url, r.run_id);
  fmt::format_to(o, "  {} connections, pipeline {}, {}, measured {:.2f} s\n", r.connections, r.pipeline,
                 r.target_rate > 0 ? fmt::format("open loop at {:.0f} req/s", r.target_rate) : "closed loop",
                 r.seconds);
  for (auto& s : r.sections) {
    if (s.requests == 0 && s.errors.empty())
      continue;
    fmt::format_to(o, "{}: {} requests, {:.0f} req/s, {} answered 200", s.name, s.requests,
                   per_second(s.requests, r.seconds), s.ok);
    if (s.items && s.items != s.requests)
      fmt::format_to(o, "; {} commands, {:.0f} commands/s, {} ok", s.items, per_second(s.items, r.seconds), s.items_ok);
    out.push_back('\n');
    latency_line(out, "latency", s.latency);
    for (auto& [k, n] : s.errors)
      fmt::format_to(o, "  error {}: {}\n", k, n);
  }
  if (r.unanswered)
    fmt::format_to(o, "unanswered requests: {}\n", r.unanswered);
  if (r.subscribers) {
    fmt::format_to(o, "websocket: {} subscribers, {} messages, {:.0f} msg/s\n", r.subscribers, r.ws_messages,
                   per_second(r.ws_messages, r.seconds));
    for (auto& [k, n] : r.ws_errors)
      fmt::format_to(o, "  error {}: {}\n", k, n);
  }
  if (!r.outcomes.empty()) {
    uint64_t ended = 0;
    for (auto& [k, n] : r.outcomes)
      ended += n;
    fmt::format_to(o, "ended: {} transfers, {:.0f}/s end to end\n", ended, per_second(ended, r.outcome_seconds));
    for (auto& [k, n] : r.outcomes)
      fmt::format_to(o, "  {}: {}\n", k, n);
  }
  if (r.e2e) {
    fmt::format_to(o, "{}: {} matched, {} unmatched ({})\n", r.e2e_label, r.e2e_latency.count(), r.e2e_unmatched,
                   r.outcomes.empty() ? "conflated or lost" : "not ended");
    latency_line(out, "e2e", r.e2e_latency);
  }
  if (r.verify.ran) {
    fmt::format_to(o, "verify: {} — {} acknowledged commands found in {} events, ", r.verify.ok ? "OK" : "FAILED",
                   r.verify.acks_checked, r.verify.events_scanned);
    if (r.verify.views_checked + r.verify.views_skipped == 0)
      fmt::format_to(o, "views not checked\n");
    else
      fmt::format_to(o, "{} views agree ({} skipped)\n", r.verify.views_checked, r.verify.views_skipped);
    for (auto& p : r.verify.problems)
      fmt::format_to(o, "  {}\n", p);
    if (r.verify.problem_count > r.verify.problems.size())
      fmt::format_to(o, "  … and {} more\n", r.verify.problem_count - r.verify.problems.size());
  }
  return out;
}

std::string render_json(const report& r) {
  std::string out;
  codec::json_writer w(out);
  w.begin_object();
  w.key("workload").string(r.workload);
  w.key("url").string(r.url);
  w.key("run_id").string(r.run_id);
  w.key("connections").uinteger(r.connections);
  w.key("pipeline").uinteger(r.pipeline);
  json_number(w, "target_rate", r.target_rate);
  json_number(w, "seconds", r.seconds);
  w.key("sections").begin_array();
  for (auto& s : r.sections)
    json_section(w, s, r.seconds);
  w.end_array();
  w.key("unanswered").uinteger(r.unanswered);
  json_websocket(w, r);
  if (r.e2e) {
    json_latency(w, "e2e", r.e2e_latency);
    w.key("e2e_unmatched").uinteger(r.e2e_unmatched);
  }
  if (!r.outcomes.empty()) {
    uint64_t ended = 0;
    for (auto& [k, n] : r.outcomes)
      ended += n;
    json_number(w, "ended_per_second", per_second(ended, r.outcome_seconds));
    json_counts(w, "outcomes", r.outcomes);
  }
  json_series(w, r.series);
  if (r.verify.ran)
    json_verify(w, r.verify);
  w.key("clean").boolean(r.clean());
  w.end_object();
  out.push_back('\n');
  return out;
}

} // namespace sluice::load
