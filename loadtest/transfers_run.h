// One run of the transfers workload (SPEC §13); internal to it. Its parts
// live in one source each: the run's course (transfers.cpp), the senders
// (transfers_send.cpp), the transfer_status subscriber
// (transfers_subscriber.cpp) and --verify (transfers_verify.cpp).
#pragma once

#include "blocking_client.h"
#include "connect.h"
#include "driver.h"
#include "histogram.h"
#include "report.h"
#include "zipf.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace sluice::load::detail {

using steady = std::chrono::steady_clock;

inline constexpr int64_t k_opening_cents = 100'000; // each account starts with 1,000.00

/// The run's ids: open accounts, closed ones, ones never opened, transfers.
inline std::string account_id(std::string_view run, uint64_t k) { return fmt::format("ACC-{}-{}", run, k); }
inline std::string closed_id(std::string_view run, uint64_t k) { return fmt::format("CLS-{}-{}", run, k); }
inline std::string missing_id(std::string_view run, uint64_t k) { return fmt::format("NONE-{}-{}", run, k); }
inline std::string transfer_prefix(std::string_view run) { return fmt::format("TR-{}-", run); }

/// How one transfer of the run went, as the subscriber saw it.
struct tracked {
  steady::time_point acked{};
  bool was_acked = false;
  bool ended = false;
  std::string outcome; // "completed" or "failed <reason>"
};

/// The run: set_up, start, measure and finish, in that order, from one
/// thread; it starts one thread per connection (send) and one subscriber
/// thread (subscribe), and joins them in finish or its destructor. Throws
/// std::runtime_error from set_up and start when the run cannot start.
class transfers_run {
 public:
  explicit transfers_run(const options& opt) : opt_(opt), keys_(opt.aggregates, opt.zipf) {}
  ~transfers_run();
  transfers_run(const transfers_run&) = delete;
  transfers_run& operator=(const transfers_run&) = delete;

  /// Opens the run's accounts and closes a few, before the clock starts.
  void set_up();
  /// Subscribes to transfer_status, lets its snapshot pass, starts the senders.
  void start();
  /// Until --duration or --count, then until every acknowledged transfer ended.
  void measure();
  report finish();

 private:
  struct sender; // what one sender thread owns (transfers_send.cpp)

  // transfers_send.cpp: a thread per connection.
  void send(uint32_t conn);
  bool claim(int64_t& n);
  bool wait_turn(sender& s, int64_t n);
  void fill_batch(sender& s, int64_t n);
  void append_transfer(std::string& out, std::mt19937_64& rng, uint32_t conn, uint64_t seq);
  void record_batch(const section& mine, const std::vector<size_t>& accepted, const std::vector<std::string>& ids,
                    steady::time_point now);
  void record_end(tracked& t, steady::time_point ended_at);

  // transfers_subscriber.cpp: the subscriber thread.
  void subscribe();
  template <class Stream>
  void read_stream(Stream& ws);
  void on_message(std::string_view text, simdjson::dom::parser& parser);
  void note_error(std::string what);
  void close_subscriber();

  // transfers_verify.cpp
  verify_result verify();

  const options& opt_;
  key_chooser keys_;
  target target_;
  std::string run_;
  uint64_t closed_ = 1;
  std::optional<blocking_client> client_;
  boost::asio::io_context ioc_;

  std::atomic<bool> stop_{false};
  std::atomic<int64_t> budget_{INT64_MAX};
  std::atomic<size_t> senders_done_{0};
  std::vector<std::thread> senders_;
  std::thread subscriber_;
  steady::time_point start_{}, sent_until_{};

  std::mutex mu_; // guards everything below
  std::condition_variable cv_;
  bool subscribed_ = false, closing_ = false;
  std::string sub_error_;
  boost::asio::ip::tcp::socket* socket_ = nullptr;
  std::unordered_map<std::string, tracked> tracked_;
  section batches_;
  histogram ended_latency_;
  uint64_t acked_ = 0, ended_ = 0, ended_acked_ = 0, unanswered_ = 0;
  std::atomic<uint64_t> ws_messages_{0};
  steady::time_point last_end_{};
  std::vector<point> series_;
};

} // namespace sluice::load::detail
