// The actor scheduler: CAF's work-sharing design (one job queue that every
// worker takes from) without its per-job costs. CAF 0.17's coordinator
// allocates a list node and takes the queue's mutex for every job, even for
// a job its only worker enqueues for itself, and casts every job to an actor
// for its logger. Here the worker keeps the jobs it enqueues itself (an
// aggregate's message to the journal, the router's chains) in a list of its
// own, and other threads' jobs (the front end's bus wake-ups, the log's
// answers) join it through a mutex-guarded vector taken whole.
#pragma once

#include <caf/actor_system_config.hpp>

namespace sluice::actors {

/// Makes `cfg`'s actor system use this scheduler, with the worker count of
/// `scheduler.max-threads` and CAF's `scheduler.max-throughput`.
void use_scheduler(caf::actor_system_config& cfg);

} // namespace sluice::actors
