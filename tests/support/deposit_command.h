// The account.deposit command the process tests send to a real server.
#pragma once

#include <fmt/format.h>

#include <string>

namespace sluice::testing {

/// A deposit of 1 to ACC-<client>, command id d-<client>-<i>: sent again,
/// the same (client, i) is a duplicate.
inline std::string deposit(int client, int i) {
  return fmt::format(
      R"({{"type":"account.deposit","aggregate_id":"ACC-{}","command_id":"d-{}-{}","payload":{{"amount":1}}}})", client,
      client, i);
}

} // namespace sluice::testing
