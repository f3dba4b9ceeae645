#include "http/prometheus.h"

#include <fmt/format.h>

namespace sluice::http {

std::string render_metrics(const engine::metrics& m) {
  std::string out;
  auto counter = [&](std::string_view name, std::string_view help) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} counter\n", name, help, name);
  };
  auto gauge = [&](std::string_view name, std::string_view help, uint64_t v) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, v);
  };
  counter("sluice_commands_total", "Commands answered, by result.");
  for (auto [result, v] : {std::pair<const char*, uint64_t>{"ok", m.commands_ok},
                           {"rejected", m.commands_rejected},
                           {"conflict", m.commands_conflict},
                           {"invalid", m.commands_invalid},
                           {"duplicate", m.commands_duplicate},
                           {"overloaded", m.commands_overloaded}})
    fmt::format_to(std::back_inserter(out), "sluice_commands_total{{result=\"{}\"}} {}\n", result, v);
  counter("sluice_events_appended_total", "Events made durable in the event log.");
  fmt::format_to(std::back_inserter(out), "sluice_events_appended_total {}\n", m.events_appended);
  counter("sluice_log_syncs_total", "fdatasync calls of the event log (one per group commit).");
  fmt::format_to(std::back_inserter(out), "sluice_log_syncs_total {}\n", m.log_syncs);
  gauge("sluice_log_position", "Position of the last durable event.", m.log_position);
  gauge("sluice_aggregates_live", "Aggregates with a live actor.", m.aggregates_live);
  gauge("sluice_commands_in_flight", "Commands accepted for processing and not yet answered.", m.in_flight);
  return out;
}

} // namespace sluice::http
