#include "tally_domain.h"

#include "domain/aggregate_type_of.h"
#include "views/projector.h"

#include <chrono>
#include <map>
#include <string>
#include <thread>

namespace sluice::testing::tally {

namespace {

using codec::field;
using domain::decision;
using domain::event_sink;

struct state {
  bool open = false;
  int64_t limit = 0;
  int64_t total = 0;
};

struct open_cmd {
  static constexpr std::string_view name = "tally.open";
  int64_t limit = 0;
};
template <class F>
bool inspect(F& f, open_cmd& x) {
  return f(field("limit", x.limit, 1, 1'000'000));
}

struct add_cmd {
  static constexpr std::string_view name = "tally.add";
  int64_t n = 0;
};
template <class F>
bool inspect(F& f, add_cmd& x) {
  return f(field("n", x.n, 1, 1000));
}

struct opened {
  static constexpr std::string_view name = "tally.opened";
  int64_t limit = 0;
};
template <class F>
bool inspect(F& f, opened& x) {
  return f(field("limit", x.limit));
}

struct added {
  static constexpr std::string_view name = "tally.added";
  int64_t n = 0;
};
template <class F>
bool inspect(F& f, added& x) {
  return f(field("n", x.n));
}

decision decide(const state& s, const open_cmd& c, event_sink& out) {
  if (s.open)
    return std::unexpected("tally already exists");
  out.emit(opened{c.limit});
  return {};
}

decision decide(const state& s, const add_cmd& c, event_sink& out) {
  if (!s.open)
    return std::unexpected("tally does not exist");
  if (s.total + c.n > s.limit)
    return std::unexpected("the tally would pass its limit");
  out.emit(added{c.n});
  return {};
}

void evolve(state& s, const opened& e) {
  s.open = true;
  s.limit = e.limit;
}
void evolve(state& s, const added& e) { s.total += e.n; }

struct module {
  static constexpr std::string_view name = "tally";
  using state = tally::state;
  using commands = domain::type_list<open_cmd, add_cmd>;
  using events = domain::type_list<opened, added>;
};
using tally_type = domain::aggregate_type_of<module>;

std::atomic<bool> g_hold_v2{false};

class tallies final : public views::projector {
 public:
  tallies(uint32_t shard, uint32_t shards, uint32_t version) : shard_(shard), shards_(shards), version_(version) {}

  std::string_view route(const log::record& r) override {
    return views::shard_of(r.aggregate_id, shards_) == shard_ ? r.aggregate_id : std::string_view{};
  }

  views::apply_result apply(const log::record& r, std::string_view key) override {
    while (version_ == 2 && g_hold_v2.load())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    auto& row = rows_[std::string(key)];
    state s{true, 0, row.total};
    if (!tally_type::evolve_plain(s, r.type, r.data))
      return false;
    if (r.type == added::name)
      ++row.adds;
    row.total = s.total;
    return true;
  }

  void render(std::string_view key, codec::json_writer& w) const override {
    auto& row = rows_.find(std::string(key))->second;
    w.begin_object().key("tally_id").string(key).key("total").integer(row.total).key("adds").integer(row.adds);
    if (version_ == 2)
      w.key("mean").integer(row.adds ? row.total / row.adds : 0);
    w.end_object();
  }

 private:
  struct row_type {
    int64_t total = 0, adds = 0;
  };
  uint32_t shard_, shards_, version_;
  std::map<std::string, row_type> rows_;
};

std::unique_ptr<views::projector> make_tallies(uint32_t shard, uint32_t shards) {
  return std::make_unique<tallies>(shard, shards, 1);
}

std::unique_ptr<views::projector> make_tallies_v2(uint32_t shard, uint32_t shards) {
  return std::make_unique<tallies>(shard, shards, 2);
}

} // namespace

const domain::aggregate_type& type() {
  static const tally_type t;
  return t;
}

domain::view_definition tallies_view() { return {"tallies", 1, &make_tallies}; }

domain::view_definition tallies_v2_view() { return {"tallies", 2, &make_tallies_v2}; }

std::atomic<bool>& hold_v2() { return g_hold_v2; }

const domain::model& model() {
  static const domain::model m = *domain::model::make({&type()}, {tallies_view()});
  return m;
}

} // namespace sluice::testing::tally
