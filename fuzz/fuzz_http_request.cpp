// libFuzzer target: bytes from the network as the server reads them. Each
// request Beast's parser accepts (with the server's limits) is routed to the
// real endpoint code over stub_engine, so query strings, percent-decoding,
// command and batch decoding and the domain rules all see hostile input.
#include "http/routes.h"
#include "stub_engine.h"

#include <boost/beast/http.hpp>

#include <cstdlib>
#include <filesystem>

namespace {

namespace bhttp = boost::beast::http;
using namespace sluice;

fuzz::stub_engine& the_engine() {
  static fuzz::stub_engine* e = [] {
    auto dir = std::filesystem::temp_directory_path() / ("sluice-fuzz-" + std::to_string(::getpid()));
    auto log = log::event_log::open({dir, log::durability::none});
    if (!log)
      std::abort();
    return new fuzz::stub_engine(std::move(*log));
  }();
  return *e;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  http::limits limits;
  limits.command_body_bytes = 64 << 10; // small limits reach the 413 paths with small inputs
  limits.batch_body_bytes = 256 << 10;
  limits.batch_lines = 100;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  for (int requests = 0; !rest.empty() && requests < 16; ++requests) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.eager(true);
    parser.header_limit(static_cast<uint32_t>(limits.header_bytes));
    parser.body_limit(std::max(limits.batch_body_bytes, limits.command_body_bytes));
    boost::beast::error_code ec;
    size_t used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
    if (!ec && !parser.is_done())
      parser.put_eof(ec);
    if (ec || !parser.is_done())
      return 0; // the server answers 400/413/431 and closes
    rest.remove_prefix(used);
    auto req = parser.release();
    auto target = req.target();
    auto where = http::resolve(req.method_string(), target.substr(0, target.find('?')));
    if (req.body().size() > http::body_limit(where, limits))
      continue; // 404, 405 or 413 from the head alone
    bool answered = false;
    http::route(the_engine(), limits, req.method_string(), req.target(), std::move(req.body()), [&](http::reply r) {
      answered = true;
      if (r.status < 200 || r.status > 599)
        std::abort();
    });
    if (!answered)
      std::abort(); // every request gets exactly one answer, synchronously here
  }
  return 0;
}
