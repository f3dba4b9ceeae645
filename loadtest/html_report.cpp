#include "html_report.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace sluice::load {

namespace {

constexpr const char* k_colors[] = {"#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#5d4037"};

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

struct line {
  std::string name;
  std::vector<std::pair<double, double>> xy;
};

struct run_data {
  std::string label;
  std::string workload, url, section;
  double seconds = 0, rate = 0, p50 = 0, p99 = 0, p999 = 0, max = 0;
  uint64_t requests = 0, errors = 0;
  std::vector<std::pair<double, double>> throughput, p50_t, p99_t, distribution;
};

std::string fmt_num(double v) {
  if (v >= 1e6)
    return fmt::format("{:.1f}M", v / 1e6);
  if (v >= 1e3)
    return fmt::format("{:.1f}k", v / 1e3);
  if (v >= 10 || v == 0)
    return fmt::format("{:.0f}", v);
  return fmt::format("{:.2f}", v);
}

// The frame of a chart: its size in SVG units, the ranges its axes show and the mapping of data onto it.
struct chart_frame {
  static constexpr double w = 640, h = 260, left = 60, right = 20, top = 28, bottom = 40;
  bool log_x = false;
  double x0 = std::numeric_limits<double>::max(), x1 = std::numeric_limits<double>::lowest(), y1 = 0;

  double tx(double x) const { return log_x ? -std::log10(std::max(1e-3, 100.0 - std::min(x, 99.999))) : x; }
  double px(double x) const { return left + (tx(x) - x0) / (x1 - x0) * (w - left - right); }
  double py(double y) const { return h - bottom - y / y1 * (h - top - bottom); }

  void fit(const std::vector<line>& lines) {
    for (auto& l : lines)
      for (auto [x, y] : l.xy) {
        x0 = std::min(x0, tx(x));
        x1 = std::max(x1, tx(x));
        y1 = std::max(y1, y);
      }
    if (x0 > x1) {
      x0 = 0;
      x1 = 1;
    }
    if (x1 == x0)
      x1 = x0 + 1;
    y1 = y1 > 0 ? y1 * 1.1 : 1;
  }

  std::string y_grid() const {
    std::string out;
    for (int i = 0; i <= 4; ++i) {
      double y = y1 * i / 4;
      out +=
          fmt::format(R"(<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}" class="grid"/>)", left, w - right, py(y), py(y));
      out += fmt::format(R"(<text x="{}" y="{:.1f}" class="tick" text-anchor="end">{}</text>)", left - 6, py(y) + 4,
                         fmt_num(y));
    }
    return out;
  }

  std::string x_ticks() const {
    std::string out;
    if (log_x) {
      for (double p : {0.0, 90.0, 99.0, 99.9, 99.99})
        if (tx(p) >= x0 && tx(p) <= x1)
          out += fmt::format(R"(<text x="{:.1f}" y="{}" class="tick" text-anchor="middle">{}</text>)", px(p),
                             h - bottom + 16, p);
    } else {
      for (int i = 0; i <= 4; ++i) {
        double x = x0 + (x1 - x0) * i / 4;
        out += fmt::format(R"(<text x="{:.1f}" y="{}" class="tick" text-anchor="middle">{}</text>)", px(x),
                           h - bottom + 16, fmt_num(x));
      }
    }
    return out;
  }

  std::string axis_labels(std::string_view x_label, std::string_view y_label) const {
    std::string out = fmt::format(R"(<text x="{}" y="{}" class="axis" text-anchor="middle">{}</text>)",
                                  (left + w - right) / 2, h - 6, escape(x_label));
    out += fmt::format(
        R"~(<text x="12" y="{}" class="axis" transform="rotate(-90 12 {})" text-anchor="middle">{}</text>)~",
        (top + h - bottom) / 2, (top + h - bottom) / 2, escape(y_label));
    return out;
  }

