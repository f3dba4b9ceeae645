#include "log/snapshot_store.h"

#include "base/bytes.h"
#include "base/checksum.h"
#include "base/logger.h"
#include "base/thread_name.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace sluice::log {

namespace {

constexpr logger k_log("snapshots");

constexpr uint64_t k_max_record = 64ull << 20;
constexpr size_t k_off_length = 4, k_off_checksum = 8, k_off_fingerprint = 16, k_off_version = 24, k_off_position = 32,
                 k_off_type_len = 40, k_off_id_len = 42, k_off_body_len = 44;

snapshot_ref make_ref(uint32_t file, uint64_t offset) { return (uint64_t{file} << 40) | offset; }

std::string encode(const snapshot& s) {
  std::string rec(snapshot_store::k_header, '\0');
  rec += s.type;
  rec += s.id;
  rec += s.body;
  store_u32(rec.data(), snapshot_store::k_magic);
  store_u32(rec.data() + k_off_length, static_cast<uint32_t>(rec.size()));
  store_u64(rec.data() + k_off_fingerprint, s.fingerprint);
  store_u64(rec.data() + k_off_version, s.version);
  store_u64(rec.data() + k_off_position, s.position);
  store_u16(rec.data() + k_off_type_len, static_cast<uint16_t>(s.type.size()));
  store_u16(rec.data() + k_off_id_len, static_cast<uint16_t>(s.id.size()));
  store_u32(rec.data() + k_off_body_len, static_cast<uint32_t>(s.body.size()));
  store_u64(rec.data() + k_off_checksum, checksum64(rec.data() + k_off_fingerprint, rec.size() - k_off_fingerprint));
  return rec;
}

// The record at the start of `in`: its length, or 0 if what is there is not
// a whole, intact record (then `why` says so).
size_t check(std::string_view in, std::string& why) {
  if (in.size() < snapshot_store::k_header) {
    why = "torn header";
    return 0;
  }
  if (load_u32(in.data()) != snapshot_store::k_magic) {
    why = "bad magic";
    return 0;
  }
  uint64_t length = load_u32(in.data() + k_off_length);
  uint64_t parts = uint64_t{load_u16(in.data() + k_off_type_len)} + load_u16(in.data() + k_off_id_len) +
                   load_u32(in.data() + k_off_body_len);
  if (length < snapshot_store::k_header || length > k_max_record || length != snapshot_store::k_header + parts) {
    why = "bad length";
    return 0;
  }
  if (length > in.size()) {
    why = "torn record";
    return 0;
  }
  if (checksum64(in.data() + k_off_fingerprint, length - k_off_fingerprint) != load_u64(in.data() + k_off_checksum)) {
    why = "checksum mismatch";
    return 0;
  }
  return length;
}

snapshot decode(std::string_view rec, bool with_body) {
  snapshot s;
  s.fingerprint = load_u64(rec.data() + k_off_fingerprint);
  s.version = load_u64(rec.data() + k_off_version);
  s.position = load_u64(rec.data() + k_off_position);
  size_t tl = load_u16(rec.data() + k_off_type_len), il = load_u16(rec.data() + k_off_id_len);
  s.type.assign(rec.substr(snapshot_store::k_header, tl));
  s.id.assign(rec.substr(snapshot_store::k_header + tl, il));
  if (with_body)
    s.body.assign(rec.substr(snapshot_store::k_header + tl + il));
  return s;
}

bool pread_all(int fd, char* p, size_t n, uint64_t off) {
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return false;
    p += r;
    n -= static_cast<size_t>(r);
    off += static_cast<uint64_t>(r);
  }
  return true;
}

// The numbers of the snapshot files in `dir`, ascending, into `numbers`.
std::expected<void, error> list_snapshot_files(const std::filesystem::path& dir, std::vector<uint32_t>& numbers) {
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(dir, ec)) {
    unsigned n = 0;
    auto name = e.path().filename().string();
    if (name.size() == 17 && std::sscanf(name.c_str(), "snap-%8u.sls", &n) == 1 && n > 0)
      numbers.push_back(n);
  }
  if (ec)
    return std::unexpected(error{errc::io_error, fmt::format("{}: {}", dir.string(), ec.message())});
  std::sort(numbers.begin(), numbers.end());
  return {};
}

// Opens the file at `path` and reads all of it into `buf`: its descriptor,
// kept open for appending.
std::expected<int, error> read_snapshot_file(const std::filesystem::path& path, std::string& buf) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return std::unexpected(error{errc::io_error, fmt::format("{}: {}", path.string(), std::strerror(errno))});
  off_t size = ::lseek(fd, 0, SEEK_END);
  buf.resize(static_cast<size_t>(std::max<off_t>(size, 0)));
  if (size < 0 || !pread_all(fd, buf.data(), buf.size(), 0)) {
    ::close(fd);
    return std::unexpected(error{errc::io_error, fmt::format("{}: cannot read", path.string())});
  }
  return fd;
}

} // namespace

std::filesystem::path snapshot_store::file_name(const std::filesystem::path& dir, uint32_t n) {
  return dir / fmt::format("snap-{:08}.sls", n);
}

snapshot_store::snapshot_store(options opts) : opts_(std::move(opts)) {}

