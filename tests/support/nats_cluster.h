// A three-server NATS JetStream cluster on loopback for one test: started
// by the test, stopped by PID, and killed with the test process if it dies
// halfway (PR_SET_PDEATHSIG), so nothing outlives a failed run.
#pragma once

#include "temp_dir.h"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <fmt/format.h>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace sluice::testing {

/// A TCP port on 127.0.0.1 the kernel just handed out and took back.
inline uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

class nats_cluster {
 public:
  static constexpr int k_servers = 3;

  /// `max_payload`: the servers' largest message, in NATS's units ("8MB",
  /// "64KB"). `start_now` false: the ports are chosen, start_all() starts them.
  explicit nats_cluster(std::string max_payload = "8MB", bool start_now = true) : max_payload_(std::move(max_payload)) {
    for (int i = 0; i < k_servers; ++i) {
      client_[i] = free_loopback_port();
      route_[i] = free_loopback_port();
    }
    if (start_now)
      start_all();
  }
  void start_all() {
    for (int i = 0; i < k_servers; ++i)
      start(i);
    wait_ready();
  }
  ~nats_cluster() {
    for (int i = 0; i < k_servers; ++i)
      kill(i, SIGKILL);
  }
  nats_cluster(const nats_cluster&) = delete;
  nats_cluster& operator=(const nats_cluster&) = delete;

  /// The client URLs of every server, comma-separated.
  std::string urls() const {
    std::string out;
    for (int i = 0; i < k_servers; ++i)
      out += fmt::format("{}nats://127.0.0.1:{}", i ? "," : "", client_[i]);
    return out;
  }
  std::vector<std::string> url_list() const {
    std::vector<std::string> out;
    for (int i = 0; i < k_servers; ++i)
      out.push_back(fmt::format("nats://127.0.0.1:{}", client_[i]));
    return out;
  }
  pid_t pid(int i) const { return pid_[i]; }

  /// Sends `sig` to server `i`; SIGKILL also reaps it.
  void kill(int i, int sig) {
    if (pid_[i] <= 0)
      return;
    ::kill(pid_[i], sig);
    if (sig == SIGKILL) {
      ::waitpid(pid_[i], nullptr, 0);
      pid_[i] = 0;
    }
  }

  /// Starts server `i` again on its ports and its store.
  void start(int i) {
    auto conf = dir_.path() / fmt::format("n{}.conf", i);
    {
      std::ofstream c(conf);
      c << fmt::format("server_name: n{}\nlisten: 127.0.0.1:{}\nmax_payload: {}\n", i, client_[i], max_payload_);
      c << fmt::format("jetstream {{ store_dir: \"{}\" }}\n", (dir_.path() / fmt::format("n{}", i)).string());
      c << fmt::format("cluster {{\n  name: sluice-test\n  listen: 127.0.0.1:{}\n  routes: [\n", route_[i]);
      for (int j = 0; j < k_servers; ++j)
        if (j != i)
          c << fmt::format("    nats-route://127.0.0.1:{}\n", route_[j]);
      c << "  ]\n}\n";
    }
    pid_t parent = ::getpid();
    std::fflush(stdout); // or the child's freopen writes what the parent buffered
    pid_[i] = ::fork();
    REQUIRE(pid_[i] >= 0);
    if (pid_[i] == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent)
        _exit(1);
      auto log = dir_.path() / fmt::format("n{}.log", i);
      std::freopen(log.c_str(), "a", stdout);
      std::freopen(log.c_str(), "a", stderr);
      ::execl(NATS_SERVER_BINARY, "nats-server", "-c", conf.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }

  /// Waits until every server answers its monitoring-free health: a TCP
  /// connect to its client port, then JetStream's meta leader (a client
  /// asking for a stream gets its answer once there is one).
  void wait_ready() {
    for (int i = 0; i < k_servers; ++i) {
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (!accepts(client_[i])) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }

  const std::filesystem::path& dir() const { return dir_.path(); }

 private:
  static bool accepts(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
  }

  temp_dir dir_;
  std::string max_payload_;
  std::array<uint16_t, k_servers> client_{}, route_{};
  std::array<pid_t, k_servers> pid_{};
};

} // namespace sluice::testing