  std::string polylines(const std::vector<line>& lines) const {
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
      std::string pts;
      for (auto [x, y] : lines[i].xy)
        pts += fmt::format("{:.1f},{:.1f} ", px(x), py(y));
      out += fmt::format(
          R"(<polyline class="series" fill="none" stroke="{}" stroke-width="1.8" points="{}"><title>{}</title></polyline>)",
          k_colors[i % std::size(k_colors)], pts, escape(lines[i].name));
    }
    return out;
  }
};

// A line chart as inline SVG; `log_x` spaces x as -log10(100 - p) (percentiles).
std::string svg_chart(std::string_view id, std::string_view title, std::string_view x_label, std::string_view y_label,
                      const std::vector<line>& lines, bool log_x = false) {
  chart_frame f{log_x};
  f.fit(lines);
  std::string out = fmt::format(R"(<svg id="{}" class="chart" viewBox="0 0 {} {}" width="{}" height="{}" role="img">)",
                                id, f.w, f.h, f.w, f.h);
  out += fmt::format(R"(<text x="{}" y="18" class="title">{}</text>)", f.left, escape(title));
  out += f.y_grid();
  out += f.x_ticks();
  out += f.axis_labels(x_label, y_label);
  out += f.polylines(lines);
  out += "</svg><div class=\"legend\">";
  for (size_t i = 0; i < lines.size(); ++i)
    out += fmt::format(R"(<span><span class="swatch" style="background:{}"></span>{}</span> )",
                       k_colors[i % std::size(k_colors)], escape(lines[i].name));
  return "<figure>" + out + "</div></figure>";
}

// The figures of the run's main section.
void read_main_section(simdjson::dom::element main, run_data& r) {
  std::string_view sv;
  if (!main["name"].get(sv))
    r.section = sv;
  double v = 0;
  if (!main["commands_per_second"].get(v))
    r.rate = v;
  // A figure a report lacks stays 0.
  auto lat = main["latency"];
  for (auto [name, to] : {std::pair<const char*, double*>{"p50_ms", &r.p50},
                          {"p99_ms", &r.p99},
                          {"p99.9_ms", &r.p999},
                          {"max_ms", &r.max}})
    if (lat[name].get(*to))
      *to = 0;
  simdjson::dom::object errors;
  if (!main["errors"].get(errors))
    for (auto [k, n] : errors)
      r.errors += n.get_uint64().value_unsafe();
  simdjson::dom::array dist;
  if (!main["latency_distribution"].get(dist))
    for (simdjson::dom::element pair : dist) {
      simdjson::dom::array a;
      double p = 0, ms = 0;
      if (!pair.get(a) && a.size() == 2 && !a.at(0).get(p) && !a.at(1).get(ms))
        r.distribution.emplace_back(p, ms);
    }
}

// The per-second points of the run's main section (r.section).
void read_series(simdjson::dom::element doc, run_data& r) {
  std::string_view sv;
  simdjson::dom::array series;
  if (!doc["series"].get(series))
    for (simdjson::dom::element p : series) {
      double t = 0, p50 = 0, p99 = 0;
      uint64_t commands = 0;
      if (p["section"].get(sv) || sv != r.section || p["t"].get(t) || p["commands"].get(commands))
        continue;
      r.throughput.emplace_back(t, static_cast<double>(commands));
      if (!p["p50_ms"].get(p50) && !p["p99_ms"].get(p99) && p99 > 0) {
        r.p50_t.emplace_back(t, p50);
        r.p99_t.emplace_back(t, p99);
      }
    }
}

std::expected<run_data, std::string> parse(const std::string& label, const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto e = parser.parse(json).get(doc))
    return std::unexpected(fmt::format("{}: not JSON: {}", label, simdjson::error_message(e)));
  run_data r;
  r.label = label;
  std::string_view sv;
  simdjson::dom::array sections;
  if (doc["workload"].get(sv) || doc["sections"].get(sections) || doc["seconds"].get(r.seconds))
    return std::unexpected(fmt::format("{}: not a sluice-load --json report (workload, sections, seconds)", label));
  r.workload = sv;
  if (!doc["url"].get(sv))
    r.url = sv;
  // The run's main section: the one with the most requests.
  simdjson::dom::element main;
  uint64_t most = 0;
  bool found = false;
  for (simdjson::dom::element s : sections) {
    uint64_t n = 0;
    if (!s["requests"].get(n) && (!found || n > most)) {
      main = s;
      most = n;
      found = true;
    }
  }
  if (found) {
    r.requests = most;
    read_main_section(main, r);
  }
  double ended = 0;
  if (!doc["ended_per_second"].get(ended)) { // transfers: what ended end to end is the rate
    r.rate = ended;
    r.section = "ended";
  }
  read_series(doc, r);
  return r;
}

} // namespace

