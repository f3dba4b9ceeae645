// Crash tests: run work in a forked child that reports acknowledgements
// through a pipe, and SIGKILL it once it has sent a given number, or at a
// moment the parent chooses.
#pragma once

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <type_traits>
#include <vector>

namespace sluice::testing {

/// Forks; the child runs `child(fd)` (writing one `Ack` per acknowledgement
/// to `fd`; it must never return). The parent kills it with SIGKILL once
/// `kill_now(acks so far)` says so and returns every ack the child sent,
/// including those still in the pipe at the kill: they were acknowledged
/// before it.
template <class Ack>
std::vector<Ack> kill_when(const std::function<bool(size_t)>& kill_now, const std::function<void(int)>& child) {
  static_assert(std::is_trivially_copyable_v<Ack> && sizeof(Ack) <= PIPE_BUF, "acks are written whole");
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    child(fds[1]);
    _exit(100); // child() must not return
  }
  ::close(fds[1]);
  std::vector<Ack> acks;
  Ack a;
  bool killed_in_time = false;
  while (::read(fds[0], &a, sizeof a) == sizeof a) {
    acks.push_back(a);
    if (kill_now(acks.size())) {
      killed_in_time = true;
      break;
    }
  }
  ::kill(pid, SIGKILL);
  while (::read(fds[0], &a, sizeof a) == sizeof a)
    acks.push_back(a);
  ::close(fds[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  INFO("child exit status " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1));
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(killed_in_time);
  return acks;
}

/// kill_when() after `kill_after` acks.
template <class Ack>
std::vector<Ack> kill_after_acks(size_t kill_after, const std::function<void(int)>& child) {
  return kill_when<Ack>([kill_after](size_t n) { return n >= kill_after; }, child);
}

} // namespace sluice::testing
