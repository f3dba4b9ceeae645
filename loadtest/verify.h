// --verify: after a run, the log and the views are read back and compared
// with what the server acknowledged.
#pragma once

#include "blocking_client.h"
#include "commands.h"
#include "report.h"

#include <vector>

namespace sluice::load {

struct verify_input {
  std::string run_id;
  std::vector<ack> acks;        // every 200 answer to a command
  std::vector<command> unknown; // sent, but the answer never came
  bool views = true;            // check the built-in domain's views
};

/// Every acknowledged command's event is in the log at the position it was
/// acknowledged with, exactly once; every view row of an aggregate the run
/// wrote equals the sum of what was acknowledged for it (rows with a command
/// of unknown outcome are skipped, and counted).
verify_result verify_run(blocking_client& client, verify_input in);

} // namespace sluice::load
