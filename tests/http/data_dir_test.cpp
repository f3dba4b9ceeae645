// One process per data directory, read-only tools beside a running server,
// and usage errors that exit 2 naming what was wrong (SPEC §7), with the
// real binary.
#include "client.h"
#include "sluice_process.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

using sluice::testing::http_client;
using sluice::testing::temp_dir;
using namespace sluice::testing::process;

namespace {

std::string open_account(int i) {
  return fmt::format(R"({{"type":"account.open","aggregate_id":"ACC-{}","payload":{{"owner":"o"}}}})", i);
}

// Every file under `dir` with its size: what "wrote nothing" is checked against.
std::map<std::string, uintmax_t> files_of(const std::filesystem::path& dir) {
  std::map<std::string, uintmax_t> out;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file())
      out[e.path().string()] = e.file_size();
  return out;
}

} // namespace

TEST_CASE("a second server on a data directory in use exits 2 naming it and the holder; nothing is lost",
          "[process][lock]") {
  temp_dir dir;
  auto data = dir.path() / "data";
  uint16_t port = free_port();
  server_process first(data, port);
  http_client c(port);
  REQUIRE(c.request("POST", "/v1/commands", open_account(1)).status == 200);

  auto second =
      run_sluice({"serve", "--data", data.string(), "--listen", fmt::format("127.0.0.1:{}", free_port())}, dir.path());
  CHECK(second.status == 2);
  CHECK(second.err.find(data.string()) != std::string::npos);
  CHECK(second.err.find(fmt::format("process {}", first.pid())) != std::string::npos);
  // exec and repair, which write, are refused the same way.
  for (auto args :
       std::vector<std::vector<std::string>>{{"exec", "--data", data.string()}, {"repair", data.string()}}) {
    auto r = run_sluice(args, dir.path());
    INFO(args[0] << ": " << r.err);
    CHECK(r.status == 2);
    CHECK(r.err.find(fmt::format("process {}", first.pid())) != std::string::npos);
  }

  // The first goes on; everything it acknowledged is in the log.
  REQUIRE(c.request("POST", "/v1/commands", open_account(2)).status == 200);
  CHECK(WIFEXITED(first.stop(SIGTERM)));
  auto events = run_sluice({"events", "--data", data.string()}, dir.path());
  CHECK(events.status == 0);
  CHECK(events.out.find("\"aggregate_id\":\"ACC-1\"") != std::string::npos);
  CHECK(events.out.find("\"aggregate_id\":\"ACC-2\"") != std::string::npos);
}

TEST_CASE("kill -9 of a server releases its data directory at once", "[process][lock]") {
  temp_dir dir;
  auto data = dir.path() / "data";
  uint16_t port = free_port();
  {
    server_process s(data, port);
    http_client c(port);
    REQUIRE(c.request("POST", "/v1/commands", open_account(1)).status == 200);
    s.stop(SIGKILL);
  }
  server_process again(data, port); // fails the test if it does not become ready
  http_client c(port);
  CHECK(c.request("GET", "/v1/aggregates/ACC-1/events").status == 200);
}

TEST_CASE("check and events read beside a running server and write nothing", "[process][lock]") {
  temp_dir dir;
  auto data = dir.path() / "data";
  uint16_t port = free_port();
  server_process s(data, port, {"--no-checkpoints"});
  http_client c(port);
  for (int i = 0; i < 10; ++i)
    REQUIRE(c.request("POST", "/v1/commands", open_account(i)).status == 200);
  // The log is what the tools open; the server itself may still write
  // elsewhere (its process checkpoints, snapshots) while they run.
  auto before = files_of(data / "log");

  auto check = run_sluice({"check", data.string()}, dir.path());
  INFO(check.out << check.err);
  CHECK(check.status == 0);
  CHECK(check.out.find("10 records in order") != std::string::npos);
  auto events = run_sluice({"events", "--data", data.string(), "--from", "3", "--limit", "2"}, dir.path());
  CHECK(events.status == 0);
  CHECK(events.out.find("\"position\":3") != std::string::npos);
  CHECK(events.out.find("\"position\":4") != std::string::npos);
  CHECK(events.out.find("\"position\":5") == std::string::npos);
  CHECK(files_of(data / "log") == before);
  for (auto& e : std::filesystem::directory_iterator(data)) // nothing of the tools' beside it
    CHECK((e.is_directory() || e.path().filename() == "LOCK"));

  // The server was not disturbed.
  REQUIRE(c.request("POST", "/v1/commands", open_account(10)).status == 200);
}

