// sluice-load end to end: against the real server in-process, and against a
// small fake server that loses an event, so --verify is seen to catch it.
#include "blocking_client.h"
#include "driver.h"
#include "http/server_fixture.h"
#include "tally_domain.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <map>
#include <thread>

using namespace sluice::load;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

options base_options(uint16_t port) {
  options o;
  o.url = fmt::format("http://127.0.0.1:{}", port);
  o.connections = 4;
  o.threads = 2;
  o.aggregates = 50;
  o.progress = false;
  o.warmup = 0;
  return o;
}

const section& only_section(const report& r) {
  REQUIRE(r.sections.size() == 1);
  return r.sections[0];
}

/// Answers like sluice, but never writes position 3 to its log and keeps
/// every balance at zero.
class lying_server {
 public:
  lying_server() : acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~lying_server() {
    ioc_.stop();
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  struct session : std::enable_shared_from_this<session> {
    beast::tcp_stream stream;
    beast::flat_buffer buf;
    http::request<http::string_body> req;
    lying_server& srv;
    session(asio::ip::tcp::socket s, lying_server& server) : stream(std::move(s)), srv(server) {}
    void read() {
      req = {};
      http::async_read(stream, buf, req, [self = shared_from_this()](beast::error_code ec, size_t) {
        if (!ec)
          self->respond();
      });
    }
    void respond() {
      auto res = std::make_shared<http::response<http::string_body>>(http::status::ok, 11);
      res->body() = srv.answer(req);
      res->keep_alive(req.keep_alive());
      res->prepare_payload();
      http::async_write(stream, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
        if (!ec)
          self->read();
      });
    }
  };

  void accept() {
    acceptor_.async_accept([this](beast::error_code ec, asio::ip::tcp::socket s) {
      if (ec)
        return;
      std::make_shared<session>(std::move(s), *this)->read();
      accept();
    });
  }

  std::string answer(const http::request<http::string_body>& req) {
    std::string_view target = req.target();
    if (target == "/v1/commands/batch") {
      std::string out;
      for (char c : req.body())
        if (c == '\n')
          out += "{\"status\":200}\n";
      return out;
    }
    if (target == "/v1/commands") {
      auto& body = req.body();
      auto at = body.find("\"command_id\":\"") + 14;
      uint64_t pos = ++last_;
      log_[pos] = body.substr(at, body.find('"', at) - at);
      return fmt::format(R"({{"ok":true,"position":{}}})", pos);
    }
    if (target.starts_with("/v1/events")) {
      std::string out;
      for (auto& [pos, id] : log_)
        if (pos != 3)
          out += fmt::format(R"({{"position":{},"command_id":"{}"}})", pos, id) + "\n";
      return out;
    }
    return R"({"value":{"balance":0.00}})";
  }

  asio::io_context ioc_;
  asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  uint64_t last_ = 0;
  std::map<uint64_t, std::string> log_;
};

} // namespace

TEST_CASE("sluice-load ingest --verify against the real server: every acknowledged command is in the log") {
  sluice::testing::server_fixture fx;
  auto o = base_options(fx.server->port());
  o.kind = workload::ingest;
  o.count = 600;
  o.pipeline = 4;
  o.orders_weight = 1;
  o.accounts_weight = 1;
  o.zipf = 0.99;
  o.verify = true;
  auto r = run(o);
  auto& s = only_section(r);
  CHECK(s.requests == 600);
  CHECK(s.items_ok == 600);
  CHECK(s.latency.count() == 600);
  CHECK(s.errors.empty());
  CHECK(r.unanswered == 0);
  REQUIRE(r.verify.ran);
  INFO(render_text(r));
  CHECK(r.verify.ok);
  CHECK(r.verify.acks_checked == 600);
  CHECK(r.verify.views_checked > 0);
  CHECK(r.clean());
}

