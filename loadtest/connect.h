// Where the driver connects and how: the --url, TLS, readiness. Shared by
// every workload.
#pragma once

#include "blocking_client.h"
#include "driver.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>

#include <memory>
#include <string>

namespace sluice::load {

struct endpoint_spec {
  std::string host;
  std::string port;
  bool tls = false;
};

/// http:// or https:// (wss:// is taken as https://: streams go over the
/// same TLS). Throws std::runtime_error for anything else.
endpoint_spec parse_url(const std::string& url);

/// The server of `opt.url`, resolved, with its Host header value and, for
/// https://, the client's TLS context (verifying with --ca-file, else not).
struct target {
  boost::asio::ip::tcp::endpoint ep;
  std::string host;
  std::shared_ptr<boost::asio::ssl::context> tls;
};
target resolve_target(const options& opt);

std::string random_run_id();

/// A server replaying a large log answers 503 until it is done; one just
/// started may not listen yet. Throws std::runtime_error after 120 s.
void wait_ready(blocking_client& client);

} // namespace sluice::load
