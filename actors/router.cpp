#include "actors/router.h"

#include "actors/aggregate_actor.h"

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
      std::unique_ptr<domain::aggregate> state;
      auto& asleep = st.dormant[type];
      if (auto d = asleep.find(t->cmd.aggregate_id.view()); d != asleep.end()) {
        state = std::move(d->second);
        asleep.erase(d);
      } else {
        state = std::make_unique<domain::aggregate>(*type, std::string(t->cmd.aggregate_id));
      }
      auto* a = state.release(); // owned by its actor from here on
      if (st.live.full())        // it grows: chains must not keep pointers into it
        for (auto& c : st.chains)
          c.actor = nullptr;
      slot = &st.live.insert(a, self->spawn(aggregate_actor, a, st.sink, st.stats), h);
      st.stats->aggregates_live.fetch_add(1, std::memory_order_relaxed);
    }
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

} // namespace

caf::behavior router_actor(caf::stateful_actor<router_state>* self, command_bus* bus, journal* sink, counters* stats) {
  self->state.bus = bus;
  self->state.sink = sink;
  self->state.stats = stats;
  // Not linked to its aggregates (a link costs ~100 bytes in each of them):
  // the router stops them itself.
  self->set_exit_handler([self](caf::exit_msg& m) {
    auto& st = self->state;
    st.live.for_each([&](caf::actor& a) { self->send_exit(a, m.reason); });
    st.stats->aggregates_live.fetch_sub(st.live.size(), std::memory_order_relaxed);
    self->quit(m.reason);
  });
  return {
      [self](adopt_atom, const dormant_ptr& recovered) { self->state.dormant = std::move(*recovered); },
      [self](reload_atom, const reload_ptr& r) {
        auto& st = self->state;
        r->pending = r->ids.size() + 1;
        for (auto& [type, id] : r->ids) {
          if (auto* slot = st.live.find(type, id, actor_table::hash(type, id)))
            self->send(slot->actor, reload_atom::value, r);
          else
            r->finish_one(); // not live: a dormant one never ran ahead of the log
        }
        r->finish_one();
      },
      [self](drain_atom) {
        auto& st = self->state;
        if (++st.round == 0) // 0 marks "never"; wraps after 2^32 drains
          st.round = 1;
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
