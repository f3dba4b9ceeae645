// TLS (SPEC §11): HTTPS and WSS on the listen port with a certificate the
// test makes with `openssl`; curl and a Beast SSL client; a plain-HTTP
// client and a silent one get their connections closed, not a hang; bad
// files are refused at start.
#include "client.h"
#include "server_fixture.h"

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <cstdlib>

using namespace sluice;
using namespace sluice::testing;
using namespace std::chrono_literals;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

// A self-signed certificate for localhost, and a key of another pair.
struct tls_files {
  temp_dir dir;
  std::filesystem::path cert = dir.path() / "cert.pem", key = dir.path() / "key.pem",
                        other_key = dir.path() / "other.pem";
  tls_files() {
    auto make = [&](const std::filesystem::path& k, const std::filesystem::path& c) {
      auto cmd = fmt::format(
          "openssl req -x509 -newkey rsa:2048 -nodes -keyout '{}' -out '{}' -days 2 -subj "
          "/CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null",
          k.string(), c.string());
      REQUIRE(std::system(cmd.c_str()) == 0);
    };
    make(key, cert);
    make(other_key, dir.path() / "other-cert.pem");
  }
};

struct tls_server {
  tls_files files;
  server_fixture f{{.header_seconds = 1}, {}, builtin::model(), [this](http::server_options& o) {
                     o.tls_cert = files.cert.string();
                     o.tls_key = files.key.string();
                   }};
  uint16_t port() const { return f.server->port(); }
};

// A client context that trusts the test's certificate only.
ssl::context client_context(const std::filesystem::path& cert) {
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(cert.string());
  ctx.set_verify_mode(ssl::verify_peer);
  return ctx;
}

std::pair<int, std::string> shell(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p))
    out.append(buf, n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

} // namespace

TEST_CASE("HTTPS: a Beast SSL client that verifies the certificate, keep-alive and pipelining", "[http][tls]") {
  tls_server s;
  net::io_context ioc;
  auto ctx = client_context(s.files.cert);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  // SNI (SSL_set_tlsext_host_name is a macro with a C cast).
  REQUIRE(SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                   const_cast<char*>("localhost")) == 1);
  stream.set_verify_callback(ssl::host_name_verification("localhost"));
  beast::get_lowest_layer(stream).connect({net::ip::make_address("127.0.0.1"), s.port()});
  stream.handshake(ssl::stream_base::client);
  CHECK(SSL_version(stream.native_handle()) >= TLS1_2_VERSION);

  auto request = [&](bhttp::verb verb, const std::string& target, const std::string& body) {
    bhttp::request<bhttp::string_body> req{verb, target, 11};
    req.set(bhttp::field::host, "localhost");
    req.body() = body;
    req.prepare_payload();
    return req;
  };
  bhttp::write(stream, request(bhttp::verb::post, "/v1/commands",
                               R"({"type":"order.create","aggregate_id":"O-1","payload":{"customer_id":"C"}})"));
  // Two more before reading: pipelined over TLS.
  bhttp::write(stream, request(bhttp::verb::get, "/v1/views/order_summary/O-1?min_position=1", ""));
  bhttp::write(stream, request(bhttp::verb::get, "/healthz", ""));
  beast::flat_buffer buf;
  std::vector<bhttp::response<bhttp::string_body>> answers(3);
  for (auto& a : answers)
    bhttp::read(stream, buf, a);
  CHECK(answers[0].result_int() == 200);
  CHECK(answers[0].body().find(R"("position":1)") != std::string::npos);
  CHECK(answers[1].result_int() == 200);
  CHECK(answers[1].body().find(R"("order_id":"O-1")") != std::string::npos);
  CHECK(answers[2].body() == R"({"ok":true})");
  beast::error_code ec;
  stream.shutdown(ec); // close_notify answered, or the socket closed: either way no hang
}