TEST_CASE("read-only tools never create a data directory that does not exist", "[process][lock]") {
  temp_dir dir;
  auto absent = dir.path() / "nonexistent";
  auto events = run_sluice({"events", "--data", absent.string()}, dir.path());
  CHECK(events.status == 2);
  CHECK(events.err.find(absent.string()) != std::string::npos);
  auto check = run_sluice({"check", absent.string()}, dir.path());
  CHECK(check.status == 2);
  CHECK(check.err.find(absent.string()) != std::string::npos);
  auto repair = run_sluice({"repair", absent.string()}, dir.path());
  CHECK(repair.status == 2);
  CHECK_FALSE(std::filesystem::exists(absent));
}

TEST_CASE("every usage error exits 2 and names the flag or argument and what it accepts", "[process][usage]") {
  temp_dir dir;
  struct usage {
    std::vector<std::string> args;
    std::vector<std::string> says;
  };
  std::vector<usage> cases = {
      {{"frobnicate"}, {"unknown subcommand 'frobnicate'", "serve", "events"}},
      {{"serv"}, {"did you mean 'serve'"}},
      {{}, {"a subcommand is required", "serve"}},
      {{"serve", "--threads", "-1"}, {"--threads", "-1", "0 to 1024"}},
      {{"serve", "--threads", "lots"}, {"--threads", "lots"}},
      {{"serve", "--io-threads", "0"}, {"--io-threads"}},
      {{"serve", "--snapshot-every", "-5"}, {"--snapshot-every", "-5"}},
      {{"serve", "--checkpoint-every", "x"}, {"--checkpoint-every"}},
      {{"serve", "--durability", "sometimes"}, {"--durability", "fsync", "none"}},
      {{"serve", "--retain-bytes", "5 parsecs"}, {"--retain-bytes", "unknown unit"}},
      {{"serve", "--passivate-after", "soon"}, {"--passivate-after", "soon"}},
      {{"serve", "--listne", "127.0.0.1:1"}, {"--listne"}},
      {{"serve", "--listen", "nowhere"}, {"--listen", "nowhere"}},
      {{"events", "--from", "0"}, {"--from", "1 to"}},
      {{"events", "--limit", "many"}, {"--limit", "many"}},
      {{"check"}, {"data"}},
      {{"token", "new", "ci"}, {"--grant"}},
      {{"token", "new", "ci", "--grant", "everything"}, {"everything", "commands:"}},
      {{"--log-level", "loud", "serve"}, {"--log-level", "loud"}},
      {{"serve", "--config", (dir.path() / "nope.toml").string()}, {"nope.toml"}},
  };
  for (auto& u : cases) {
    auto r = run_sluice(u.args, dir.path());
    INFO(fmt::format("sluice {}: {}", fmt::join(u.args, " "), r.err));
    CHECK(r.status == 2);
    for (auto& s : u.says)
      CHECK(r.err.find(s) != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(dir.path() / "data")); // none of them got as far as the data
  // Asking for help is not an error.
  CHECK(run_sluice({"--help"}, dir.path()).status == 0);
  CHECK(run_sluice({"serve", "--help"}, dir.path()).status == 0);
}

TEST_CASE("sizes take the units people write: K, M, G, T and KiB, GB", "[process][usage]") {
  temp_dir dir;
  auto config = dir.path() / "sluice.toml";
  {
    std::ofstream out(config);
    out << "[serve]\nretain-bytes = \"500G\"\nsegment-bytes = \"64M\"\n";
  }
  uint16_t port = free_port();
  auto err = dir.path() / "stderr";
  auto pid = spawn({"serve", "--config", config.string(), "--data", (dir.path() / "data").string(), "--listen",
                    fmt::format("127.0.0.1:{}", port)},
                   {}, err);
  CHECK(answers_on(port));
  CHECK(WIFEXITED(stop_and_wait(pid)));
}
