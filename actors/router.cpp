#include "actors/router.h"

#include "actors/aggregate_actor.h"

#include <algorithm>

namespace sluice::actors {

namespace {

// Commands per turn, then the chains go out and the aggregates get their
// turn. A backlog makes turns long and chains long (fewer messages per
// command); a trickle makes them short, so batching costs no latency.
constexpr size_t k_max_drain = 65536;
constexpr size_t k_take = 4096; // taken from the bus at a time (bounds the scratch)

using router_ptr = caf::stateful_actor<router_state>*;

// Adds the tickets in scratch to this turn's chains, one per aggregate, in
// bus order; spawns the actors of aggregates seen for the first time.
void chain(router_ptr self) {
  auto& st = self->state;
  for (auto& t : st.scratch) {
    auto* type = t->cmd.type;
    uint64_t h = actor_table::hash(type, t->cmd.aggregate_id);
    auto* slot = st.live.find(type, t->cmd.aggregate_id, h);
    if (!slot) {
      // Owned by its actor, which rebuilds it from its snapshot and the
      // log before its first command (nothing, for a new aggregate).
      auto* a = new domain::aggregate(*type, std::string(t->cmd.aggregate_id));
      if (st.live.full()) // it grows: chains must not keep pointers into it
        for (auto& c : st.chains)
          c.actor = nullptr;
      slot = &st.live.insert(a, self->spawn(aggregate_actor, a, st.sink, st.stats), h);
      st.stats->aggregates_live.fetch_add(1, std::memory_order_relaxed);
    }
    slot->used_at = st.clock;
    auto* raw = t.get();
    if (slot->round == st.round) {
      auto& c = st.chains[slot->chain];
      c.actor = &slot->actor;
      c.tail->next = std::move(t);
      c.tail = raw;
    } else {
      slot->round = st.round;
      slot->chain = static_cast<uint32_t>(st.chains.size());
      st.chains.push_back({&slot->actor, std::move(t), raw});
    }
  }
  st.scratch.clear();
}

// Sends every chain of this turn to its aggregate.
void send_chains(router_ptr self) {
  auto& st = self->state;
  for (auto& c : st.chains) {
    if (!c.actor) { // the table grew after the chain started
      auto& cmd = c.head->cmd;
      c.actor = &st.live.find(cmd.type, cmd.aggregate_id, actor_table::hash(cmd.type, cmd.aggregate_id))->actor;
    }
    self->send(*c.actor, std::move(c.head));
  }
  st.chains.clear();
}

// The router's clock, in 10 ms steps: fine enough to order by recent use,
// coarse enough for 32 bits to last 497 days (differences wrap safely).
constexpr auto k_clock_step = std::chrono::milliseconds(10);

uint32_t clock_now(const router_state& st) {
  auto since = std::chrono::steady_clock::now() - st.started;
  return static_cast<uint32_t>(since / k_clock_step) + 1;
}

// Asks the idle and the least recently used beyond the cap to passivate.
// Each answers in its own turn (idle_report): only it knows whether it has
// anything in flight.
void passivate_some(router_ptr self) {
  auto& st = self->state;
  st.clock = clock_now(st);
  auto ticks =
      st.opts.passivate_after.count() > 0
          ? static_cast<uint32_t>(std::clamp<int64_t>(st.opts.passivate_after / k_clock_step, 1, UINT32_MAX - 1))
          : UINT32_MAX;
  std::vector<actor_table::slot*> busy; // candidates for the cap, by age
  size_t staying = st.live.size() - st.passivating;
  auto ask = [&](actor_table::slot& s) {
    s.passivating = true;
    ++st.passivating;
    --staying;
    self->send(s.actor, passivate_atom::value, s.round);
  };
  st.live.for_each_slot([&](actor_table::slot& s) {
    if (s.passivating)
      return;
    if (ticks != UINT32_MAX && st.clock - s.used_at >= ticks)
      ask(s);
    else if (st.live.size() > st.opts.max_live)
      busy.push_back(&s);
  });
  if (staying > st.opts.max_live && !busy.empty()) {
    size_t excess = std::min(staying - st.opts.max_live, busy.size());
    std::nth_element(busy.begin(), busy.begin() + static_cast<ptrdiff_t>(excess - 1), busy.end(),
                     [](auto* a, auto* b) { return a->used_at < b->used_at; });
    for (size_t i = 0; i < excess; ++i)
      ask(*busy[i]);
  }
}

void on_idle(router_ptr self, const idle_report& r) {
  auto& st = self->state;
  auto& a = *r.aggregate;
  auto* slot = st.live.find(&a.type(), a.id(), actor_table::hash(&a.type(), a.id()));
  if (!slot || slot->aggregate != &a || !slot->passivating)
    return;
  slot->passivating = false;
  --st.passivating;
  // Not quiet, or given commands since it was asked: it stays.
  if (!r.quiet || slot->round != r.round)
    return;
  // The router sends it nothing more, so its mailbox holds no command:
  // it may go, and the next command for it spawns a fresh actor.
  auto actor = std::move(slot->actor);
  st.live.erase(*slot);
  st.stats->aggregates_live.fetch_sub(1, std::memory_order_relaxed);
  st.stats->passivations.fetch_add(1, std::memory_order_relaxed);
  self->send(actor, stop_atom::value);
}

} // namespace

caf::behavior router_actor(caf::stateful_actor<router_state>* self, command_bus* bus, journal* sink, counters* stats,
                           router_options opts) {
  self->state.bus = bus;
  self->state.sink = sink;
  self->state.stats = stats;
  self->state.opts = opts;
  self->state.clock = clock_now(self->state);
  self->delayed_send(self, opts.tick, tick_atom::value);
  // Not linked to its aggregates (a link costs ~100 bytes in each of them):
  // the router stops them itself.
  self->set_exit_handler([self](caf::exit_msg& m) {
    auto& st = self->state;
    st.live.for_each([&](caf::actor& a) { self->send_exit(a, m.reason); });
    st.stats->aggregates_live.fetch_sub(st.live.size(), std::memory_order_relaxed);
    self->quit(m.reason);
  });
  return {
      [self](tick_atom) {
        passivate_some(self);
        self->delayed_send(self, self->state.opts.tick, tick_atom::value);
      },
      [self](const idle_report& r) { on_idle(self, r); },
      [self](reload_atom, const reload_ptr& r) {
        auto& st = self->state;
        r->pending = r->ids.size() + 1;
        for (auto& [type, id] : r->ids) {
          if (auto* slot = st.live.find(type, id, actor_table::hash(type, id)))
            self->send(slot->actor, reload_atom::value, r);
          else
            r->finish_one(); // not live: a passivated one never ran ahead of the log
        }
        r->finish_one();
      },
      [self](drain_atom) {
        auto& st = self->state;
        if (++st.round == 0) // 0 marks "never"; wraps after 2^32 drains
          st.round = 1;
        st.clock = clock_now(st);
        size_t taken = 0, n = 0;
        do {
          n = st.bus->take(st.scratch, k_take);
          taken += n;
          chain(self);
        } while (n == k_take && taken < k_max_drain);
        send_chains(self);
        if (n == k_take || st.bus->idle())
          self->send(self, drain_atom::value);
      },
  };
}

} // namespace sluice::actors
