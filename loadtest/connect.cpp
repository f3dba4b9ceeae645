#include "connect.h"

#include "base/host_port.h"

#include <boost/asio/ip/tcp.hpp>
#include <fmt/format.h>

#include <chrono>
#include <random>
#include <stdexcept>
#include <thread>

namespace sluice::load {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

endpoint_spec parse_url(const std::string& url) {
  std::string_view u = url;
  bool tls = false;
  if (u.starts_with("http://"))
    u.remove_prefix(7);
  else if (u.starts_with("https://") || u.starts_with("wss://")) {
    u.remove_prefix(u.find("://") + 3);
    tls = true;
  } else if (u.find("://") != std::string_view::npos)
    throw std::runtime_error(fmt::format("--url {}: expected http:// or https://", url));
  auto hp = parse_host_port(u.substr(0, u.find('/')), tls ? 443 : 80);
  if (!hp)
    throw std::runtime_error(fmt::format("--url {}", hp.error()));
  return {hp->host, std::to_string(hp->port), tls};
}

target resolve_target(const options& opt) {
  auto spec = parse_url(opt.url);
  asio::io_context resolver_ctx;
  asio::ip::tcp::resolver resolver(resolver_ctx);
  boost::system::error_code ec;
  auto found = resolver.resolve(spec.host, spec.port, ec);
  if (ec || found.empty())
    throw std::runtime_error(fmt::format("cannot resolve {}: {}", opt.url, ec.message()));
  target t;
  t.ep = found.begin()->endpoint();
  t.host = spec.host.find(':') == std::string::npos ? spec.host + ":" + spec.port : "[" + spec.host + "]:" + spec.port;
  if (spec.tls) {
    t.tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(t.tls->native_handle(), TLS1_2_VERSION);
    if (!opt.ca_file.empty()) {
      t.tls->load_verify_file(opt.ca_file);
      t.tls->set_verify_mode(asio::ssl::verify_peer);
    } else {
      t.tls->set_verify_mode(asio::ssl::verify_none); // it measures; --ca-file to authenticate the server
    }
  }
  return t;
}

std::string random_run_id() {
  std::random_device rd;
  return fmt::format("{:08x}",
                     (uint64_t{rd()} ^ static_cast<uint64_t>(steady::now().time_since_epoch().count())) & 0xffffffffu);
}

void wait_ready(blocking_client& client) {
  auto deadline = steady::now() + std::chrono::seconds(120);
  for (;;) {
    std::string why;
    try {
      auto res = client.get("/readyz");
      if (res.status == 200)
        return;
      why = fmt::format("HTTP {}", res.status);
    } catch (const boost::system::system_error& e) {
      // Refused: give a server that is starting a few seconds, no more.
      if (steady::now() > deadline - std::chrono::seconds(115))
        throw std::runtime_error(fmt::format("cannot connect: {}", e.code().message()));
    }
    if (steady::now() > deadline)
      throw std::runtime_error(fmt::format("server not ready after 120 s: {}", why));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

} // namespace sluice::load