TEST_CASE("sluice-load batch: per-line results, and rejected lines are counted by code") {
  sluice::testing::server_fixture fx;
  auto o = base_options(fx.server->port());
  o.kind = workload::batch;
  o.count = 20;
  o.batch_size = 50;
  o.verify = true;
  auto r = run(o);
  auto& s = only_section(r);
  CHECK(s.name == "batches");
  CHECK(s.requests == 20);
  CHECK(s.items == 1000);
  CHECK(s.items_ok == 1000);
  CHECK(r.verify.ok);
  CHECK(r.verify.acks_checked == 1000);

  // Without set-up, every deposit is on an account that does not exist.
  o.setup = false;
  o.verify = false;
  o.count = 2;
  r = run(o);
  auto& rejected = only_section(r);
  CHECK(rejected.items == 100);
  CHECK(rejected.items_ok == 0);
  CHECK(rejected.errors.at("422 rejected") == 100);
  CHECK_FALSE(r.clean());
}

TEST_CASE("sluice-load query and mixed: reads answered, subscribers receive changes") {
  sluice::testing::server_fixture fx;
  auto o = base_options(fx.server->port());
  o.kind = workload::query;
  o.count = 500;
  auto r = run(o);
  CHECK(only_section(r).ok == 500);

  o.kind = workload::mixed;
  o.count = 0;
  o.duration = 1;
  o.subscribers = 2;
  o.query_connections = 2;
  o.rate = 200; // open loop: about 200 commands and 200 reads
  r = run(o);
  REQUIRE(r.sections.size() == 2);
  CHECK(r.sections[0].name == "commands");
  CHECK(r.sections[0].requests >= 150);
  CHECK(r.sections[0].requests <= 201);
  CHECK(r.sections[1].name == "queries");
  CHECK(r.sections[1].ok == r.sections[1].requests);
  // Each subscriber sees a change for (nearly) every command.
  CHECK(r.ws_messages >= r.sections[0].requests);
  CHECK(r.ws_errors.empty());
}

TEST_CASE("sluice-load e2e: acknowledgements matched with their WebSocket changes") {
  sluice::testing::server_fixture fx;
  auto o = base_options(fx.server->port());
  o.kind = workload::e2e;
  o.count = 250; // a number of commands, not a time: a slow machine sends them all too
  o.rate = 300;
  o.aggregates = 1000; // few repeats of a key, so little to conflate
  o.subscribers = 1;
  auto r = run(o);
  REQUIRE(r.e2e);
  auto answered = only_section(r).items_ok;
  CHECK(answered == 250);
  CHECK(r.e2e_latency.count() + r.e2e_unmatched == answered);
  CHECK(r.e2e_latency.count() >= answered * 9 / 10);
  CHECK(r.e2e_latency.max() < 5'000'000'000);
}

TEST_CASE("sluice-load transfers --verify: every transfer ends once and the balances add up", "[transfers]") {
  sluice::testing::server_fixture fx;
  auto o = base_options(fx.server->port());
  o.kind = workload::transfers;
  o.count = 2000;
  o.batch_size = 100;
  o.pipeline = 2;
  o.aggregates = 40; // few accounts: some run dry, so insufficient funds happen too
  o.verify = true;
  auto r = run(o);
  INFO(render_text(r));
  auto& s = only_section(r);
  CHECK(s.items == 2000);
  CHECK(s.items_ok == 2000);
  uint64_t ended = 0;
  for (auto& [k, n] : r.outcomes)
    ended += n;
  CHECK(ended == 2000);
  CHECK(r.outcomes["completed"] > 0);
  CHECK(r.outcomes["failed destination_unavailable"] > 0);
  CHECK(r.e2e_latency.count() == 2000);
  CHECK(r.e2e_unmatched == 0);
  REQUIRE(r.verify.ran);
  CHECK(r.verify.ok);
  CHECK(r.verify.acks_checked == 2000);
  CHECK(r.verify.views_checked == 40);
  CHECK(r.clean());
  // The process is idle again.
  auto m = fx.engine->snapshot();
  REQUIRE(m.processes.size() == 1);
  CHECK(m.processes[0].unfinished == 0);
}

TEST_CASE("sluice-load --verify catches a log that lost an acknowledged event, and views that disagree") {
  lying_server liar;
  auto o = base_options(liar.port());
  o.kind = workload::ingest;
  o.count = 40;
  o.verify = true;
  auto r = run(o);
  CHECK(only_section(r).items_ok == 40);
  REQUIRE(r.verify.ran);
  CHECK_FALSE(r.verify.ok);
  CHECK_FALSE(r.clean());
  bool missing = false, balance = false;
  for (auto& p : r.verify.problems) {
    missing |= p.find("acknowledged at position 3: no such event") != std::string::npos;
    balance |= p.find("balance 0.00") != std::string::npos;
  }
  INFO(render_text(r));
  CHECK(missing);
  CHECK(balance);
}

TEST_CASE("sluice-load: a server that is not there is an error, not a hang") {
  uint16_t port;
  {
    asio::io_context ioc;
    asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  auto o = base_options(port);
  CHECK_THROWS(run(o)); // set-up cannot connect
  o.setup = false;
  o.duration = 0.3;
  auto r = run(o);
  REQUIRE(r.sections.size() == 1);
  CHECK(r.sections[0].requests == 0);
  REQUIRE_FALSE(r.sections[0].errors.empty());
  CHECK(r.sections[0].errors.begin()->first.starts_with("connection:"));
  CHECK_FALSE(r.clean());
}

TEST_CASE("sluice-load: an interrupt ends a long run early with what it measured") {
  sluice::testing::server_fixture fx;
  auto o = base_options(fx.server->port());
  o.duration = 60;
  std::atomic<bool> stop{false};
  o.interrupt = &stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    stop = true;
  });
  auto t0 = std::chrono::steady_clock::now();
  auto r = run(o);
  stopper.join();
  auto wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(wall < 10);
  // The measured time is the run's own (connecting and setting up come
  // before it, and take long on a loaded machine): more than nothing, less
  // than the wall time, far less than the 60 s asked for.
  CHECK(r.seconds > 0);
  CHECK(r.seconds <= wall);
  auto& s = only_section(r);
  CHECK(s.requests > 0);
  CHECK(s.items_ok == s.requests);
  CHECK(r.unanswered == 0);
}

