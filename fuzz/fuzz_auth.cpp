// libFuzzer target: the input as an auth file (SPEC §11) and as an
// Authorization header value. A file either loads, with every grant one
// the parser accepts, or is refused with a message; a header yields a
// token without blanks, or nothing.
#include "http/auth.h"

#include <cstdlib>

using namespace sluice::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto t = auth::table::parse(text);
  if (!t && t.error().empty())
    std::abort(); // every refusal says why
  if (t && t->find(text) != nullptr && t->find(text) != t->find_digest(auth::sha256(text)))
    std::abort();
  if (auto token = auth::bearer(text)) {
    if (token->empty() || token->find_first_of(" \t") != std::string_view::npos)
      std::abort();
    if (token->data() < text.data() || token->data() + token->size() > text.data() + text.size())
      std::abort(); // a view into the header, not a copy
  }
  (void)auth::valid_grant(text);
  return 0;
}
