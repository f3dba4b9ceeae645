// The real `sluice` binary's configuration: a flag from the command line,
// SLUICE_* and --config; --log-format json and --log-level; --version.
#include "client.h"
#include "sluice_process.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

using namespace sluice::testing::process;
using sluice::testing::temp_dir;

TEST_CASE("a flag given three ways: the command line wins over SLUICE_*, and SLUICE_* over --config",
          "[http][process][config]") {
  temp_dir dir;
  uint16_t from_env = free_port(), from_file = free_port(), from_flag = free_port();
  auto config = dir.path() / "sluice.toml";
  {
    std::ofstream out(config);
    out << "# sluice serve's flags\n[serve]\nlisten = \"127.0.0.1:" << from_file << "\"\ndurability = \"none\"\n";
  }
  std::vector<std::pair<std::string, std::string>> env{{"SLUICE_LISTEN", fmt::format("127.0.0.1:{}", from_env)},
                                                       {"SLUICE_DATA", (dir.path() / "data").string()}};
  auto err = dir.path() / "stderr";

  SECTION("SLUICE_LISTEN alone") {
    auto pid = spawn({"serve"}, env, err);
    CHECK(answers_on(from_env));
    CHECK(WIFEXITED(stop_and_wait(pid)));
    CHECK(std::filesystem::exists(dir.path() / "data" / "log")); // SLUICE_DATA too
  }
  SECTION("the variable over the file") {
    // A container's SLUICE_* override must win over a baked-in file.
    auto pid = spawn({"serve", "--config", config.string()}, env, err);
    CHECK(answers_on(from_env));
    stop_and_wait(pid);
    CHECK(slurp_file(err).find("durability none") != std::string::npos); // the file's other key applied
  }
  SECTION("the file where no variable is set") {
    auto pid = spawn({"serve", "--config", config.string()}, {{"SLUICE_DATA", (dir.path() / "data").string()}}, err);
    CHECK(answers_on(from_file));
    stop_and_wait(pid);
  }
  SECTION("the command line over both") {
    auto pid =
        spawn({"serve", "--config", config.string(), "--listen", fmt::format("127.0.0.1:{}", from_flag)}, env, err);
    CHECK(answers_on(from_flag));
    stop_and_wait(pid);
  }
  SECTION("a key the file should not have is an error that names it") {
    {
      std::ofstream out(config, std::ios::app);
      out << "listne = \"127.0.0.1:1\"\n";
    }
    auto pid = spawn({"serve", "--config", config.string()}, env, err);
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) != 0);
    CHECK(slurp_file(err).find("listne") != std::string::npos);
  }
  SECTION("a missing file is an error") {
    auto pid = spawn({"serve", "--config", (dir.path() / "nope.toml").string()}, env, err);
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(WEXITSTATUS(status) != 0);
    CHECK(slurp_file(err).find("nope.toml") != std::string::npos);
  }
}

TEST_CASE("--log-format json: every line is one JSON object with an RFC 3339 time; --log-level drops lines",
          "[http][process][config]") {
  temp_dir dir;
  uint16_t port = free_port();
  auto err = dir.path() / "stderr", out = dir.path() / "stdout";
  auto level = GENERATE(as<std::string>{}, "info", "warn");
  INFO("--log-level " << level);
  auto pid = spawn({"serve", "--data", (dir.path() / "data").string(), "--listen", fmt::format("127.0.0.1:{}", port),
                    "--durability", "none", "--log-format", "json", "--log-level", level},
                   {}, err, out);
  REQUIRE(answers_on(port));
  stop_and_wait(pid);
  CHECK(slurp_file(out).empty()); // the banner too is a log line
  auto text = slurp_file(err);
  simdjson::dom::parser p;
  std::set<std::string> levels;
  bool banner = false;
  size_t lines = 0;
  for (size_t at = 0; at < text.size();) {
    auto end = text.find('\n', at);
    REQUIRE(end != std::string::npos); // every line ends
    auto line = text.substr(at, end - at);
    at = end + 1;
    INFO(line);
    simdjson::dom::element e;
    REQUIRE(p.parse(line).get(e) == simdjson::SUCCESS);
    std::string_view time, lvl, name, message;
    REQUIRE(e["time"].get(time) == simdjson::SUCCESS);
    REQUIRE(e["level"].get(lvl) == simdjson::SUCCESS);
    REQUIRE(e["logger"].get(name) == simdjson::SUCCESS);
    REQUIRE(e["message"].get(message) == simdjson::SUCCESS);
    // 2026-12-03T13:14:35.123Z
    REQUIRE(time.size() == 24);
    CHECK(time[4] == '-');
    CHECK(time[10] == 'T');
    CHECK(time[19] == '.');
    CHECK(time[23] == 'Z');
    levels.insert(std::string(lvl));
    banner = banner || message == fmt::format("sluice listening on http://127.0.0.1:{}", port);
    ++lines;
  }
  CHECK(banner == (level == "info"));
  CHECK(levels.contains("warn")); // durability none
  CHECK(levels.contains("info") == (level == "info"));
  CHECK(lines >= 1);
}

TEST_CASE("--version prints the build's version", "[http][process][config]") {
  std::fflush(stdout);
  FILE* f = ::popen(SLUICE_BINARY " --version", "r");
  REQUIRE(f != nullptr);
  char buf[256] = {};
  auto n = std::fread(buf, 1, sizeof buf - 1, f);
  CHECK(::pclose(f) == 0);
  CHECK(std::string(buf, n) == fmt::format("sluice {}\n", SLUICE_TEST_VERSION));
}
