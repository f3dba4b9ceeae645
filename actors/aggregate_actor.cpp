#include "actors/aggregate_actor.h"

#include "base/logger.h"

namespace sluice::actors {

namespace {

constexpr logger k_log("aggregate");

// How often parked repeats look again: about one group commit.
constexpr auto k_recheck = std::chrono::milliseconds(1);

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
  stats.finish();
  engine::command_result res;
  res.outcome = o;
  res.position = o.position;
  t.answer(std::move(res), stats);
}

void aggregate_actor_state::handle(ticket_ptr t, std::vector<journal::entry>& accepted) {
  domain::event_list events; // moved into the journal's entry when accepted
  auto o = aggregate->handle(t->cmd, events);
  switch (o.result) {
    case domain::outcome::kind::accepted: accepted.push_back({std::move(t), std::move(o), std::move(events)}); return;
    case domain::outcome::kind::duplicate:
      if (o.position == 0) {
        // The window knows the original's last version; the history index
        // has its position once it is durable (indexed before its answer).
        o.position = sink->durable_position(aggregate->type(), aggregate->id(), o.version);
        // Its events are durable, and retention has deleted them since:
        // the index no longer has the position, the snapshot taken first does.
        bool deleted = o.position == 0 && sink->deleted(aggregate->type(), aggregate->id(), o.version);
        if (deleted)
          o.position = sink->deleted_position(*aggregate, t->cmd);
        // Read back from storage, so durable: nothing in flight to wait for.
        bool loaded_durable = o.position == 0 && o.version <= loaded_version;
        if (o.position == 0 && !deleted && !loaded_durable && !sink->failed() && !sink->unavailable()) {
          if (!parked)
            parked = std::make_unique<std::vector<ticket_ptr>>();
          parked->push_back(std::move(t));
          return;
        }
        if (o.position != 0)
          aggregate->durable(t->cmd.command_id, o.position);
        else if (deleted || loaded_durable)
          break; // where its event is is lost: answered without a position rather than never
        // A failed log never makes it durable: the repeat fails like it.
        // On a full disk it may not have been: the client retries later.
        else {
          stats->finish();
          engine::command_result res;
          bool full = !sink->failed();
          res.status = full ? engine::command_status::log_unavailable : engine::command_status::failed;
          res.message = full ? "the event log cannot append (the disk is full); retry later"
                             : "the event log failed; restart the server to recover from the log";
          t->answer(std::move(res), *stats);
          return;
        }
      }
      break;
    case domain::outcome::kind::conflict:
    case domain::outcome::kind::rejected: break;
  }
  answer(*t, o, *stats);
}

bool aggregate_actor_state::load() {
  if (!sink->replay(*aggregate, &snapshot_version)) {
    k_log.error("{} '{}': cannot rebuild from the log", aggregate->type().name(), aggregate->id());
    aggregate->reset();
    return false;
  }
  loaded = true;
  loaded_version = aggregate->version();
  if (aggregate->version() > 0)
    stats->activations.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void aggregate_actor_state::settle_window(uint64_t up_to) {
  aggregate->settle(up_to, [&](uint64_t v) { return sink->durable_position(aggregate->type(), aggregate->id(), v); });
}

void aggregate_actor_state::snapshot_if_due() {
  uint64_t every = sink->snapshot_every();
  if (every == 0 || !sink->snapshots_enabled(aggregate->type()))
    return;
  if (pending) {
    auto position = sink->durable_position(aggregate->type(), aggregate->id(), pending->version);
    if (position == 0)
      return;
    settle_window(pending->version);
    if (sink->save_snapshot(*aggregate, pending->version, position, std::move(pending->body)))
      snapshot_version = pending->version;
    pending.reset();
  }
  if (aggregate->version() >= snapshot_version + every) {
    pending = std::make_unique<pending_snapshot>();
    pending->version = aggregate->version();
    aggregate->encode_snapshot(pending->body);
  }
}

// The actor's behavior: one handler per message it takes, read as one list
// (the handlers' work is in aggregate_actor_state's methods).
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
  // Decides `t` and the commands chained to it, in order; what they accept
  // goes to the journal in one push; a first parked repeat schedules a recheck.
  auto run = [self](ticket_ptr t) {
    auto& state = self->state;
    if (!state.loaded && !state.load()) {
      for (; t; t = std::move(t->next)) {
        state.stats->finish();
        engine::command_result res;
        res.status = engine::command_status::failed;
        res.message = "the aggregate cannot be rebuilt from the event log";
        t->answer(std::move(res), *state.stats);
      }
      return;
    }
    state.snapshot_if_due();
    bool had_parked = state.parked && !state.parked->empty();
    auto& accepted = accepted_scratch();
    while (t) {
      auto next = std::move(t->next);
      state.handle(std::move(t), accepted);
      t = std::move(next);
    }
    state.sink->push(accepted);
    if (!had_parked && state.parked && !state.parked->empty())
      self->delayed_send(self, k_recheck, recheck_atom::value);
    state.snapshot_if_due();
  };
  return {
      [run](ticket_ptr t) { run(std::move(t)); },
      [self](passivate_atom, uint32_t round) {
        // Quiet: no repeat waits, and its every event is durable (so the
        // log, or a snapshot, rebuilds exactly this state).
        auto& me = self->state;
        auto& a = *me.aggregate;
        bool quiet = me.loaded && !(me.parked && !me.parked->empty());
        uint64_t position = 0;
        if (quiet && a.version() > 0) {
          position = me.sink->durable_position(a.type(), a.id(), a.version());
          // Retention deleted its last event: durable, and in a snapshot
          // retention took before deleting.
          quiet = position != 0 || me.sink->deleted(a.type(), a.id(), a.version());
        }
        if (quiet && position != 0 && a.version() > me.snapshot_version && me.sink->snapshots_enabled(a.type())) {
          me.settle_window(a.version());
          std::string body;
          a.encode_snapshot(body);
          if (me.sink->save_snapshot(a, a.version(), position, std::move(body)))
            me.snapshot_version = a.version();
        }
        me.pending.reset();
        self->send(caf::actor_cast<caf::actor>(self->current_sender()), idle_report{&a, round, quiet});
      },
      [self](stop_atom) { self->quit(); },
      [self](reload_atom, const reload_ptr& r) {
        // Nothing of this aggregate is in flight (the runtime waits for
        // that): its state is rebuilt to what the log holds.
        self->state.pending.reset();
        if (!self->state.sink->replay(*self->state.aggregate, &self->state.snapshot_version)) {
          k_log.error("{} '{}': cannot rebuild from the log; stopping", self->state.aggregate->type().name(),
                      self->state.aggregate->id());
          std::abort();
        }
        self->state.loaded_version = self->state.aggregate->version();
        r->finish_one();
      },
      [self, run](recheck_atom) {
        if (!self->state.parked)
          return;
        // Parked repeats in arrival order, chained like a router drain.
        auto waiting = std::move(*self->state.parked);
        self->state.parked.reset();
        for (size_t i = 1; i < waiting.size(); ++i)
          waiting[i - 1]->next = waiting[i];
        if (!waiting.empty())
          run(std::move(waiting.front()));
      },
  };
}

} // namespace sluice::actors