std::expected<std::string, std::string> html_report(const std::vector<std::pair<std::string, std::string>>& runs) {
  std::vector<run_data> data;
  for (auto& [label, json] : runs) {
    auto r = parse(label, json);
    if (!r)
      return std::unexpected(r.error());
    data.push_back(std::move(*r));
  }
  std::vector<line> throughput, latency, distribution;
  for (auto& r : data) {
    throughput.push_back({r.label, r.throughput});
    if (!r.p99_t.empty()) {
      latency.push_back({r.label + " p50", r.p50_t});
      latency.push_back({r.label + " p99", r.p99_t});
    }
    if (!r.distribution.empty())
      distribution.push_back({r.label, r.distribution});
  }
  std::string out = R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sluice-load report</title>
<style>
 body { font: 14px/1.4 system-ui, sans-serif; margin: 20px; color: #1d2430; }
 table { border-collapse: collapse; margin: 10px 0 20px; }
 th, td { padding: 4px 10px; border-bottom: 1px solid #e1e4ea; text-align: left; }
 td.n { text-align: right; font-variant-numeric: tabular-nums; }
 .charts { display: flex; flex-wrap: wrap; gap: 16px; }
 svg.chart { border: 1px solid #e1e4ea; border-radius: 6px; background: #fff; }
 svg .grid { stroke: #e1e4ea; } svg .tick, svg .axis { font-size: 11px; fill: #6b7483; } svg .title { font-size: 13px; font-weight: 600; }
 figure { margin: 0; } .legend { font-size: 12px; margin: 4px 0 0 8px; } .legend > span { margin-right: 12px; }
 .swatch { display: inline-block; width: 12px; height: 3px; vertical-align: middle; margin-right: 6px; }
</style></head><body>
<h1>sluice-load report</h1>
<table id="runs"><thead><tr><th>run</th><th>workload</th><th>against</th><th>measured</th><th>rate</th><th>p50</th><th>p99</th><th>p99.9</th><th>max</th><th>errors</th></tr></thead><tbody>
)";
  for (size_t i = 0; i < data.size(); ++i) {
    auto& r = data[i];
    out += fmt::format(
        R"(<tr><td><span class="swatch" style="background:{}"></span>{}</td><td>{}</td><td>{}</td><td class="n">{:.1f} s</td><td class="n">{}/s {}</td><td class="n">{:.2f} ms</td><td class="n">{:.2f} ms</td><td class="n">{:.2f} ms</td><td class="n">{:.2f} ms</td><td class="n">{}</td></tr>)"
        "\n",
        k_colors[i % std::size(k_colors)], escape(r.label), escape(r.workload), escape(r.url), r.seconds,
        fmt_num(r.rate), r.section == "ended" ? "transfers ended" : "commands", r.p50, r.p99, r.p999, r.max, r.errors);
  }
  out += "</tbody></table>\n<div class=\"charts\">\n";
  out += svg_chart("throughput", "Throughput over time", "seconds", "per second", throughput) + "\n";
  out += svg_chart("latency", "Latency percentiles over time (each second)", "seconds", "ms", latency) + "\n";
  out += svg_chart("distribution", "Latency distribution (whole run)", "percentile", "ms", distribution, true) + "\n";
  out +=
      "</div>\n<p>Made by <code>sluice-load report</code> from the JSON reports of <code>sluice-load "
      "--json</code>.</p>\n";
  out += "</body></html>\n";
  return out;
}

} // namespace sluice::load
