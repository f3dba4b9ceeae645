#include "views/error_log.h"

#include "base/checksum.h"
#include "base/logger.h"
#include "codec/binary.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>

namespace sluice::views {

namespace {

constexpr logger k_log("views");
constexpr size_t k_header = 12; // u32 length, u64 checksum

int open_append(const std::filesystem::path& p) {
  return ::open(p.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

} // namespace

error_log::error_log(std::filesystem::path path) : path_(std::move(path)) {
  std::error_code ec;
  std::filesystem::create_directories(path_.parent_path(), ec);
  std::ifstream in(path_, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t at = 0;
  while (at + k_header <= bytes.size()) {
    uint32_t len = 0;
    uint64_t sum = 0;
    std::memcpy(&len, bytes.data() + at, 4);
    std::memcpy(&sum, bytes.data() + at + 4, 8);
    if (at + k_header + len > bytes.size() || checksum64(bytes.data() + at + k_header, len) != sum)
      break; // a write a crash cut short: what follows is not ours
    codec::binary_reader r(std::string_view(bytes).substr(at + k_header, len));
    auto o = static_cast<op>(r.uint());
    std::string key(r.string());
    parked p;
    p.position = r.uint();
    p.event_type = r.string();
    p.error = r.string();
    p.first_failed_us = r.sint();
    p.attempts = r.uint();
    p.through = r.uint();
    if (!r.ok())
      break;
    if (o == op::park)
      parked_[key] = std::move(p);
    else if (o == op::resolve)
      parked_.erase(key);
    else if (o == op::skip) {
      parked_.erase(key);
      skipped_[key].emplace_back(p.position, p.through);
    }
    at += k_header + len;
  }
  if (at < bytes.size()) {
    k_log.warn("{}: {} bytes after the last whole record are ignored (a write cut short)", path_.string(),
               bytes.size() - at);
    std::filesystem::resize_file(path_, at, ec);
  }
  update_empty();
  fd_ = open_append(path_);
  if (fd_ < 0)
    k_log.error("cannot open {}: {}; the error log lives in memory only", path_.string(), std::strerror(errno));
}

std::optional<error_log::parked> error_log::known(std::string_view key) const {
  std::lock_guard lk(mu_);
  auto it = parked_.find(key);
  if (it == parked_.end())
    return std::nullopt;
  return it->second;
}

bool error_log::skipped(std::string_view key, uint64_t position) const {
  std::lock_guard lk(mu_);
  auto it = skipped_.find(key);
  if (it == skipped_.end())
    return false;
  return std::ranges::any_of(it->second, [&](auto& r) { return r.first <= position && position <= r.second; });
}

bool error_log::park(std::string_view key, const parked& p) {
  std::lock_guard lk(mu_);
  parked_[std::string(key)] = p;
  update_empty();
  return append(op::park, key, p);
}

bool error_log::resolve(std::string_view key) {
  std::lock_guard lk(mu_);
  parked_.erase(std::string(key));
  update_empty();
  return append(op::resolve, key, {});
}

bool error_log::skip(std::string_view key, uint64_t from, uint64_t through) {
  std::lock_guard lk(mu_);
  parked_.erase(std::string(key));
  skipped_[std::string(key)].emplace_back(from, through);
  update_empty();
  parked p;
  p.position = from;
  p.through = through;
  return append(op::skip, key, p);
}

void error_log::move_to(const std::filesystem::path& path) {
  std::lock_guard lk(mu_);
  std::error_code ec;
  std::filesystem::rename(path_, path, ec);
  if (ec) {
    k_log.error("cannot rename {} to {}: {}", path_.string(), path.string(), ec.message());
    return;
  }
  path_ = path;
}

bool error_log::append(op o, std::string_view key, const parked& p) {
  std::string payload;
  codec::binary_writer w(payload);
  w.uint(static_cast<uint64_t>(o));
  w.string(key);
  w.uint(p.position);
  w.string(p.event_type);
  w.string(p.error);
  w.sint(p.first_failed_us);
  w.uint(p.attempts);
  w.uint(p.through);
  std::string rec(k_header, '\0');
  auto len = static_cast<uint32_t>(payload.size());
  uint64_t sum = checksum64(payload.data(), payload.size());
  std::memcpy(rec.data(), &len, 4);
  std::memcpy(rec.data() + 4, &sum, 8);
  rec += payload;
  if (fd_ < 0 || ::write(fd_, rec.data(), rec.size()) != static_cast<ssize_t>(rec.size()) || ::fdatasync(fd_) != 0) {
    k_log.error("cannot write the error log {}: {}", path_.string(), std::strerror(errno));
    return false;
  }
  return true;
}

} // namespace sluice::views
