// The flag tables (app/flags.h): what CLI11 makes of them, and the flag
// list of docs/operations.md, which must be what they say.
#include "app/flags.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace sluice::app;

namespace {

// Parses `args` as serve's command line; the CLI11 error, or empty.
std::string parse_serve(std::vector<std::string> args, log_flags& l, serve_flags& s) {
  CLI::App app;
  add_flags(&app, serve_table(l, s));
  std::vector<const char*> argv{"serve"};
  for (auto& a : args)
    argv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), const_cast<char**>(argv.data()));
  } catch (const CLI::ParseError& e) {
    return e.what();
  }
  return {};
}

std::string docs_section(const std::string& begin, const std::string& end) {
  std::ifstream in(std::string(SLUICE_SOURCE_DIR) + "/docs/operations.md");
  std::stringstream text;
  text << in.rdbuf();
  auto all = text.str();
  auto from = all.find(begin);
  auto to = all.find(end);
  if (from == std::string::npos || to == std::string::npos || to < from)
    return "(markers not found)";
  from = all.find('\n', from) + 1;
  return all.substr(from, to - from);
}

} // namespace

TEST_CASE("the table's defaults are what serve runs with when nothing is given") {
  log_flags l;
  serve_flags s;
  REQUIRE(parse_serve({}, l, s).empty());
  CHECK(l.data == "./data");
  CHECK(l.durability == "fsync");
  CHECK(s.listen == "127.0.0.1:8080");
  CHECK(s.io_threads == 2);
  CHECK(s.segment_bytes == 64ull << 20);
  CHECK(s.limits.body_memory_bytes == 512ull << 20);
  CHECK(s.limits.header_bytes == 16u << 10);
  CHECK(s.passivate_after == "60s");
  CHECK(s.retain_bytes == 0);
  CHECK_FALSE(s.no_snapshots);
}

TEST_CASE("numbers are bounded and sizes take units") {
  log_flags l;
  serve_flags s;
  REQUIRE(parse_serve({"--segment-bytes", "1M", "--max-body-bytes", "2KiB", "--threads", "3"}, l, s).empty());
  CHECK(s.segment_bytes == 1u << 20);
  CHECK(s.limits.command_body_bytes == 2048);
  CHECK(s.threads == 3);

  auto err = parse_serve({"--threads", "-1"}, l, s);
  CHECK_THAT(err, Catch::Contains("--threads") && Catch::Contains("not an integer from 0 to 1024"));
  CHECK_THAT(parse_serve({"--snapshot-every", "5000000000"}, l, s), Catch::Contains("--snapshot-every"));
  CHECK_THAT(parse_serve({"--segment-bytes", "12"}, l, s), Catch::Contains("not a size from 4096"));
  CHECK_THAT(parse_serve({"--passivate-after", "soon"}, l, s), Catch::Contains("not a duration"));
  CHECK_THAT(parse_serve({"--durability", "maybe"}, l, s), Catch::Contains("--durability"));
}

TEST_CASE("every numeric flag of every table has bounds") {
  log_flags l;
  serve_flags s;
  events_flags e;
  for (auto rows : {serve_table(l, s), events_table(l, e)})
    for (auto& f : rows)
      if (f.type == flag::kind::number || f.type == flag::kind::size) {
        INFO(f.name);
        CHECK(f.hi > 0);
        CHECK(f.lo <= f.hi);
      }
}

TEST_CASE("each flag's variable is SLUICE_ and its name") {
  log_flags l;
  serve_flags s;
  auto rows = serve_table(l, s);
  auto it = std::ranges::find_if(rows, [](auto& f) { return f.name == "max-in-flight-bytes"; });
  REQUIRE(it != rows.end());
  CHECK(it->env_name() == "SLUICE_MAX_IN_FLIGHT_BYTES");
  views_cli_options v;
  auto views = views_table("list", v);
  auto token = std::ranges::find_if(views, [](auto& f) { return f.name == "token"; });
  REQUIRE(token != views.end());
  CHECK(token->env_name() == "SLUICE_TOKEN");
}

TEST_CASE("docs/operations.md lists exactly the flags of the tables") {
  auto docs = docs_section("<!-- flags: begin", "<!-- flags: end");
  auto tables = flags_reference();
  bool same = docs == tables;
  if (!same)
    std::ofstream("flags_reference.md") << tables; // the text to paste between the markers
  INFO(
      "docs/operations.md's flag list differs from src/app/flags.cpp; the tables' text is in "
      "flags_reference.md of the test's working directory");
  CHECK(same);
}
