// Splits a byte stream of pipelined HTTP/1.1 responses into responses.
// The driver's hot path: no allocation per response, bodies are views into
// the connection's buffer. Only Content-Length framing is understood (what
// sluice and a canned nginx answer send); anything else is a protocol error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::load {

struct response {
  int status = 0;
  bool keep_alive = true;
  std::string_view body;  // valid until the next call to next()
};

class response_reader {
 public:
  /// Readable bytes kept after the last received one, so bodies can be
  /// handed to simdjson in place.
  static constexpr size_t k_padding = 64;

  enum class result { complete, need_more, error };

  /// Space to read into; call commit(n) after n bytes arrived.
  char* prepare(size_t n);
  void commit(size_t n) { end_ += n; }

  /// The next whole response in the buffer, if there is one.
  result next(response& out);

  const std::string& error() const { return error_; }

 private:
  std::string buf_;
  size_t begin_ = 0;  // first unconsumed byte
  size_t end_ = 0;    // one past the last received byte
  std::string error_;
};

} // namespace sluice::load
