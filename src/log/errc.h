// Errors of the event log module.
#pragma once

#include <string>
#include <string_view>

namespace sluice::log {

enum class errc {
  io_error,         ///< a system call failed; the message has errno's text
  no_space,         ///< a write found the disk full (ENOSPC, EDQUOT); nothing of it stays behind
  corrupt,          ///< a damaged record before the tail; the message names file and offset
  closed,           ///< the log was closed before the append could be written
  failed,           ///< an earlier write or sync failed; the log takes no more appends
  invalid_argument, ///< a record too large for the format, or a bad option
  locked,           ///< another process holds the data directory (dir_lock)
  not_found,        ///< a read-only open found no such directory
  fenced,           ///< a replicated log's tail moved under another writer: the group was decided on a stale state
};

constexpr std::string_view to_string(errc e) {
  switch (e) {
    case errc::io_error: return "io_error";
    case errc::no_space: return "no_space";
    case errc::corrupt: return "corrupt";
    case errc::closed: return "closed";
    case errc::failed: return "failed";
    case errc::invalid_argument: return "invalid_argument";
    case errc::locked: return "locked";
    case errc::not_found: return "not_found";
    case errc::fenced: return "fenced";
  }
  return "?";
}

struct error {
  errc code;
  std::string message;
};

} // namespace sluice::log
