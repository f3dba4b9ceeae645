#include "app/views_cli.h"

#include "base/host_port.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <cctype>
#include <iostream>
#include <vector>

namespace sluice::app {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;
namespace ssl = boost::asio::ssl;

struct answer {
  int status = 0;
  std::string body;
};

// `s` as the inside of a JSON string.
std::string json_escaped(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (static_cast<unsigned char>(c) < 0x20)
      out += fmt::format("\\u{:04x}", c);
    else
      out += c;
  }
  return out;
}

// Where --server points, and whether it speaks TLS.
struct server_address {
  host_port hp;
  bool tls = false;
};

server_address parse_server(const std::string& server) {
  std::string_view url = server;
  bool tls = false;
  if (url.starts_with("http://"))
    url.remove_prefix(7);
  else if (url.starts_with("https://")) {
    url.remove_prefix(8);
    tls = true;
  } else if (url.find("://") != std::string_view::npos)
    throw std::runtime_error(fmt::format("--server {}: expected an http:// or https:// URL", server));
  if (auto slash = url.find('/'); slash != std::string_view::npos)
    url = url.substr(0, slash);
  auto hp = parse_host_port(url, tls ? 443 : 80);
  if (!hp)
    throw std::runtime_error(fmt::format("--server: {}", hp.error()));
  return {std::move(*hp), tls};
}

void connect_tcp(tcp::resolver& resolver, beast::tcp_stream& tcp_layer, const host_port& hp,
                 const views_cli_options& o) {
  beast::error_code ec;
  auto endpoints = resolver.resolve(hp.host, std::to_string(hp.port), ec);
  if (!ec)
    tcp_layer.connect(endpoints, ec);
  if (ec)
    throw std::runtime_error(fmt::format("cannot reach {}: {}", o.server, ec.message()));
}

// The server's certificate is checked against --ca-file, or the system's CAs, and its name.
// `host` is not const because SSL_ctrl takes it as a void*.
void tls_handshake(ssl::context& ctx, beast::ssl_stream<beast::tcp_stream>& stream, std::string& host,
                   const views_cli_options& o) {
  beast::error_code ec;
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  if (o.ca_file.empty())
    ctx.set_default_verify_paths(ec);
  else
    ctx.load_verify_file(o.ca_file, ec);
  if (ec)
    throw std::runtime_error(fmt::format("--ca-file {}: {}", o.ca_file, ec.message()));
  stream.set_verify_mode(ssl::verify_peer);
  stream.set_verify_callback(ssl::host_name_verification(host));
  SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, host.data());
  stream.handshake(ssl::stream_base::client, ec);
  if (ec)
    throw std::runtime_error(fmt::format("TLS with {}: {}", o.server, ec.message()));
}

http::request<http::string_body> make_request(const views_cli_options& o, http::verb verb, const std::string& target,
                                              const std::string& body, const std::string& host) {
  http::request<http::string_body> rq{verb, target, 11};
  rq.set(http::field::host, host);
  if (!o.token.empty())
    rq.set(http::field::authorization, "Bearer " + o.token);
  if (verb == http::verb::post) {
    rq.set(http::field::content_type, "application/json");
    rq.body() = body.empty() ? "{}" : body;
  }
  rq.prepare_payload();
  return rq;
}

// One request to the server's admin API; throws with a sentence on failure.
answer call(const views_cli_options& o, http::verb verb, const std::string& target, const std::string& body = {}) {
  auto [hp, tls] = parse_server(o.server);
  boost::asio::io_context ioc;
  tcp::resolver resolver(ioc);
  ssl::context ctx(ssl::context::tls_client);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  auto& tcp_layer = beast::get_lowest_layer(stream);
  tcp_layer.expires_after(std::chrono::seconds(30));
  connect_tcp(resolver, tcp_layer, hp, o);
  if (tls)
    tls_handshake(ctx, stream, hp.host, o);
  auto rq = make_request(o, verb, target, body, hp.host);
  beast::error_code ec;
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  if (tls) {
    http::write(stream, rq, ec);
    if (!ec)
      http::read(stream, buffer, res, ec);
  } else {
    http::write(tcp_layer, rq, ec);
    if (!ec)
      http::read(tcp_layer, buffer, res, ec);
  }
  if (ec)
    throw std::runtime_error(fmt::format("{} {}: {}", std::string(http::to_string(verb)), target, ec.message()));
  return {static_cast<int>(res.result_int()), std::move(res.body())};
}

// The server's error message, or the body as it came.
std::string error_text(const answer& a) {
  simdjson::dom::parser p;
  std::string_view message;
  if (!p.parse(a.body)["error"]["message"].get(message))
    return fmt::format("{} ({})", message, a.status);
  return fmt::format("HTTP {}: {}", a.status, a.body.substr(0, 300));
}

// Columns padded to their widest cell.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) {
      width.resize(std::max(width.size(), r.size()));
      width[i] = std::max(width[i], r[i].size());
    }
  for (auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i)
      line += i + 1 < r.size() ? fmt::format("{:<{}}  ", r[i], width[i]) : r[i];
    std::cout << line << '\n';
  }
}

