#include "http/server.h"

#include "base/logger.h"
#include "base/thread_name.h"
#include "http/body_budget.h"
#include "http/http_session.h"
#include "http/io_worker.h"
#include "http/tls.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/error.hpp>

#include <optional>
#include <thread>

namespace sluice::http {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

constexpr logger k_log("http");

} // namespace

void io_worker::drain() {
  {
    std::lock_guard lk(mu_);
    draining_.swap(inbox_);
    scheduled_ = false;
  }
  for (auto& a : draining_)
    a.to->answered(a.seq, std::move(a.r));
  draining_.clear();
}

struct server::impl {
  impl(engine::engine& e, server_options o) : engine(e), opts(std::move(o)), budget(opts.limits.body_memory_bytes) {
    for (unsigned i = 0; i < std::max(1u, opts.io_threads); ++i)
      workers.push_back(std::make_unique<io_worker>(budget));
  }

  // Connections go to the I/O threads in turn; the acceptor lives on the first.
  void do_accept() {
    auto& home = *workers[next_worker++ % workers.size()];
    acceptor->async_accept(home.ioc.get_executor(), [this, &home](beast::error_code ec, accepted_socket socket) {
      if (!ec) {
        // Answers and stream messages are small and latency-bound: no Nagle.
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        if (tls)
          start_http_session(home, engine, opts, std::move(socket), *tls);
        else
          start_http_session(home, engine, opts, std::move(socket));
      } else if (ec == net::error::operation_aborted)
        return;
      else
        k_log.warn("accept: {}", ec.message());
      if (acceptor->is_open())
        do_accept();
    });
  }

  engine::engine& engine;
  server_options opts;
  std::optional<boost::asio::ssl::context> tls; ///< with --tls-cert and --tls-key
  body_budget budget;
  std::vector<std::unique_ptr<io_worker>> workers;
  size_t next_worker = 0;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  uint16_t port = 0;
};

server::server(engine::engine& e, server_options o) : impl_(std::make_unique<impl>(e, std::move(o))) {}

server::~server() { stop(); }

std::expected<void, error> server::start() {
  auto& m = *impl_;
  if (!m.opts.tls_cert.empty() || !m.opts.tls_key.empty()) {
    if (m.opts.tls_cert.empty() || m.opts.tls_key.empty())
      return std::unexpected(error{errc::tls, "TLS needs both --tls-cert and --tls-key"});
    m.tls.emplace(boost::asio::ssl::context::tls_server);
    if (auto r = load_tls(*m.tls, m.opts.tls_cert, m.opts.tls_key); !r) {
      m.tls.reset();
      return r;
    }
  }
  beast::error_code ec;
  auto address = net::ip::make_address(m.opts.address == "localhost" ? "127.0.0.1" : m.opts.address, ec);
  if (ec)
    return std::unexpected(error{errc::bad_address, "bad listen address '" + m.opts.address + "': " + ec.message()});
  tcp::endpoint endpoint{address, m.opts.port};
  m.acceptor.emplace(m.workers.front()->ioc);
  if (m.acceptor->open(endpoint.protocol(), ec); ec)
    return std::unexpected(error{errc::listen, "open: " + ec.message()});
  m.acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (m.acceptor->bind(endpoint, ec); ec)
    return std::unexpected(
        error{errc::bind, "bind " + m.opts.address + ":" + std::to_string(m.opts.port) + ": " + ec.message()});
  if (m.acceptor->listen(net::socket_base::max_listen_connections, ec); ec)
    return std::unexpected(error{errc::listen, "listen: " + ec.message()});
  m.port = m.acceptor->local_endpoint().port();
  m.do_accept();
  for (auto& w : m.workers)
    m.threads.emplace_back([&ioc = w->ioc] {
      name_this_thread("sluice.io");
      auto guard = net::make_work_guard(ioc); // a thread without connections waits for one
      ioc.run();
    });
  return {};
}

uint16_t server::port() const { return impl_->port; }

void server::stop_accepting() {
  auto& m = *impl_;
  if (m.acceptor)
    net::post(m.workers.front()->ioc, [&m] {
      beast::error_code ec;
      m.acceptor->close(ec);
    });
}

void server::stop() {
  auto& m = *impl_;
  if (m.threads.empty())
    return;
  for (auto& w : m.workers)
    w->ioc.stop();
  for (auto& t : m.threads)
    t.join();
  m.threads.clear();
}

} // namespace sluice::http
