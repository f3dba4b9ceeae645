#include "log/checkpoint_file.h"

#include <algorithm>

#include "base/bytes.h"
#include "base/checksum.h"
#include "base/logger.h"
#include "base/thread_name.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace sluice::log {

namespace {

constexpr logger k_log("checkpoints");

constexpr size_t k_off_format = 4, k_off_checksum = 8, k_off_length = 16, k_off_fingerprint = 24, k_off_position = 32,
                 k_off_version = 40, k_off_shard = 44, k_off_shards = 48, k_off_name_len = 52, k_off_body_len = 56;
constexpr size_t k_max_name = 256;
constexpr std::string_view k_suffix = ".ckpt", k_partial = ".ckpt.partial";

std::string errno_text(int e) { return std::strerror(e); }

// Writes all of `data` at the start of `fd`.
bool write_all(int fd, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    auto n = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

} // namespace

std::filesystem::path checkpoint_path(const std::filesystem::path& dir, std::string_view name, uint32_t version,
                                      uint32_t shard, uint32_t shards) {
  return dir / fmt::format("{}.v{}.{}-of-{}{}", name, version, shard, shards, k_suffix);
}

std::string encode_checkpoint(const checkpoint& c) {
  std::string out(k_checkpoint_header, '\0');
  out += c.name;
  out += c.body;
  char* p = out.data();
  store_u32(p, k_checkpoint_magic);
  store_u32(p + k_off_format, k_checkpoint_format);
  store_u64(p + k_off_length, out.size());
  store_u64(p + k_off_fingerprint, c.fingerprint);
  store_u64(p + k_off_position, c.position);
  store_u32(p + k_off_version, c.version);
  store_u32(p + k_off_shard, c.shard);
  store_u32(p + k_off_shards, c.shards);
  store_u32(p + k_off_name_len, static_cast<uint32_t>(c.name.size()));
  store_u64(p + k_off_body_len, c.body.size());
  store_u64(p + k_off_checksum, checksum64(p + k_off_length, out.size() - k_off_length));
  return out;
}

std::expected<checkpoint, std::string> decode_checkpoint(std::string_view in) {
  if (in.size() < k_checkpoint_header)
    return std::unexpected(fmt::format("{} bytes, shorter than a header", in.size()));
  const char* p = in.data();
  if (load_u32(p) != k_checkpoint_magic)
    return std::unexpected("not a checkpoint file (bad magic)");
  if (load_u32(p + k_off_format) != k_checkpoint_format)
    return std::unexpected(
        fmt::format("format {} (this build reads {})", load_u32(p + k_off_format), k_checkpoint_format));
  uint64_t length = load_u64(p + k_off_length), name_len = load_u32(p + k_off_name_len),
           body_len = load_u64(p + k_off_body_len);
  if (length != in.size() || name_len > k_max_name || body_len > length ||
      k_checkpoint_header + name_len + body_len != length)
    return std::unexpected(fmt::format("torn or bad length ({} bytes, header says {})", in.size(), length));
  if (checksum64(p + k_off_length, length - k_off_length) != load_u64(p + k_off_checksum))
    return std::unexpected("checksum mismatch");
  checkpoint c;
  c.fingerprint = load_u64(p + k_off_fingerprint);
  c.position = load_u64(p + k_off_position);
  c.version = load_u32(p + k_off_version);
  c.shard = load_u32(p + k_off_shard);
  c.shards = load_u32(p + k_off_shards);
  c.name.assign(in.substr(k_checkpoint_header, name_len));
  c.body.assign(in.substr(k_checkpoint_header + name_len));
  return c;
}

std::expected<void, std::string> write_checkpoint(const std::filesystem::path& dir, const checkpoint& c) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return std::unexpected(fmt::format("{}: {}", dir.string(), ec.message()));
  auto path = checkpoint_path(dir, c.name, c.version, c.shard, c.shards);
  auto partial = path;
  partial.replace_extension(".ckpt.partial");
  int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return std::unexpected(fmt::format("{}: {}", partial.string(), errno_text(errno)));
  auto bytes = encode_checkpoint(c);
  bool ok = write_all(fd, bytes) && ::fdatasync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(partial.c_str());
    return std::unexpected(fmt::format("{}: {}", partial.string(), errno_text(err)));
  }
  if (::rename(partial.c_str(), path.c_str()) != 0) {
    err = errno;
    ::unlink(partial.c_str());
    return std::unexpected(fmt::format("{}: {}", path.string(), errno_text(err)));
  }
  // The rename is durable only once the directory is.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

