// The real `sluice` binary (SLUICE_BINARY) in child processes: servers
// started on a free port and stopped by PID (never left running when a test
// fails halfway), and one-shot subcommands with their output and status.
#pragma once

#include "http/client.h"

#include <boost/asio.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace sluice::testing::process {

using namespace std::chrono_literals;

// A port the kernel just handed out and took back: free for a moment.
inline uint16_t free_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

// In a forked child: becomes `sluice ARGS…`, or exits 127.
[[noreturn]] inline void exec_binary(std::vector<std::string> args) {
  args.insert(args.begin(), SLUICE_BINARY);
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(SLUICE_BINARY, argv.data());
  _exit(127);
}

class server_process {
 public:
  /// `wait_ready`: until /readyz answers 200 (else only started).
  server_process(const std::filesystem::path& data, uint16_t port, std::vector<std::string> extra = {},
                 std::string host = "127.0.0.1", bool wait_ready = true)
      : port_(port) {
    auto listen =
        host.find(':') == std::string::npos ? fmt::format("{}:{}", host, port) : fmt::format("[{}]:{}", host, port);
    std::vector<std::string> args{"serve", "--data", data.string(), "--listen", listen, "--durability", "fsync"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::fflush(stdout); // or the child's freopen writes what the parent buffered
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      auto out = data.string() + ".out";
      FILE* f = std::freopen(out.c_str(), "a", stdout);
      (void)f;
      exec_binary(args);
    }
    if (host != "127.0.0.1" || !wait_ready)
      return; // the caller connects itself
    // Ready when /readyz says so.
    for (int i = 0; i < 500; ++i) {
      try {
        http_client c(port_);
        if (c.request("GET", "/readyz").status == 200)
          return;
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(20ms);
    }
    ::kill(pid_, SIGKILL); // no destructor runs for a constructor that throws
    ::waitpid(pid_, nullptr, 0);
    FAIL("server did not become ready");
  }

  // A test that failed midway leaves no server behind (it would hold the
  // test's stderr open, and its data directory is about to go).
  ~server_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  int stop(int sig) {
    ::kill(pid_, sig);
    return wait();
  }

  /// Waits for the server to exit by itself; its wait status.
  int wait() {
    int status = 0;
    REQUIRE(::waitpid(pid_, &status, 0) == pid_);
    pid_ = -1;
    return status;
  }

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

  /// The names of the server's threads (/proc/<pid>/task/*/comm).
  std::multiset<std::string> thread_names() const {
    std::multiset<std::string> names;
    for (auto& task : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid_))) {
      std::ifstream comm(task.path() / "comm");
      std::string name;
      std::getline(comm, name);
      names.insert(name);
    }
    return names;
  }

 private:
  pid_t pid_ = -1;
  uint16_t port_;
};

// The binary with `args` and `env` added to the environment, its stderr
// into `err`. Its pid.
// Its stdout into `out` when given.
inline pid_t spawn(const std::vector<std::string>& args, const std::vector<std::pair<std::string, std::string>>& env,
                   const std::filesystem::path& err, const std::filesystem::path& out = {}) {
  std::fflush(stdout);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    for (auto& [k, v] : env)
      ::setenv(k.c_str(), v.c_str(), 1);
    FILE* f = std::freopen(err.c_str(), "w", stderr);
    (void)f;
    if (!out.empty()) {
      FILE* o = std::freopen(out.c_str(), "w", stdout);
      (void)o;
    }
    exec_binary(args);
  }
  return pid;
}

inline bool answers_on(uint16_t port) {
  for (int i = 0; i < 250; ++i) {
    try {
      http_client c(port);
      if (c.request("GET", "/readyz").status == 200)
        return true;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

inline int stop_and_wait(pid_t pid) {
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

inline std::string slurp_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

/// Runs `sluice ARGS…` to its end; its exit status (-1 if it did not exit),
/// with stdout and stderr.
struct run_result {
  int status = -1;
  std::string out, err;
};
inline run_result run_sluice(const std::vector<std::string>& args, const std::filesystem::path& scratch,
                             const std::vector<std::pair<std::string, std::string>>& env = {}) {
  auto out = scratch / "run.out", err = scratch / "run.err";
  pid_t pid = spawn(args, env, err, out);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp_file(out), slurp_file(err)};
}

} // namespace sluice::testing::process
