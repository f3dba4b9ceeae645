// `sluice views …`: a running server's views through its admin API (SPEC §10).
#pragma once

#include <string>

namespace sluice::app {

struct views_cli_options {
  std::string action; ///< list, rebuild, errors, replay, skip
  std::string view;   ///< all but list: the view
  std::string key;    ///< replay (optional), skip: the key
  std::string server = "http://127.0.0.1:8080";
  std::string token;   ///< sent as a bearer token when not empty
  std::string ca_file; ///< https://: the CA to check the server against; empty: the system's
  bool json = false;   ///< the server's JSON instead of a table
};

/// Runs one action; the exit status (0 done, 1 the server refused, 2 it
/// could not be asked).
int views_cli(const views_cli_options& o);

} // namespace sluice::app
