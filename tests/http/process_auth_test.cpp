// The real `sluice` binary with tokens: `sluice token new`, --auth and its
// reload on SIGHUP, the refusal to listen beyond loopback without it, and
// `sluice views` against a server with TLS and auth.
#include "client.h"
#include "deposit_command.h"
#include "sluice_process.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using sluice::testing::deposit;
using sluice::testing::http_client;
using namespace sluice::testing::process;
using sluice::testing::temp_dir;
using namespace std::chrono_literals;

namespace {

// `sluice ARGS…`: its exit status and what it printed on stdout and stderr.
std::pair<int, std::string> run_binary(const std::vector<std::string>& args, const std::filesystem::path& out) {
  std::fflush(stdout);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    FILE* f = std::freopen(out.c_str(), "w", stdout);
    (void)f;
    ::dup2(::fileno(stdout), 2);
    exec_binary(args);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  std::ifstream in(out);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, std::string((std::istreambuf_iterator<char>(in)), {})};
}

} // namespace

TEST_CASE("sluice token new prints a token and its entry; the server takes it and reloads on SIGHUP",
          "[http][process][auth]") {
  temp_dir dir;
  auto [bad, why] = run_binary({"token", "new", "x", "--grant", "superuser"}, dir.path() / "bad.out");
  CHECK(bad == 2);
  CHECK(why.find("unknown grant 'superuser'") != std::string::npos);

  std::vector<std::string> tokens, entries;
  for (auto* who : {"ingest", "reader"}) {
    auto [rc, out] =
        run_binary({"token", "new", who, "--grant", who == std::string("ingest") ? "commands:*" : "views:*"},
                   dir.path() / "token.out");
    REQUIRE(rc == 0);
    auto nl = out.find('\n');
    REQUIRE(nl != std::string::npos);
    tokens.push_back(out.substr(0, nl));
    entries.push_back(out.substr(nl + 1, out.find('\n', nl + 1) - nl - 1));
    CHECK(tokens.back().size() >= 22); // ≥ 128 bits, URL-safe
    CHECK(entries.back().find(fmt::format(R"("name":"{}")", who)) != std::string::npos);
  }
  auto file = dir.path() / "auth.json";
  auto write_file = [&](const std::string& text) { std::ofstream(file, std::ios::trunc) << text; };
  write_file(fmt::format(R"({{"tokens":[{},{}]}})", entries[0], entries[1]));

  auto data = dir.path() / "data";
  uint16_t port = free_port();
  server_process s(data, port, {"--auth", file.string()});
  http_client ingest(port), reader(port);
  ingest.set_header("Authorization", "Bearer " + tokens[0]);
  reader.set_header("Authorization", "Bearer " + tokens[1]);
  CHECK(ingest.request("POST", "/v1/commands", deposit(0, 0)).status == 422); // passes: no such account
  CHECK(reader.request("GET", "/v1/views/account_balance").status == 200);
  CHECK(reader.request("POST", "/v1/commands", deposit(0, 1)).status == 403);

  // A broken file on SIGHUP keeps what was loaded.
  write_file(R"({"tokens":[{"name":"x"}]})");
  ::kill(s.pid(), SIGHUP);
  std::this_thread::sleep_for(300ms);
  CHECK(reader.request("GET", "/v1/views/account_balance").status == 200);
  // The reader's token revoked: 401 from the next request, on the same connection.
  write_file(fmt::format(R"({{"tokens":[{}]}})", entries[0]));
  ::kill(s.pid(), SIGHUP);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (reader.request("GET", "/v1/views/account_balance").status != 401) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(20ms);
  }
  CHECK(ingest.request("POST", "/v1/commands", deposit(0, 2)).status == 422);
  CHECK(WIFEXITED(s.stop(SIGTERM)));
  std::ifstream log(data.string() + ".out");
  std::string text((std::istreambuf_iterator<char>(log)), {});
  CHECK(text.find("auth: 2 tokens from") != std::string::npos);
  for (auto& t : tokens)
    CHECK(text.find(t) == std::string::npos); // tokens are never logged
}

