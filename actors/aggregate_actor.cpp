#include "actors/aggregate_actor.h"

#include "base/logger.h"

#include <algorithm>

namespace sluice::actors {

namespace {

constexpr logger k_log("aggregate");

// Accepted entries of one message, per scheduler thread (actors of one
// thread run one at a time).
std::vector<journal::entry>& accepted_scratch() {
  thread_local std::vector<journal::entry> scratch;
  return scratch;
}

} // namespace

void answer(ticket& t, const domain::outcome& o, counters& stats) {
  using kind = domain::outcome::kind;
  stats.add(o.result == kind::duplicate  ? stats.duplicate
            : o.result == kind::conflict ? stats.conflict
            : o.result == kind::rejected ? stats.rejected
                                         : stats.ok);
  stats.in_flight.fetch_sub(1, std::memory_order_relaxed);
  engine::command_result res;
  res.outcome = o;
  res.position = o.position;
  t.answer(std::move(res), stats);
}

void aggregate_actor_state::settle() {
  size_t done = 0;
  for (; done < undurable.size(); ++done) {
    auto& u = undurable[done];
    uint64_t position = u.t->durable_position.load();
    if (position == 0)
      break;
    aggregate->durable_at(u.slot, u.version, position);
  }
  undurable.erase(undurable.begin(), undurable.begin() + static_cast<ptrdiff_t>(done));
}

void aggregate_actor_state::handle(ticket_ptr t, const caf::actor& self, std::vector<journal::entry>& accepted) {
  settle();
  domain::event_list events; // moved into the journal's entry when accepted
  auto o = aggregate->handle(t->cmd, events);
  switch (o.result) {
    case domain::outcome::kind::accepted: {
      // The window learns the durable position lazily (settle()); only a
      // repeat arriving before it is known asks the journal to tell us.
      caf::actor notify;
      if (!t->cmd.command_id.empty()) {
        undurable.push_back({t, aggregate->last_slot(), o.version});
        notify = self;
      }
      accepted.push_back({std::move(t), std::move(notify), std::move(o), std::move(events)});
      return;
    }
    case domain::outcome::kind::duplicate:
      if (o.position == 0) { // the original is not durable yet
        auto original = std::find_if(undurable.begin(), undurable.end(),
                                     [&](const pending& u) { return u.t->cmd.command_id == t->cmd.command_id; });
        if (original == undurable.end())
          break;  // cannot happen: an id without a position is undurable
        original->t->wanted.store(true);
        if (original->t->durable_position.load() != 0) {
          // Became durable meanwhile: the journal may not have seen `wanted`.
          settle();
          return handle(std::move(t), self, accepted);
        }
        auto id = std::string(t->cmd.command_id);
        if (!parked)
          parked = std::make_unique<std::unordered_multimap<std::string, ticket_ptr>>();
        parked->emplace(std::move(id), std::move(t));
        return;
      }
      break;
    case domain::outcome::kind::conflict:
    case domain::outcome::kind::rejected: break;
  }
  answer(*t, o, *stats);
}

void aggregate_actor_state::durable(const std::string& command_id, uint64_t position, const caf::actor& self,
                                    std::vector<journal::entry>& accepted) {
  settle();
  aggregate->durable(command_id, position);  // idempotent: settle() may have recorded it already
  if (!parked)
    return;
  auto [first, last] = parked->equal_range(command_id);
  std::vector<ticket_ptr> waiting;
  for (auto it = first; it != last; ++it)
    waiting.push_back(std::move(it->second));
  parked->erase(first, last);
  if (parked->empty())
    parked.reset();
  for (auto& t : waiting)
    handle(std::move(t), self, accepted);
}

caf::behavior aggregate_actor(caf::stateful_actor<aggregate_actor_state>* self, domain::aggregate* aggregate,
                              journal* sink, counters* stats) {
  auto& st = self->state;
  st.aggregate.reset(aggregate);
  st.sink = sink;
  st.stats = stats;
  // An exception here is a bug that may have left the state half-changed,
  // and the router keeps a pointer to the aggregate: stop the process, the
  // log (which has only durable, whole commands) rebuilds it at the next start.
  self->set_exception_handler([](caf::scheduled_actor* a, std::exception_ptr& e) -> caf::error {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      k_log.error("aggregate actor {} failed: {}; stopping", a->id(), x.what());
    } catch (...) {
      k_log.error("aggregate actor {} failed; stopping", a->id());
    }
    std::abort();
  });
  return {
      [self](ticket_ptr t) {
        // A chain of this aggregate's commands from one router drain, in
        // order; what it accepts goes to the journal in one push.
        auto me = caf::actor_cast<caf::actor>(self);
        auto& accepted = accepted_scratch();
        while (t) {
          auto next = std::move(t->next);
          self->state.handle(std::move(t), me, accepted);
          t = std::move(next);
        }
        self->state.sink->push(accepted);
      },
      [self](durable_atom, const std::string& command_id, uint64_t position) {
        auto& accepted = accepted_scratch();
        self->state.durable(command_id, position, caf::actor_cast<caf::actor>(self), accepted);
        self->state.sink->push(accepted);
      },
  };
}

} // namespace sluice::actors
