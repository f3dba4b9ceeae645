// What one run of the driver shares between its threads and connections:
// the settings and counters of the run (shared_state) and what each I/O
// thread owns (thread_ctx). Internal to the driver.
#pragma once

#include "commands.h"
#include "histogram.h"
#include "report.h"
#include "driver.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>
#include "e2e_matcher.h"
#include "zipf.h"

namespace sluice::load::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using boost::system::error_code;

enum section_id : size_t { s_commands, s_batches, s_queries, s_count };
constexpr const char* k_section_names[] = {"commands", "batches", "queries"};

inline int64_t ns_of(steady::time_point t) { return t.time_since_epoch().count(); }

/// Error names come from the server: keep them to a safe alphabet.
inline std::string error_name(int status, std::string_view code) {
  std::string out = std::to_string(status);
  if (!code.empty())
    out.push_back(' ');
  for (char c : code.substr(0, 40))
    out.push_back((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ? c : '?');
  return out;
}

/// What one I/O thread owns. Only its own thread touches it while the run
/// goes on; the main thread takes `interval` through a posted handler.
struct thread_ctx {
  asio::io_context ioc{1};
  std::array<section, s_count> interval;
  uint64_t ws_messages = 0;
  std::vector<ack> acks;
  std::vector<command> unknown;
  uint64_t unanswered = 0;
  std::map<std::string, uint64_t> ws_errors;
  simdjson::dom::parser parser;
  std::mt19937_64 rng;

  explicit thread_ctx(uint64_t seed) : rng(seed) {}
};

/// Settings and counters every connection of the run shares.
struct shared_state {
  const options& opt;
  std::string run;
  std::string host;
  std::string auth_header;                 ///< "Authorization: Bearer …\r\n", or empty
  std::shared_ptr<asio::ssl::context> tls; ///< https://; null: plain
  tcp::endpoint ep;
  key_chooser keys;
  bool record_acks = false;
  bool e2e = false;
  e2e_matcher matcher;
  steady::time_point start;
  std::atomic<int64_t> measure_from{INT64_MAX};
  std::atomic<int64_t> measure_until{INT64_MAX};
  std::atomic<bool> stopping{false};
  std::atomic<int64_t> budget{INT64_MAX};
  std::atomic<int64_t> outstanding{0};
  std::atomic<unsigned> subscribed{0};
  std::atomic<int64_t> last_answer{0};

  shared_state(const options& o) : opt(o), keys(o.aggregates, o.zipf) {}

  bool measured(steady::time_point intended) const {
    int64_t t = ns_of(intended);
    return t >= measure_from.load(std::memory_order_relaxed) && t < measure_until.load(std::memory_order_relaxed);
  }

  domain pick_domain(std::mt19937_64& rng) const {
    unsigned total = opt.orders_weight + opt.accounts_weight;
    return std::uniform_int_distribution<unsigned>(0, total - 1)(rng) < opt.orders_weight ? domain::order
                                                                                          : domain::account;
  }
};

} // namespace sluice::load::detail