TEST_CASE("serve refuses a non-loopback address without --auth, unless --insecure", "[http][process][auth]") {
  temp_dir dir;
  uint16_t port = free_port();
  auto listen = fmt::format("0.0.0.0:{}", port);
  auto [rc, out] = run_binary({"serve", "--data", (dir.path() / "d").string(), "--listen", listen}, dir.path() / "o");
  CHECK(rc == 2);
  CHECK(out.find("refusing to listen on 0.0.0.0") != std::string::npos);
  CHECK(out.find("--insecure") != std::string::npos);
  auto [bad_rc, bad_out] =
      run_binary({"serve", "--data", (dir.path() / "d").string(), "--auth", (dir.path() / "o").string()},
                 dir.path() / "o2"); // not JSON
  CHECK(bad_rc == 2);
  CHECK(bad_out.find("not valid JSON") != std::string::npos);

  server_process s(dir.path() / "d", port, {"--insecure"}, "0.0.0.0");
  bool ready = false;
  for (int i = 0; i < 250 && !ready; ++i) {
    try {
      ready = http_client(port).request("GET", "/readyz").status == 200;
    } catch (const std::exception&) {
      std::this_thread::sleep_for(20ms);
    }
  }
  CHECK(ready);
  CHECK(WIFEXITED(s.stop(SIGTERM)));
}

TEST_CASE("sluice views talks to a server with TLS and auth: --server https://, --ca-file, --token",
          "[http][process][auth][tls]") {
  temp_dir dir;
  auto cert = dir.path() / "cert.pem", key = dir.path() / "key.pem";
  REQUIRE(std::system(fmt::format("openssl req -x509 -newkey rsa:2048 -nodes -keyout '{}' -out '{}' -days 2 -subj "
                                  "/CN=localhost -addext subjectAltName=DNS:localhost 2>/dev/null",
                                  key.string(), cert.string())
                          .c_str()) == 0);
  auto [rc, out] = run_binary({"token", "new", "ops", "--grant", "admin"}, dir.path() / "token.out");
  REQUIRE(rc == 0);
  auto token = out.substr(0, out.find('\n'));
  auto entry = out.substr(out.find('\n') + 1);
  entry = entry.substr(0, entry.find('\n'));
  std::ofstream(dir.path() / "auth.json") << fmt::format(R"({{"tokens":[{}]}})", entry);

  uint16_t port = free_port();
  server_process s(
      dir.path() / "data", port,
      {"--auth", (dir.path() / "auth.json").string(), "--tls-cert", cert.string(), "--tls-key", key.string()},
      "localhost");
  auto url = fmt::format("https://localhost:{}", port);
  std::vector<std::string> base{"views", "list", "--server", url, "--ca-file", cert.string()};
  auto with = [&](std::vector<std::string> extra) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return run_binary(args, dir.path() / "views.out");
  };
  std::pair<int, std::string> listed;
  for (int i = 0; i < 250; ++i) { // until the server listens
    listed = with({"--token", token, "--json"});
    if (listed.first == 0)
      break;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(listed.first == 0);
  CHECK(listed.second.find(R"("view":"order_summary")") != std::string::npos);
  auto table = with({"--token", token});
  CHECK(table.first == 0);
  CHECK(table.second.find("order_summary") != std::string::npos);
  auto refused = with({});
  CHECK(refused.first != 0);
  CHECK(refused.second.find("token") != std::string::npos); // the server's 401 message
  auto untrusted = run_binary({"views", "list", "--server", url, "--token", token}, dir.path() / "u.out");
  CHECK(untrusted.first != 0); // a self-signed certificate the system does not trust
  CHECK(untrusted.second.find("TLS") != std::string::npos);
  CHECK(WIFEXITED(s.stop(SIGTERM)));
}