std::expected<checkpoint, std::string> read_checkpoint(const std::filesystem::path& dir, std::string_view name,
                                                       uint32_t version, uint32_t shard, uint32_t shards, bool& found) {
  auto path = checkpoint_path(dir, name, version, shard, shards);
  found = false;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return checkpoint{};
    found = true;
    return std::unexpected(fmt::format("{}: {}", path.string(), errno_text(errno)));
  }
  found = true;
  std::string bytes;
  char buf[1 << 16];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return std::unexpected(fmt::format("{}: {}", path.string(), errno_text(err)));
    }
    if (n == 0)
      break;
    bytes.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  auto c = decode_checkpoint(bytes);
  if (!c)
    return std::unexpected(fmt::format("{}: {}", path.string(), c.error()));
  if (c->name != name || c->version != version || c->shard != shard || c->shards != shards)
    return std::unexpected(
        fmt::format("{}: holds {} v{} shard {} of {}", path.string(), c->name, c->version, c->shard, c->shards));
  return c;
}

size_t remove_partial_checkpoints(const std::filesystem::path& dir) {
  std::error_code ec;
  size_t n = 0;
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    auto file = it->path().filename().string();
    if (file.ends_with(k_partial) && std::filesystem::remove(it->path(), ec))
      ++n;
  }
  return n;
}

checkpoint_writer::checkpoint_writer(std::filesystem::path dir) : dir_(std::move(dir)) {
  thread_ = std::thread([this] {
    name_this_thread("sluice.ckpt");
    run();
  });
}

checkpoint_writer::~checkpoint_writer() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void checkpoint_writer::write(checkpoint c) {
  {
    std::lock_guard lk(mu_);
    auto key = std::make_pair(c.name, c.shard);
    uint64_t seq = ++seq_;
    if (auto it = queue_.find(key); it != queue_.end())
      it->second.c = std::move(c); // keeps `since`: this write answers the older one too
    else
      queue_.emplace(std::move(key), queued{std::move(c), seq});
  }
  cv_.notify_all();
}

uint64_t checkpoint_writer::oldest_pending() const {
  uint64_t oldest = active_ ? writing_since_ : seq_ + 1;
  for (auto& [key, q] : queue_)
    oldest = std::min(oldest, q.since);
  return oldest;
}

void checkpoint_writer::flush() {
  std::unique_lock lk(mu_);
  uint64_t upto = seq_;
  idle_cv_.wait(lk, [&] { return oldest_pending() > upto; });
}

bool checkpoint_writer::busy(std::string_view name, uint32_t shard) const {
  std::lock_guard lk(mu_);
  auto key = std::make_pair(std::string(name), shard);
  return queue_.contains(key) || (active_ && writing_ == key);
}

uint64_t checkpoint_writer::written() const {
  std::lock_guard lk(mu_);
  return written_;
}

uint64_t checkpoint_writer::failed() const {
  std::lock_guard lk(mu_);
  return failed_;
}

void checkpoint_writer::run() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) {
      if (stop_)
        return;
      continue;
    }
    // Oldest request first, not the smallest key: a shard that checkpoints
    // all the time would otherwise be written again and again while the
    // others wait, and a flush() waiting for them (retention) never ends.
    auto oldest = std::min_element(queue_.begin(), queue_.end(),
                                   [](const auto& a, const auto& b) { return a.second.since < b.second.since; });
    auto node = queue_.extract(oldest);
    writing_ = node.key();
    writing_since_ = node.mapped().since;
    active_ = true;
    lk.unlock();
    auto r = write_checkpoint(dir_, node.mapped().c);
    if (!r)
      k_log.warn("checkpoint not written: {}", r.error());
    lk.lock();
    active_ = false;
    ++(r ? written_ : failed_);
    idle_cv_.notify_all(); // a flush may wait for this one only
  }
}

} // namespace sluice::log
