// What the WebSocket stream (SPEC §6) allows and who opened it: apart from
// http/stream_session.h so that server.h names them without Beast.
#pragma once

#include "http/auth.h"

#include <chrono>
#include <cstddef>
#include <memory>

namespace sluice::http {

struct stream_limits {
  size_t max_message_bytes = 64 << 10;    ///< a client message
  size_t max_queued_bytes = 4 << 20;      ///< outgoing bytes before feeds stop being pulled
  std::chrono::seconds stall_timeout{30}; ///< a write that makes no progress this long: the client stopped reading
};

/// Who opened a stream (SPEC §11); `auth` null when auth is off.
struct stream_caller {
  std::shared_ptr<auth::authority> auth;
  std::shared_ptr<const auth::table> held; ///< keeps `who` alive
  const auth::principal* who = nullptr;
};

} // namespace sluice::http
