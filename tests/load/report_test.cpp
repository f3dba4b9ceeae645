#include "report.h"
#include "html_report.h"
#include "response_reader.h"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <cstring>

using namespace sluice::load;

namespace {

void feed(response_reader& r, std::string_view bytes) {
  std::memcpy(r.prepare(bytes.size()), bytes.data(), bytes.size());
  r.commit(bytes.size());
}

} // namespace

TEST_CASE("response reader: pipelined answers split at every byte") {
  std::string two =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"
      "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 2\r\nConnection: close\r\n\r\n{}";
  for (size_t cut = 0; cut <= two.size(); ++cut) {
    response_reader r;
    response res;
    std::vector<std::pair<int, std::string>> got;
    feed(r, std::string_view(two).substr(0, cut));
    while (r.next(res) == response_reader::result::complete)
      got.emplace_back(res.status, std::string(res.body));
    feed(r, std::string_view(two).substr(cut));
    response_reader::result last;
    while ((last = r.next(res)) == response_reader::result::complete) {
      got.emplace_back(res.status, std::string(res.body));
      if (res.status == 503)
        CHECK_FALSE(res.keep_alive);
    }
    CHECK(last == response_reader::result::need_more);
    REQUIRE(got.size() == 2);
    CHECK(got[0] == std::pair<int, std::string>{200, "{\"ok\":true}"});
    CHECK(got[1] == std::pair<int, std::string>{503, "{}"});
  }
}

TEST_CASE("response reader: what it cannot frame is an error, not a guess") {
  for (std::string_view bad :
       {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n", "SMTP ready\r\n\r\n",
        "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n"}) {
    response_reader r;
    response res;
    feed(r, bad);
    CHECK(r.next(res) == response_reader::result::error);
    CHECK_FALSE(r.error().empty());
  }
  response_reader r;
  response res;
  feed(r, std::string(70'000, 'x'));
  CHECK(r.next(res) == response_reader::result::error);
}

TEST_CASE("report: text and JSON carry the numbers") {
  report r;
  r.workload = "ingest";
  r.url = "http://127.0.0.1:1";
  r.run_id = "r1";
  r.connections = 4;
  r.pipeline = 2;
  r.seconds = 2;
  section s;
  s.name = "commands";
  for (uint64_t v = 1; v <= 1000; ++v)
    s.latency.record(v * 1000); // 1 µs … 1 ms
  s.requests = s.items = 1000;
  s.ok = s.items_ok = 990;
  s.errors["503 overloaded"] = 10;
  r.sections.push_back(s);

  auto text = render_text(r);
  CHECK_THAT(text, Catch::Contains("1000 requests, 500 req/s, 990 answered 200"));
  CHECK_THAT(text, Catch::Contains("error 503 overloaded: 10"));
  CHECK_THAT(text, Catch::Contains("p50 500."));
  CHECK_THAT(text, Catch::Contains("max 1.00 ms"));
  CHECK_FALSE(r.clean());

  auto json = render_json(r);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE_FALSE(parser.parse(json).get(doc));
  CHECK(doc["workload"].get_string().value() == "ingest");
  auto sec = doc["sections"].at(0);
  CHECK(sec["requests"].get_uint64().value() == 1000);
  CHECK(sec["requests_per_second"].get_double().value() == 500.0);
  CHECK(sec["errors"]["503 overloaded"].get_uint64().value() == 10);
  CHECK(sec["latency"]["p99_ms"].get_double().value() == Approx(0.99).epsilon(0.01));
  CHECK(sec["latency"]["max_ms"].get_double().value() == 1.0);
  CHECK(doc["clean"].get_bool().value() == false);
  CHECK(doc["verify"].error() == simdjson::NO_SUCH_FIELD);

  r.sections[0].errors.clear();
  r.verify.ran = true;
  r.verify.ok = true;
  CHECK(r.clean());
  REQUIRE_FALSE(parser.parse(render_json(r)).get(doc));
  CHECK(doc["verify"]["ok"].get_bool().value());
  CHECK(doc["clean"].get_bool().value());
}

TEST_CASE("report: durations read naturally") {
  CHECK(format_duration(999) == "999 ns");
  CHECK(format_duration(1'500) == "1.5 us");
  CHECK(format_duration(2'340'000) == "2.34 ms");
  CHECK(format_duration(3'000'000'000) == "3.00 s");
}

namespace {

report sample_run(uint64_t base) {
  report r;
  r.workload = "batch";
  r.url = "http://127.0.0.1:8080";
  r.seconds = 3;
  section s;
  s.name = "batches";
  s.requests = 30;
  s.ok = 30;
  s.items = 3000 * base;
  s.items_ok = s.items;
  for (uint64_t i = 1; i <= 1000; ++i)
    s.latency.record(i * 1000 * base); // 1 µs … 1 ms × base
  r.sections.push_back(s);
  for (int t = 1; t <= 3; ++t)
    r.series.push_back({static_cast<double>(t), "batches", 10, 1000 * base, 500'000, 990'000});
  return r;
}

size_t count(const std::string& s, std::string_view what) {
  size_t n = 0;
  for (size_t at = 0; (at = s.find(what, at)) != std::string::npos; at += what.size())
    ++n;
  return n;
}

} // namespace

TEST_CASE("report: --json carries the per-second series and the distribution; report makes one page of runs",
          "[report]") {
  auto a = render_json(sample_run(1)), b = render_json(sample_run(2));
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  REQUIRE(p.parse(a).get(doc) == simdjson::SUCCESS);
  simdjson::dom::array series, dist;
  REQUIRE(doc["series"].get(series) == simdjson::SUCCESS);
  CHECK(series.size() == 3);
  REQUIRE(doc["sections"].at(0)["latency_distribution"].get(dist) == simdjson::SUCCESS);
  double p50 = 0, p100 = 0;
  for (simdjson::dom::element pair : dist) {
    double pct = pair.at(0).get_double().value(), ms = pair.at(1).get_double().value();
    if (pct == 50)
      p50 = ms;
    if (pct == 100)
      p100 = ms;
  }
  CHECK(p50 == Approx(0.5).epsilon(0.01));
  CHECK(p100 == Approx(1.0).epsilon(0.01));

  auto page = html_report({{"first", a}, {"second", b}});
  REQUIRE(page);
  CHECK(count(*page, "<svg ") == 3);
  CHECK(count(*page, "<polyline") == 2 + 4 + 2); // throughput, p50+p99, distribution: both runs each
  CHECK(page->find(">first</td>") != std::string::npos);
  CHECK(page->find(">second</td>") != std::string::npos);
  CHECK(page->find("<script") == std::string::npos); // nothing to run, nothing to fetch
  CHECK(page->find("http://127.0.0.1:8080") != std::string::npos);
  CHECK(page->find("src=") == std::string::npos);

  auto bad = html_report({{"first", a}, {"notes", R"({"hello":1})"}});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().find("notes") != std::string::npos);
  CHECK_FALSE(html_report({{"broken", "{"}}));
}