TEST_CASE("WSS: subscriptions over TLS", "[http][tls][stream]") {
  tls_server s;
  net::io_context ioc;
  auto ctx = client_context(s.files.cert);
  beast::websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(ioc, ctx);
  beast::get_lowest_layer(ws).connect({net::ip::make_address("127.0.0.1"), s.port()});
  ws.next_layer().handshake(ssl::stream_base::client);
  ws.handshake("localhost", "/v1/stream");
  ws.write(net::buffer(std::string(R"({"op":"subscribe","id":"a","view":"order_summary","key":"O-2"})")));
  beast::flat_buffer b;
  ws.read(b);
  CHECK(json_field(beast::buffers_to_string(b.data()), "type") == "subscribed");
  b.clear();
  ws.read(b);
  CHECK(json_field(beast::buffers_to_string(b.data()), "type") == "snapshot");
  // A change arrives over the same TLS connection.
  beast::ssl_stream<beast::tcp_stream> cmd(ioc, ctx);
  beast::get_lowest_layer(cmd).connect({net::ip::make_address("127.0.0.1"), s.port()});
  cmd.handshake(ssl::stream_base::client);
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/v1/commands", 11};
  req.set(bhttp::field::host, "localhost");
  req.body() = R"({"type":"order.create","aggregate_id":"O-2","payload":{"customer_id":"C"}})";
  req.prepare_payload();
  bhttp::write(cmd, req);
  bhttp::response<bhttp::string_body> res;
  beast::flat_buffer cb;
  bhttp::read(cmd, cb, res);
  REQUIRE(res.result_int() == 200);
  b.clear();
  ws.read(b);
  auto change = beast::buffers_to_string(b.data());
  CHECK(json_field(change, "type") == "change");
  CHECK(json_field(change, "key") == "O-2");
}

TEST_CASE("curl over HTTPS; TLS 1.1 and plain HTTP are refused with a closed connection", "[http][tls]") {
  tls_server s;
  auto base = fmt::format("--resolve localhost:{0}:127.0.0.1 --cacert '{1}' https://localhost:{0}", s.port(),
                          s.files.cert.string());
  auto [rc, out] = shell(fmt::format("curl -s --max-time 10 {}/healthz", base));
  CHECK(rc == 0);
  CHECK(out == R"({"ok":true})");
  auto [old_rc, old_out] = shell(fmt::format("curl -s --max-time 10 --tlsv1.1 --tls-max 1.1 {}/healthz", base));
  CHECK(old_rc == 35); // CURLE_SSL_CONNECT_ERROR: the handshake is refused
  CHECK(old_out.empty());

  // Plain HTTP on the TLS port: the connection is closed, quickly.
  auto started = std::chrono::steady_clock::now();
  http_client plain(s.port());
  CHECK_THROWS(plain.request("GET", "/healthz"));
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  // A client that connects and says nothing is closed at the head deadline (1 s here).
  http_client silent(s.port());
  started = std::chrono::steady_clock::now();
  CHECK(silent.closed_by_peer());
  CHECK(std::chrono::steady_clock::now() - started < 5s);
}

TEST_CASE("a certificate or key that cannot be used is refused at start with a clear error", "[http][tls]") {
  tls_files files;
  server_fixture f;
  auto start_with = [&](const std::string& cert, const std::string& key) {
    http::server_options o;
    o.port = 0;
    o.tls_cert = cert;
    o.tls_key = key;
    http::server srv(*f.engine, o);
    auto r = srv.start();
    REQUIRE_FALSE(r);
    CHECK(r.error().code == http::errc::tls);
    return r.error().message;
  };
  CHECK(start_with(files.cert.string(), files.other_key.string()).find("does not match the certificate") !=
        std::string::npos);
  auto garbage = files.dir.path() / "garbage.pem";
  std::ofstream(garbage) << "not a certificate\n";
  CHECK(start_with(garbage.string(), files.key.string()).find("--tls-cert") != std::string::npos);
  CHECK(start_with(files.cert.string(), garbage.string()).find("--tls-key") != std::string::npos);
  CHECK(start_with((files.dir.path() / "missing.pem").string(), files.key.string()).find("--tls-cert") !=
        std::string::npos);
  CHECK(start_with(files.cert.string(), "").find("both --tls-cert and --tls-key") != std::string::npos);
}
