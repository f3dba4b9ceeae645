// A tmpfs of a few MiB that a test mounts for itself, to fill a disk for
// real (needs CAP_SYS_ADMIN: such tests carry the hidden tag [.tmpfs] and
// CTest runs them only where the build is configured as root).
#pragma once

#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

namespace sluice::testing {

class small_tmpfs {
 public:
  explicit small_tmpfs(size_t bytes) {
    auto opts = fmt::format("size={}", bytes);
    if (::mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, opts.c_str()) != 0)
      FAIL("cannot mount a tmpfs at " << dir_.path() << ": " << std::strerror(errno));
  }
  ~small_tmpfs() { ::umount2(dir_.path().c_str(), MNT_DETACH); }
  small_tmpfs(const small_tmpfs&) = delete;
  small_tmpfs& operator=(const small_tmpfs&) = delete;

  const std::filesystem::path& path() const { return dir_.path(); }

  /// Writes `bytes` of filler to `name`, taking that much of the space.
  void fill(const std::string& name, size_t bytes) {
    std::ofstream out(dir_.path() / name, std::ios::binary);
    std::string chunk(64 << 10, 'f');
    for (size_t left = bytes; left > 0; left -= std::min(left, chunk.size()))
      out.write(chunk.data(), static_cast<std::streamsize>(std::min(left, chunk.size())));
  }

 private:
  temp_dir dir_;
};

} // namespace sluice::testing
