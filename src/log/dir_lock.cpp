#include "log/dir_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sluice::log {

namespace {

constexpr const char* k_lock_file = "LOCK";

pid_t read_pid(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  pid_t pid = 0;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i)
    pid = pid * 10 + (buf[i] - '0');
  return pid;
}

error io(std::string_view what, const std::filesystem::path& path, int err) {
  return {errc::io_error, fmt::format("{} {}: {}", what, path.string(), std::strerror(err))};
}

} // namespace

std::expected<dir_lock, error> dir_lock::acquire(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return std::unexpected(error{errc::io_error, fmt::format("create {}: {}", dir.string(), ec.message())});
  auto path = dir / k_lock_file;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return std::unexpected(io("open", path, errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    pid_t pid = err == EWOULDBLOCK ? read_pid(fd) : 0;
    ::close(fd);
    if (err != EWOULDBLOCK)
      return std::unexpected(io("lock", path, err));
    return std::unexpected(
        error{errc::locked,
              fmt::format("data directory {} is in use by {} (one process at a time owns a data directory: stop it, or "
                          "choose another --data)",
                          dir.string(), pid > 0 ? fmt::format("process {}", pid) : std::string("another process"))});
  }
  // The PID is for the message above only; the lock itself is the flock.
  auto text = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    int err = errno;
    ::close(fd);
    return std::unexpected(io("write", path, err));
  }
  return dir_lock(fd);
}

dir_lock& dir_lock::operator=(dir_lock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

dir_lock::~dir_lock() {
  if (fd_ >= 0)
    ::close(fd_); // closing the last descriptor releases the flock
}

} // namespace sluice::log
