// `sluice-load report`: one self-contained HTML page (inline SVG, no
// scripts, nothing fetched) from the JSON reports of several runs, side by
// side: throughput and latency percentiles over time, the latency
// distribution, and a table of the runs.
#pragma once

#include <expected>
#include <string>
#include <utility>
#include <vector>

namespace sluice::load {

/// `runs`: (label, the text of a `--json` report) in the order to show
/// them. An error names the run that is not a report.
std::expected<std::string, std::string> html_report(const std::vector<std::pair<std::string, std::string>>& runs);

} // namespace sluice::load