int list(const views_cli_options& o) {
  auto a = call(o, http::verb::get, "/v1/admin/views");
  if (a.status != 200) {
    std::cerr << "sluice views list: " << error_text(a) << '\n';
    return 1;
  }
  if (o.json) {
    std::cout << a.body << '\n';
    return 0;
  }
  simdjson::dom::parser p;
  simdjson::dom::array items;
  if (p.parse(a.body).get(items)) {
    std::cerr << "sluice views list: the server's answer is not a JSON array\n";
    return 1;
  }
  std::vector<std::vector<std::string>> rows{{"VIEW", "VERSION", "STATE", "POSITION", "LAG", "PARKED", "BUILD"}};
  for (auto v : items) {
    auto text = [&](simdjson::dom::element from, const char* k) {
      std::string_view x;
      return from[k].get(x) ? std::string("?") : std::string(x);
    };
    auto number = [&](simdjson::dom::element from, const char* k) {
      uint64_t x = 0;
      return from[k].get(x) ? std::string("?") : std::to_string(x);
    };
    std::string build = "-";
    if (simdjson::dom::element b; !v["build"].get(b) && b.is_object())
      build = fmt::format("{}/{} ({} events/s)", number(b, "position"), number(b, "target"),
                          number(b, "events_per_second"));
    rows.push_back({text(v, "view"), number(v, "version"), text(v, "state"), number(v, "position"), number(v, "lag"),
                    number(v, "parked"), build});
  }
  print_table(rows);
  return 0;
}

int rebuild(const views_cli_options& o) {
  auto a = call(o, http::verb::post, fmt::format("/v1/admin/views/{}/rebuild", o.view));
  if (o.json && a.status < 300) {
    std::cout << a.body << '\n';
    return 0;
  }
  if (a.status != 202) {
    std::cerr << "sluice views rebuild: " << error_text(a) << '\n';
    return 1;
  }
  std::cout << fmt::format("view {} rebuilds from the log's start; `sluice views list` shows its progress\n", o.view);
  return 0;
}

int errors(const views_cli_options& o) {
  std::vector<std::vector<std::string>> rows{
      {"KEY", "POSITION", "EVENT", "PARKED", "ATTEMPTS", "FIRST FAILED", "ERROR"}};
  std::string after, json;
  for (;;) {
    auto target = fmt::format("/v1/admin/views/{}/errors?limit=1000", o.view);
    if (!after.empty()) {
      target += "&after=";
      for (unsigned char ch : after)
        target += std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' ? std::string(1, static_cast<char>(ch))
                                                                          : fmt::format("%{:02X}", ch);
    }
    auto a = call(o, http::verb::get, target);
    if (a.status != 200) {
      std::cerr << "sluice views errors: " << error_text(a) << '\n';
      return 1;
    }
    if (o.json) {
      std::cout << a.body << '\n';
      return 0;
    }
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    simdjson::dom::array items;
    if (p.parse(a.body).get(doc) || doc["items"].get(items)) {
      std::cerr << "sluice views errors: the server's answer is not an error page\n";
      return 1;
    }
    for (auto e : items) {
      auto text = [&](const char* k) {
        std::string_view x;
        return e[k].get(x) ? std::string("?") : std::string(x);
      };
      auto number = [&](const char* k) {
        uint64_t x = 0;
        return e[k].get(x) ? std::string("?") : std::to_string(x);
      };
      rows.push_back({text("key"), number("position"), text("event_type"), number("parked"), number("attempts"),
                      text("first_failed_at"), text("error")});
    }
    std::string_view next;
    if (doc["next"].get(next))
      break;
    after = std::string(next);
  }
  print_table(rows);
  return 0;
}

int replay_or_skip(const views_cli_options& o, bool skip) {
  std::string body = o.key.empty() ? "{}" : fmt::format(R"({{"key":"{}"}})", json_escaped(o.key));
  auto a =
      call(o, http::verb::post, fmt::format("/v1/admin/views/{}/errors/{}", o.view, skip ? "skip" : "replay"), body);
  if (a.status != 200) {
    std::cerr << "sluice views " << o.action << ": " << error_text(a) << '\n';
    return 1;
  }
  if (o.json) {
    std::cout << a.body << '\n';
    return 0;
  }
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  uint64_t n = 0, still = 0;
  if (p.parse(a.body).get(doc) || doc[skip ? "skipped" : "replayed"].get(n) ||
      (!skip && doc["still_parked"].get(still))) {
    std::cerr << "sluice views " << o.action << ": the server's answer is not JSON\n";
    return 1;
  }
  if (skip) {
    std::cout << fmt::format("{} parked events of key {} skipped\n", n, o.key);
  } else {
    std::cout << fmt::format("{} keys replayed, {} still parked\n", n, still);
  }
  return 0;
}

} // namespace

int views_cli(const views_cli_options& o) {
  try {
    if (o.action == "list")
      return list(o);
    if (o.action == "rebuild")
      return rebuild(o);
    if (o.action == "errors")
      return errors(o);
    if (o.action == "replay")
      return replay_or_skip(o, false);
    if (o.action == "skip")
      return replay_or_skip(o, true);
  } catch (const std::exception& e) {
    std::cerr << "sluice views " << o.action << ": " << e.what() << '\n';
    return 2;
  }
  std::cerr << "sluice views: unknown action " << o.action << '\n';
  return 2;
}

} // namespace sluice::app
