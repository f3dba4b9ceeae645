// Errors of the engine module (engine::start and recovery).
#pragma once

#include <string>
#include <string_view>

namespace sluice::engine {

enum class errc {
  no_model, ///< options::model is null
  log_open, ///< the event log could not be opened or recovered; the message says why
  replay,   ///< a record of the log does not rebuild its aggregate (unknown type, wrong version)
};

constexpr std::string_view to_string(errc e) {
  switch (e) {
    case errc::no_model: return "no_model";
    case errc::log_open: return "log_open";
    case errc::replay: return "replay";
  }
  return "?";
}

struct error {
  errc code;
  std::string message;
};

} // namespace sluice::engine
