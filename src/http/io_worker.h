// An I/O thread of the HTTP server, and the way answers computed on other
// threads come back to its connections. The server (server.cpp) owns the
// workers, runs one thread per worker and stops them before destroying
// them; each session (http_session.h) lives on one worker. No Beast here.
#pragma once

#include "http/body_budget.h"
#include "http/routes.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <memory>
#include <mutex>
#include <vector>

namespace sluice::http {

/// Where an answer computed on another thread goes back to: a connection.
class answer_sink {
 public:
  virtual ~answer_sink() = default;
  /// Fills the answer to request `seq` (counted from the connection's first). I/O thread only.
  virtual void answered(size_t seq, reply r) = 0;
};

/// One I/O thread with an io_context of its own.
// Its connections need no strand, and answers computed on other threads
// reach it through an inbox, which wakes the thread once per burst rather
// than once per answer. drain() is in server.cpp, beside the threads.
class io_worker {
 public:
  struct answer {
    std::shared_ptr<answer_sink> to;
    size_t seq; ///< which of the connection's requests it answers
    reply r;
  };

  explicit io_worker(body_budget& b) : budget(b) {}

  boost::asio::io_context ioc{1}; // one thread runs it
  budget_share budget;            ///< this thread's share of the body budget

  /// Thread-safe.
  void deliver(answer a) {
    bool wake;
    {
      std::lock_guard lk(mu_);
      inbox_.push_back(std::move(a));
      wake = !scheduled_;
      scheduled_ = true;
    }
    if (wake)
      boost::asio::post(ioc, [this] { drain(); });
  }

 private:
  /// Hands every answer in the inbox to its connection. On the I/O thread.
  void drain();

  std::mutex mu_;
  std::vector<answer> inbox_;
  std::vector<answer> draining_; // kept: its capacity is reused
  bool scheduled_ = false;
};

} // namespace sluice::http