TEST_CASE("a command template: placeholders filled in, bad lines named", "[template]") {
  auto t = command_template::parse(
      "# comment\n\n"
      "create {\"type\":\"x.open\",\"aggregate_id\":\"X-{run}-{key}\"}\n"
      "send {\"type\":\"x.add\",\"aggregate_id\":\"X-{run}-{key}\",\"command_id\":\"{id}\","
      "\"payload\":{\"seq\":{seq},\"conn\":{conn}}}\n");
  REQUIRE(t);
  CHECK(t->creates() == 1);
  CHECK(t->sends() == 1);
  CHECK(t->traceable());
  std::string out;
  t->append_send(out, 0, {"r1", 7, 3, 42});
  CHECK(out == R"({"type":"x.add","aggregate_id":"X-r1-7","command_id":"r1-3-42","payload":{"seq":42,"conn":3}})");
  out.clear();
  t->append_create(out, 0, {"r1", 9, 0, 0});
  CHECK(out == R"({"type":"x.open","aggregate_id":"X-r1-9"})");

  auto err = [](std::string_view text) {
    auto r = command_template::parse(text);
    REQUIRE_FALSE(r);
    return r.error();
  };
  CHECK(err("send {\"a\":\"{nope}\"}").find("line 1: unknown placeholder {nope}") != std::string::npos);
  CHECK(err("# only a comment\n").find("no `send` line") != std::string::npos);
  CHECK(err("\nsend {\"a\":").find("line 2: not a JSON object") != std::string::npos);
  CHECK(err("post {\"a\":1}").find("line 1: expected `create JSON` or `send JSON`") != std::string::npos);
  auto untraced = command_template::parse("send {\"a\":{key}}");
  REQUIRE(untraced);
  CHECK_FALSE(untraced->traceable());
}

