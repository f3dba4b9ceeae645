// Access control (SPEC §11): bearer tokens, each with grants that separate
// the command side (per aggregate type) from the query side (per view).
// Only SHA-256 digests of tokens are kept; a token is looked up by its
// digest and compared in constant time.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sluice::http::auth {

using digest = std::array<unsigned char, 32>;

/// SHA-256 of `text`.
digest sha256(std::string_view text);

/// Lowercase hex of `d`.
std::string to_hex(const digest& d);

/// A new token: 32 bytes from the OS CSPRNG, base64url without padding (43 characters).
std::string new_token();

/// Whether `g` is a grant SPEC §11 names: commands:<type>|commands:*,
/// views:<view>|views:*, events, metrics, admin.
bool valid_grant(std::string_view g);

/// What a token may do.
struct grants {
  bool all_commands = false, all_views = false, events = false, metrics = false, admin = false;
  std::vector<std::string> command_types; ///< aggregate types, sorted
  std::vector<std::string> views;         ///< view names, sorted

  bool any_commands() const { return all_commands || !command_types.empty(); }
  bool may_command(std::string_view aggregate_type) const;
  bool may_read(std::string_view view) const;
};

struct principal {
  std::string name;
  digest sha256{};
  grants rights;
};

/// The tokens of one auth file. Immutable once built.
class table {
 public:
  /// The auth file's JSON; errors name the entry and what is wrong with it.
  static std::expected<table, std::string> parse(std::string_view json);
  static std::expected<table, std::string> load(const std::filesystem::path& file);

  /// The token's principal, or null. Thread-safe.
  const principal* find(std::string_view token) const;
  /// The principal whose token has this digest (a session re-checking after a reload).
  const principal* find_digest(const digest& d) const;

  size_t size() const { return by_digest_.size(); }

 private:
  struct digest_hash {
    size_t operator()(const digest& d) const;
  };
  std::unordered_map<digest, principal, digest_hash> by_digest_;
};

/// The token in an Authorization header value ("Bearer <token>", the
/// scheme case-insensitive), or nullopt.
std::optional<std::string_view> bearer(std::string_view header);

enum class denial : uint8_t { unauthorized, forbidden };

/// The server's current table, replaced whole on reload (SIGHUP), and the
/// denial counters. Thread-safe.
class authority {
 public:
  explicit authority(std::shared_ptr<const table> t) : table_(std::move(t)) {}

  std::shared_ptr<const table> current() const { return table_.load(); }
  /// Bumped by every replace(): a cached lookup from an older one is stale.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  /// Installs `t`, then calls every listener (from this thread).
  void replace(std::shared_ptr<const table> t);

  /// `fn` runs after each replace(); returns its handle for unlisten().
  uint64_t listen(std::function<void()> fn);
  void unlisten(uint64_t handle);

  void count(denial d) {
    (d == denial::unauthorized ? unauthorized_ : forbidden_).fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t denied(denial d) const {
    return (d == denial::unauthorized ? unauthorized_ : forbidden_).load(std::memory_order_relaxed);
  }

 private:
  std::atomic<std::shared_ptr<const table>> table_;
  std::atomic<uint64_t> generation_{1};
  std::atomic<uint64_t> unauthorized_{0}, forbidden_{0};
  std::mutex mu_;
  uint64_t next_listener_ = 1;
  std::map<uint64_t, std::function<void()>> listeners_;
};

/// One connection's view of the authority: the last token it presented,
/// looked up again only when the token or the table changes. One thread.
class cached_check {
 public:
  /// The principal for `token` (null: unknown). Valid until the next call.
  const principal* check(const authority& a, std::string_view token);

  /// The table the last check used: keeps its principal alive.
  const std::shared_ptr<const table>& held() const { return table_; }

 private:
  std::string token_;
  uint64_t generation_ = 0;
  std::shared_ptr<const table> table_;
  const principal* who_ = nullptr;
};

} // namespace sluice::http::auth
