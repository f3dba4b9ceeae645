// A fresh directory under the system temp dir (or `base`), removed with its contents.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>

namespace sluice::testing {

class temp_dir {
 public:
  explicit temp_dir(const std::filesystem::path& base = std::filesystem::temp_directory_path()) {
    std::random_device rd;
    path_ = base / ("sluice-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

} // namespace sluice::testing
