#include "builtin/builtin.h"
#include "app/offline_engine.h"

#include "log/event_log.h"

#include "temp_dir.h"

#include <catch2/catch.hpp>

#include <sstream>

using namespace sluice;
using sluice::testing::temp_dir;

namespace {

std::vector<std::string> run(const std::filesystem::path& dir, const std::string& input, size_t chunk = 4096) {
  auto log = log::event_log::open({dir, log::durability::none});
  REQUIRE(log);
  auto engine = app::offline_engine::open(**log, builtin::model().types());
  REQUIRE(engine);
  std::istringstream in(input);
  std::ostringstream out;
  REQUIRE((*engine)->run(in, out, chunk));
  std::vector<std::string> lines;
  std::istringstream split(out.str());
  for (std::string l; std::getline(split, l);)
    lines.push_back(l);
  return lines;
}

const std::string k_session =
    R"({"type":"account.open","aggregate_id":"A","command_id":"c1","payload":{"owner":"Ada"}})"
    "\n\n"
    R"({"type":"account.deposit","aggregate_id":"A","command_id":"c2","payload":{"amount":10}})"
    "\n"
    R"({"type":"account.deposit","aggregate_id":"A","command_id":"c2","payload":{"amount":10}})"
    "\n"
    "not json\n";

} // namespace

TEST_CASE("exec answers each line in order and blank lines get no answer", "[app]") {
  temp_dir dir;
  auto chunk = GENERATE(size_t{1}, size_t{4096});
  auto out = run(dir.path(), k_session, chunk);
  REQUIRE(out.size() == 4);
  CHECK(out[0] == R"({"ok":true,"status":200,"aggregate_id":"A","version":1,"position":1,"events":1})");
  CHECK(out[1] == R"({"ok":true,"status":200,"aggregate_id":"A","version":2,"position":2,"events":1})");
  CHECK(out[2] ==
        R"({"ok":true,"status":200,"aggregate_id":"A","version":2,"position":2,"events":1,"duplicate":true})");
  CHECK(out[3].starts_with(R"({"ok":false,"status":400,"error":{"code":"bad_request")"));
}

TEST_CASE("state and idempotency survive a restart on the same log", "[app]") {
  temp_dir dir;
  run(dir.path(), k_session);
  auto out = run(dir.path(), k_session);
  REQUIRE(out.size() == 4);
  CHECK(out[0] ==
        R"({"ok":true,"status":200,"aggregate_id":"A","version":1,"position":1,"events":1,"duplicate":true})");
  CHECK(out[1] ==
        R"({"ok":true,"status":200,"aggregate_id":"A","version":2,"position":2,"events":1,"duplicate":true})");
  auto more = run(dir.path(), R"({"type":"account.withdraw","aggregate_id":"A","payload":{"amount":10.01}})"
                              "\n");
  REQUIRE(more.size() == 1);
  CHECK(
      more[0] ==
      R"({"ok":false,"status":422,"error":{"code":"rejected","message":"insufficient funds: balance 10.00 is less than 10.01"}})");
}