TEST_CASE("sluice-load --template drives a domain of the user's own, and --verify finds every command", "[template]") {
  sluice::testing::server_fixture fx({}, {}, sluice::testing::tally::model());
  auto t = command_template::parse(
      R"(create {"type":"tally.open","aggregate_id":"T-{run}-{key}","payload":{"limit":1000000}})"
      "\n"
      R"(send {"type":"tally.add","aggregate_id":"T-{run}-{key}","command_id":"{id}","payload":{"n":1}})"
      "\n"
      R"(send {"type":"tally.add","aggregate_id":"T-{run}-{key}","command_id":"{id}","payload":{"n":2}})");
  REQUIRE(t);
  for (auto kind : {workload::ingest, workload::batch}) {
    auto o = base_options(fx.server->port());
    o.kind = kind;
    o.count = 120;
    o.batch_size = 10;
    o.pipeline = 2;
    o.zipf = 0.99;
    o.verify = true;
    o.run_id = kind == workload::ingest ? "ti" : "tb";
    o.tmpl = std::make_shared<const command_template>(*t);
    auto r = run(o);
    INFO(render_text(r));
    auto& s = only_section(r);
    uint64_t commands = kind == workload::ingest ? 120 : 1200;
    CHECK(s.items_ok == commands);
    CHECK(s.errors.empty());
    REQUIRE(r.verify.ran);
    CHECK(r.verify.ok);
    CHECK(r.verify.acks_checked == commands);
    CHECK(r.verify.views_checked == 0);
    // Every aggregate was opened first, and the adds landed in the view.
    blocking_client c(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), fx.server->port()),
                      fmt::format("127.0.0.1:{}", fx.server->port()));
    auto page = c.get("/v1/views/tallies?limit=1000");
    REQUIRE(page.status == 200);
    size_t rows = 0;
    for (size_t at = 0; (at = page.body.find(fmt::format("\"tally_id\":\"T-{}-", o.run_id), at)) != std::string::npos;
         ++at)
      ++rows;
    CHECK(rows == 50);
  }

  auto o = base_options(fx.server->port());
  o.kind = workload::query;
  o.tmpl = std::make_shared<const command_template>(*t);
  CHECK_THROWS_WITH(run(o), Catch::Contains("ingest and batch workloads only"));
}

TEST_CASE("sluice-load over https:// with a token: batches verified, subscribers over wss", "[tls][auth]") {
  sluice::testing::temp_dir certs;
  auto cert = certs.path() / "cert.pem", key = certs.path() / "key.pem";
  REQUIRE(std::system(fmt::format("openssl req -x509 -newkey rsa:2048 -nodes -keyout '{}' -out '{}' -days 2 -subj "
                                  "/CN=localhost -addext subjectAltName=IP:127.0.0.1 2>/dev/null",
                                  key.string(), cert.string())
                          .c_str()) == 0);
  auto table = sluice::http::auth::table::parse(
      fmt::format(R"({{"tokens":[{{"name":"load","sha256":"{}","grants":["commands:*","views:*","events"]}}]}})",
                  sluice::http::auth::to_hex(sluice::http::auth::sha256("secret-token"))));
  REQUIRE(table);
  sluice::testing::server_fixture fx({}, {}, sluice::builtin::model(), [&](sluice::http::server_options& so) {
    so.tls_cert = cert.string();
    so.tls_key = key.string();
    so.auth = std::make_shared<sluice::http::auth::authority>(
        std::make_shared<const sluice::http::auth::table>(std::move(*table)));
  });
  auto o = base_options(fx.server->port());
  o.url = fmt::format("https://127.0.0.1:{}", fx.server->port());
  o.ca_file = cert.string(); // and the certificate is verified
  o.token = "secret-token";
  o.kind = workload::batch;
  o.batch_size = 50;
  o.count = 20;
  o.verify = true;
  auto r = run(o);
  INFO(render_text(r));
  CHECK(only_section(r).items_ok == 1000);
  REQUIRE(r.verify.ran);
  CHECK(r.verify.ok);
  CHECK(r.clean());

  o.kind = workload::mixed;
  o.count = 0;
  o.verify = false;
  o.duration = 1;
  o.subscribers = 2;
  o.query_connections = 2;
  o.rate = 200;
  r = run(o);
  REQUIRE(r.sections.size() == 2);
  CHECK(r.sections[1].ok == r.sections[1].requests);
  CHECK(r.ws_messages >= r.sections[0].requests);
  CHECK(r.ws_errors.empty());

  o.token = "wrong"; // every request 401: counted, not a hang
  o.kind = workload::ingest;
  o.duration = 0;
  o.count = 20;
  o.subscribers = 0;
  o.setup = false;
  r = run(o);
  CHECK(only_section(r).ok == 0);
  CHECK_FALSE(only_section(r).errors.empty());
}
