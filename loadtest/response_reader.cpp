#include "response_reader.h"

#include <charconv>
#include <cstring>

namespace sluice::load {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z')
      x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z')
      y = static_cast<char>(y - 'A' + 'a');
    if (x != y)
      return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

constexpr size_t k_max_head = size_t{64} * 1024;
constexpr size_t k_max_body = 256 << 20; // bounds the buffer whatever the server claims

// What a response's head says: its status and how its body is framed.
struct response_head {
  int status = 0;
  bool keep_alive = true;
  size_t content_length = 0;
  bool have_length = false;
};

// The helpers below return what is wrong with the head, or nullptr when nothing is.

const char* parse_status_line(std::string_view status_line, response_head& h) {
  // "HTTP/1.1 200 OK"
  if (status_line.size() < 12 || !status_line.starts_with("HTTP/1."))
    return "malformed status line";
  auto [p, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, h.status);
  if (ec != std::errc{} || h.status < 100 || h.status > 999)
    return "malformed status code";
  h.keep_alive = status_line[7] == '1';
  return nullptr;
}

const char* parse_header(std::string_view line, response_head& h) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos)
    return nullptr;
  std::string_view name = line.substr(0, colon);
  std::string_view value = trim(line.substr(colon + 1));
  if (iequals(name, "content-length")) {
    auto [q, e] = std::from_chars(value.data(), value.data() + value.size(), h.content_length);
    if (e != std::errc{} || q != value.data() + value.size())
      return "malformed Content-Length";
    h.have_length = true;
  } else if (iequals(name, "connection")) {
    if (iequals(value, "close"))
      h.keep_alive = false;
    else if (iequals(value, "keep-alive"))
      h.keep_alive = true;
  } else if (iequals(name, "transfer-encoding")) {
    return "chunked responses are not supported";
  }
  return nullptr;
}

// `head` ends before the blank line.
const char* parse_head(std::string_view head, response_head& h) {
  size_t line_end = head.find("\r\n");
  if (const char* problem = parse_status_line(head.substr(0, line_end), h))
    return problem;
  std::string_view rest = line_end == std::string_view::npos ? std::string_view{} : head.substr(line_end + 2);
  while (!rest.empty()) {
    size_t eol = rest.find("\r\n");
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 2);
    if (const char* problem = parse_header(line, h))
      return problem;
  }
  if (!h.have_length && h.status != 204 && h.status != 304 && h.status >= 200)
    return "response without Content-Length";
  if (h.content_length > k_max_body)
    return "response body larger than 256 MiB";
  return nullptr;
}

} // namespace

char* response_reader::prepare(size_t n) {
  if (begin_ == end_) {
    begin_ = end_ = 0;
  } else if (begin_ > 0 && buf_.size() - end_ < n + k_padding) {
    // Slide the unconsumed tail to the front rather than growing.
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (buf_.size() - end_ < n + k_padding)
    buf_.resize(end_ + n + k_padding);
  return buf_.data() + end_;
}

response_reader::result response_reader::next(response& out) {
  std::string_view data(buf_.data() + begin_, end_ - begin_);
  size_t head_end = data.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    if (data.size() > k_max_head) {
      error_ = "response header larger than 64 KiB";
      return result::error;
    }
    return result::need_more;
  }
  response_head h;
  if (const char* problem = parse_head(data.substr(0, head_end), h)) {
    error_ = problem;
    return result::error;
  }
  size_t total = head_end + 4 + h.content_length;
  if (data.size() < total)
    return result::need_more;
  out.status = h.status;
  out.keep_alive = h.keep_alive;
  out.body = data.substr(head_end + 4, h.content_length);
  begin_ += total;
  return result::complete;
}

} // namespace sluice::load
