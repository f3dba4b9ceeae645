#include "actors/router.h"

#include "actors/aggregate_actor.h"

namespace sluice::actors {

namespace {
constexpr size_t k_max_drain = 4096; // commands per turn; then yield to the aggregates
}

caf::behavior router_actor(caf::stateful_actor<router_state>* self, command_bus* bus, journal* sink,
                           counters* stats) {
  self->state.bus = bus;
  self->state.sink = sink;
  self->state.stats = stats;
  return {
      [self](adopt_atom, const dormant_ptr& recovered) { self->state.dormant = std::move(*recovered); },
      [self](drain_atom) {
        auto& st = self->state;
        size_t n = st.bus->take(st.scratch, k_max_drain);
        for (auto& t : st.scratch) {
          auto* type = t->cmd.type;
          auto& actors = st.live[type];
          auto it = actors.find(t->cmd.aggregate_id);
          if (it == actors.end()) {
            std::unique_ptr<domain::aggregate> state;
            auto& asleep = st.dormant[type];
            if (auto d = asleep.find(t->cmd.aggregate_id); d != asleep.end()) {
              state = std::move(d->second);
              asleep.erase(d);
            } else {
              state = std::make_unique<domain::aggregate>(*type, t->cmd.aggregate_id);
            }
            // Linked: when the router stops, its aggregates stop with it.
            auto a = self->spawn<caf::linked>(aggregate_actor, state.release(), st.sink, st.stats);
            it = actors.emplace(t->cmd.aggregate_id, std::move(a)).first;
          }
          self->send(it->second, std::move(t));
        }
        st.scratch.clear();
        if (n == k_max_drain || st.bus->idle())
          self->send(self, drain_atom::value);
      },
  };
}

} // namespace sluice::actors
