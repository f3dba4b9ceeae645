#include "http/auth.h"

#include "base/hex.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <simdjson.h>
#include <sys/random.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <stdexcept>

namespace sluice::http::auth {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20); // ASCII letters only: the scheme is one word
         });
}

std::optional<digest> from_hex(std::string_view hex) {
  if (hex.size() != 64)
    return std::nullopt;
  digest d{};
  for (size_t i = 0; i < 32; ++i) {
    int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    d[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return d;
}

bool sorted_contains(const std::vector<std::string>& v, std::string_view x) {
  auto it = std::ranges::lower_bound(v, x, {}, [](const std::string& s) { return std::string_view(s); });
  return it != v.end() && *it == x;
}

// A name after "commands:" or "views:": what an aggregate type or view may be called.
bool valid_name(std::string_view n) {
  return !n.empty() && n.size() <= 128 && std::ranges::all_of(n, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
}

// One valid grant (valid_grant) added to `r`.
void add_grant(grants& r, std::string_view s) {
  if (s == "events")
    r.events = true;
  else if (s == "metrics")
    r.metrics = true;
  else if (s == "admin")
    r.admin = true;
  else if (s == "commands:*")
    r.all_commands = true;
  else if (s == "views:*")
    r.all_views = true;
  else if (s.starts_with("commands:"))
    r.command_types.emplace_back(s.substr(9));
  else
    r.views.emplace_back(s.substr(6));
}

// A token's "grants" array; the error says what is wrong, without naming the token.
std::expected<grants, std::string> parse_grants(simdjson::dom::array list) {
  grants r;
  for (auto g : list) {
    std::string_view s;
    if (g.get_string().get(s))
      return std::unexpected(std::string("grants must be an array of strings"));
    if (!valid_grant(s))
      return std::unexpected(
          fmt::format("unknown grant '{}' (commands:<type>, commands:*, views:<view>, views:*, events, metrics, admin)",
                      s.substr(0, 80)));
    add_grant(r, s);
  }
  for (auto* v : {&r.command_types, &r.views}) {
    std::ranges::sort(*v);
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
  return r;
}

} // namespace

digest sha256(std::string_view text) {
  digest d{};
  unsigned int n = 0;
  if (EVP_Digest(text.data(), text.size(), d.data(), &n, EVP_sha256(), nullptr) != 1 || n != d.size())
    throw std::runtime_error("SHA-256 failed"); // only when OpenSSL cannot load its default provider
  return d;
}

std::string to_hex(const digest& d) {
  std::string out;
  out.reserve(64);
  for (auto b : d)
    fmt::format_to(std::back_inserter(out), "{:02x}", b);
  return out;
}

std::string new_token() {
  std::array<unsigned char, 32> raw{};
  size_t got = 0;
  while (got < raw.size()) {
    ssize_t n = ::getrandom(raw.data() + got, raw.size() - got, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      throw std::runtime_error(fmt::format("getrandom: {}", std::strerror(errno)));
    }
    got += static_cast<size_t>(n);
  }
  static constexpr char k_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (auto b : raw) {
    acc = acc << 8 | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(k_alphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0)
    out.push_back(k_alphabet[(acc << (6 - bits)) & 63]);
  return out;
}

bool valid_grant(std::string_view g) {
  if (g == "events" || g == "metrics" || g == "admin" || g == "commands:*" || g == "views:*")
    return true;
  for (std::string_view prefix : {"commands:", "views:"})
    if (g.starts_with(prefix))
      return valid_name(g.substr(prefix.size()));
  return false;
}

bool grants::may_command(std::string_view aggregate_type) const {
  return all_commands || sorted_contains(command_types, aggregate_type);
}

bool grants::may_read(std::string_view view) const { return all_views || sorted_contains(views, view); }

size_t table::digest_hash::operator()(const digest& d) const {
  size_t h = 0;
  std::memcpy(&h, d.data(), sizeof h); // a SHA-256 digest is uniform already
  return h;
}

std::expected<table, std::string> table::parse(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element root;
  if (auto e = parser.parse(padded).get(root))
    return std::unexpected(fmt::format("not valid JSON: {}", simdjson::error_message(e)));
  simdjson::dom::array tokens;
  if (root["tokens"].get_array().get(tokens))
    return std::unexpected(std::string(R"(expected {"tokens":[…]})"));
  table t;
  std::set<std::string, std::less<>> names;
  size_t i = 0;
  for (auto entry : tokens) {
    auto where = [&](std::string_view what) { return fmt::format("tokens[{}]: {}", i, what); };
    simdjson::dom::object obj;
    if (entry.get_object().get(obj))
      return std::unexpected(where("expected an object with name, sha256 and grants"));
    std::string_view name, hex;
    if (obj["name"].get_string().get(name) || name.empty())
      return std::unexpected(where("name must be a non-empty string"));
    auto at = [&](std::string_view what) { return fmt::format("tokens[{}] ({}): {}", i, name, what); };
    if (!names.insert(std::string(name)).second)
      return std::unexpected(at("a second token with this name"));
    if (obj["sha256"].get_string().get(hex))
      return std::unexpected(at("sha256 must be a string: the hex SHA-256 of the token"));
    auto d = from_hex(hex);
    if (!d)
      return std::unexpected(at(fmt::format("sha256 must be 64 hex digits, not {} characters", hex.size())));
    simdjson::dom::array list;
    if (obj["grants"].get_array().get(list))
      return std::unexpected(at("grants must be an array of strings"));
    auto rights = parse_grants(list);
    if (!rights)
      return std::unexpected(at(rights.error()));
    principal p{std::string(name), *d, std::move(*rights)};
    if (!t.by_digest_.emplace(*d, std::move(p)).second)
      return std::unexpected(at("the same sha256 as an earlier token"));
    ++i;
  }
  return t;
}

std::expected<table, std::string> table::load(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return std::unexpected(fmt::format("{}: cannot read: {}", file.string(), std::strerror(errno)));
  std::string text((std::istreambuf_iterator<char>(in)), {});
  auto t = parse(text);
  if (!t)
    return std::unexpected(fmt::format("{}: {}", file.string(), t.error()));
  return t;
}

const principal* table::find(std::string_view token) const { return find_digest(sha256(token)); }

const principal* table::find_digest(const digest& d) const {
  auto it = by_digest_.find(d);
  // The map compared the digests already; compare again in constant time so
  // that no early exit depends on how much of a guessed digest matched.
  if (it == by_digest_.end() || CRYPTO_memcmp(it->first.data(), d.data(), d.size()) != 0)
    return nullptr;
  return &it->second;
}

std::optional<std::string_view> bearer(std::string_view header) {
  while (!header.empty() && (header.front() == ' ' || header.front() == '\t'))
    header.remove_prefix(1);
  if (header.size() < 7 || !iequals(header.substr(0, 6), "bearer") || (header[6] != ' ' && header[6] != '\t'))
    return std::nullopt;
  header.remove_prefix(7);
  while (!header.empty() && (header.front() == ' ' || header.front() == '\t'))
    header.remove_prefix(1);
  while (!header.empty() && (header.back() == ' ' || header.back() == '\t'))
    header.remove_suffix(1);
  if (header.empty() || header.size() > 4096 || header.find_first_of(" \t") != std::string_view::npos)
    return std::nullopt;
  return header;
}

void authority::replace(std::shared_ptr<const table> t) {
  table_.store(std::move(t));
  generation_.fetch_add(1, std::memory_order_acq_rel);
  std::vector<std::function<void()>> calls;
  {
    std::lock_guard lk(mu_);
    for (auto& [h, fn] : listeners_)
      calls.push_back(fn);
  }
  for (auto& fn : calls)
    fn();
}

uint64_t authority::listen(std::function<void()> fn) {
  std::lock_guard lk(mu_);
  listeners_.emplace(next_listener_, std::move(fn));
  return next_listener_++;
}

void authority::unlisten(uint64_t handle) {
  std::lock_guard lk(mu_);
  listeners_.erase(handle);
}

const principal* cached_check::check(const authority& a, std::string_view token) {
  uint64_t gen = a.generation();
  if (gen == generation_ && token.size() == token_.size() &&
      CRYPTO_memcmp(token.data(), token_.data(), token.size()) == 0)
    return who_;
  table_ = a.current();
  who_ = table_->find(token);
  token_.assign(token);
  generation_ = gen;
  return who_;
}

} // namespace sluice::http::auth