std::expected<std::unique_ptr<snapshot_store>, error> snapshot_store::open(
    options opts, const std::function<void(const snapshot&, snapshot_ref)>& found) {
  std::error_code ec;
  std::filesystem::create_directories(opts.dir, ec);
  if (ec)
    return std::unexpected(error{errc::io_error, fmt::format("{}: {}", opts.dir.string(), ec.message())});
  std::unique_ptr<snapshot_store> store(new snapshot_store(std::move(opts)));
  std::vector<uint32_t> numbers;
  if (auto r = list_snapshot_files(store->opts_.dir, numbers); !r)
    return std::unexpected(r.error());
  std::string buf, why;
  for (auto n : numbers) {
    auto path = file_name(store->opts_.dir, n);
    auto fd = read_snapshot_file(path, buf);
    if (!fd)
      return std::unexpected(fd.error());
    uint64_t off = 0;
    while (off < buf.size()) {
      std::string_view rest(buf.data() + off, buf.size() - off);
      size_t len = check(rest, why);
      if (len == 0) {
        // A damaged record: if its length still looks whole, the next one
        // may be intact; otherwise the rest of the file is unreadable.
        ++store->rejected_;
        k_log.warn("{} offset {}: {}; ignored, the log is used instead", path.string(), off, why);
        uint64_t claimed = rest.size() >= 8 ? load_u32(rest.data() + k_off_length) : 0;
        if (claimed >= k_header && claimed <= rest.size() && rest.size() - claimed >= 4 &&
            load_u32(rest.data() + claimed) == k_magic) {
          off += claimed;
          continue;
        }
        break;
      }
      ++store->found_;
      found(decode(rest.substr(0, len), false), make_ref(n, off));
      off += len;
    }
    // A torn tail is cut off so that new records follow whole ones.
    if (off < buf.size() && ::ftruncate(*fd, static_cast<off_t>(off)) != 0)
      k_log.warn("{}: cannot cut off the damaged tail: {}", path.string(), std::strerror(errno));
    store->bytes_ += off;
    store->files_.push_back({n, *fd, off});
  }
  store->writer_ = std::thread([s = store.get()] {
    name_this_thread("sluice.snaps");
    s->run();
  });
  return store;
}

snapshot_store::~snapshot_store() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable())
    writer_.join();
  for (auto& f : files_)
    ::close(f.fd);
}

bool snapshot_store::write(snapshot s) {
  uint64_t size = k_header + s.type.size() + s.id.size() + s.body.size();
  if (size > k_max_record || s.type.size() > UINT16_MAX || s.id.size() > UINT16_MAX) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  {
    std::lock_guard lk(mu_);
    if (stop_ || queued_bytes_ + size > opts_.max_queued_bytes) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queued_bytes_ += size;
    queue_.push_back(std::move(s));
  }
  cv_.notify_one();
  return true;
}

void snapshot_store::flush() {
  std::unique_lock lk(mu_);
  idle_cv_.wait(lk, [&] { return queue_.empty() && !busy_; });
}

bool snapshot_store::sync() {
  flush();
  std::lock_guard lk(files_mu_);
  for (auto& f : files_)
    if (::fdatasync(f.fd) != 0)
      return false;
  return true;
}

void snapshot_store::run() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) {
      idle_cv_.notify_all();
      return; // stop_, with everything written
    }
    std::deque<snapshot> work;
    work.swap(queue_);
    queued_bytes_ = 0;
    busy_ = true;
    lk.unlock();
    for (auto& s : work)
      append(s);
    lk.lock();
    busy_ = false;
    if (queue_.empty())
      idle_cv_.notify_all();
  }
}

bool snapshot_store::append(const snapshot& s) {
  auto rec = encode(s);
  if (files_.empty() || files_.back().size + rec.size() > opts_.file_bytes) {
    uint32_t n = files_.empty() ? 1 : files_.back().number + 1;
    auto path = file_name(opts_.dir, n);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      k_log.warn("{}: {}; snapshot not written", path.string(), std::strerror(errno));
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    std::lock_guard lk(files_mu_);
    files_.push_back({n, fd, 0});
  }
  auto& f = files_.back();
  // No sync: a snapshot only ever covers durable events, and one lost or
  // torn by a crash is ignored at the next start (the log is used).
  const char* p = rec.data();
  size_t left = rec.size();
  uint64_t off = f.size;
  while (left > 0) {
    ssize_t w = ::pwrite(f.fd, p, left, static_cast<off_t>(off));
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      k_log.warn("snapshot write failed: {}; not written", std::strerror(errno));
      dropped_.fetch_add(1, std::memory_order_relaxed);
      // What was written of it is a torn record: the next one overwrites it.
      return false;
    }
    p += w;
    left -= static_cast<size_t>(w);
    off += static_cast<uint64_t>(w);
  }
  auto ref = make_ref(f.number, f.size);
  f.size = off;
  bytes_.fetch_add(rec.size(), std::memory_order_relaxed);
  written_.fetch_add(1, std::memory_order_relaxed);
  if (opts_.on_written)
    opts_.on_written(s, ref);
  return true;
}

int snapshot_store::fd_of(uint32_t number) const {
  std::lock_guard lk(files_mu_);
  for (auto& f : files_)
    if (f.number == number)
      return f.fd;
  return -1;
}

std::expected<snapshot, std::string> snapshot_store::read(snapshot_ref ref) const {
  int fd = fd_of(static_cast<uint32_t>(ref >> 40));
  uint64_t off = ref & ((uint64_t{1} << 40) - 1);
  if (fd < 0)
    return std::unexpected("no such snapshot file");
  char head[k_header];
  if (!pread_all(fd, head, k_header, off))
    return std::unexpected("torn header");
  uint64_t length = load_u32(head + k_off_length);
  if (load_u32(head) != k_magic || length < k_header || length > k_max_record)
    return std::unexpected("bad header");
  std::string rec(length, '\0');
  if (!pread_all(fd, rec.data(), length, off))
    return std::unexpected("torn record");
  std::string why;
  if (check(rec, why) != length)
    return std::unexpected(why);
  return decode(rec, true);
}

} // namespace sluice::log
