// The cluster's database of record on a real three-server JetStream
// cluster: the store contract (store_conformance.h), the fence between
// writers, and no acknowledged group lost when a server is killed.
#include "cluster/jetstream_store.h"
#include "cluster/partition.h"

#include "nats_cluster.h"
#include "store_conformance.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <signal.h>
#include <thread>

using namespace sluice;
using namespace sluice::log::testing;
using sluice::testing::nats_cluster;
using sluice::testing::temp_dir;

namespace {

nats_cluster& servers() {
  static nats_cluster c; // one cluster for the whole executable; killed at exit
  return c;
}

cluster::jetstream_options options_for(const std::string& stream, const std::filesystem::path& mirror,
                                       bool small_units = false) {
  cluster::jetstream_options o;
  o.servers = servers().url_list();
  o.stream = stream;
  o.subject = "test." + stream;
  o.mirror_dir = mirror;
  o.mirror_segment_bytes = small_units ? 4096 : 64ull << 20;
  o.connect_timeout = std::chrono::seconds(30);
  return o;
}

std::unique_ptr<cluster::jetstream_store> open_store(const cluster::jetstream_options& o) {
  auto r = cluster::jetstream_store::open(o);
  INFO((r ? "" : r.error().message));
  REQUIRE(r);
  return std::move(*r);
}

std::string stream_name() {
  static std::atomic<int> n{0};
  return fmt::format("T{}_{}", ::getpid(), n++);
}

// A fresh store over a fresh mirror of `stream`: what the stream holds.
std::vector<owned_record> stream_contents(const std::string& stream) {
  temp_dir d;
  auto s = open_store(options_for(stream, d.path()));
  return read_all(*s);
}

/// Holds a store's follower back (its view of the stream) until released.
struct view_gate {
  std::mutex mu;
  std::condition_variable cv;
  bool held = false;
  void hold() {
    std::lock_guard lk(mu);
    held = true;
  }
  void release() {
    std::lock_guard lk(mu);
    held = false;
    cv.notify_all();
  }
  void pass() {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return !held; });
  }
};

template <class Pred>
bool eventually(Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!pred() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return pred();
}

/// Appends `groups` at once, without waiting (pipelined), while `gate`
/// holds the writer's view back, then releases it: how many completed
/// fenced, and how many otherwise.
struct outcomes {
  int fenced = 0, other = 0;
};
outcomes pipelined_while_held(log::store& s, std::vector<log::write_batch> groups, view_gate& gate) {
  std::atomic<int> fenced{0}, other{0}, done{0};
  int n = static_cast<int>(groups.size());
  for (auto& g : groups)
    s.append(std::move(g), [&](std::expected<log::append_result, log::error> r) {
      (!r && r.error().code == log::errc::fenced) ? ++fenced : ++other;
      done.fetch_add(1);
      done.notify_all();
    });
  // The refusals come from the server while the view is still held back
  // (completions run on the follower, which passes one message first).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  gate.release();
  for (int seen = done.load(); seen < n; seen = done.load())
    done.wait(seen);
  return {fenced.load(), other.load()};
}

} // namespace

TEST_CASE("the JetStream store keeps the store's contract", "[cluster][store]") {
  // One stream per directory: a reopen of the directory finds its stream.
  static std::map<std::string, std::string> streams;
  store_factory f{[](const std::filesystem::path& dir, bool small_units) -> std::unique_ptr<log::store> {
    auto& name = streams[dir.string()];
    if (name.empty())
      name = stream_name();
    return open_store(options_for(name, dir, small_units));
  }};
  temp_dir dir;
  SECTION("positions") { conformance_positions(*f.open(dir.path(), false)); }
  SECTION("reads") { conformance_reads(*f.open(dir.path(), false)); }
  SECTION("completions") { conformance_completions(*f.open(dir.path(), false)); }
  SECTION("concurrency") { conformance_concurrency(*f.open(dir.path(), true)); }
  SECTION("reopen") { conformance_reopen(f, dir.path()); }
  SECTION("close") { conformance_close(*f.open(dir.path(), false)); }
  SECTION("retention") { conformance_retention(*f.open(dir.path(), true)); }
}

TEST_CASE("a mirror lost or left behind is rebuilt from the stream", "[cluster][store]") {
  auto name = stream_name();
  temp_dir a, b;
  {
    auto s = open_store(options_for(name, a.path()));
    for (uint64_t i = 0; i < 50; i += 10)
      REQUIRE(s->append_and_wait(samples(i, 10)));
  }
  auto fresh = open_store(options_for(name, b.path())); // an empty mirror
  CHECK(fresh->last_position() == 50);
  REQUIRE(fresh->append_and_wait(samples(50, 5)));
  auto old = open_store(options_for(name, a.path())); // 50 of 55: the tail is read
  CHECK(old->last_position() == 55);
  CHECK(read_all(*old) == read_all(*fresh));
}

TEST_CASE("a writer whose view of the stream is stale gets nothing accepted", "[cluster][fence]") {
  auto name = stream_name();
  temp_dir da, db;
  view_gate gate;
  auto oa = options_for(name, da.path());
  oa.before_apply = [&] { gate.pass(); };
  auto a = open_store(oa);
  auto b = open_store(options_for(name, db.path()));
  REQUIRE(a->append_and_wait(samples(0, 3))); // both writers see positions 1-3
  REQUIRE(eventually([&] { return b->last_position() == 3; }));

  // A stops reading (a pause, a slow link); B appends meanwhile.
  gate.hold();
  auto bs = b->append_and_wait(samples(100, 2)); // positions 4-5, decided on 1-3
  INFO((bs ? "" : bs.error().message));
  REQUIRE(bs);

  // A decides on what it saw (1-3), pipelining several groups: none lands.
  std::vector<log::write_batch> groups;
  for (uint64_t g = 0; g < 5; ++g)
    groups.push_back(samples(200 + g * 2, 2));
  auto got = pipelined_while_held(*a, std::move(groups), gate);
  CHECK(got.fenced == 5);
  CHECK(got.other == 0);
  CHECK(a->fenced() >= 1);

  // The stream holds B's group right after A's first: no stale decision.
  auto all = stream_contents(name);
  REQUIRE(all.size() == 5);
  for (uint64_t i = 0; i < 5; ++i) {
    auto expected = sample(i < 3 ? i : 100 + (i - 3));
    expected.position = i + 1;
    CHECK(all[i] == expected);
  }

  // Once A has read the tail, it appends after it.
  REQUIRE(eventually([&] { return a->last_position() == 5; }));
  auto later = a->append_and_wait(samples(300, 1));
  REQUIRE(later);
  CHECK(later->first == 6);
}

TEST_CASE("two writers racing: every group lands whole or is fenced, positions stay right", "[cluster][fence]") {
  auto name = stream_name();
  temp_dir da, db;
  auto a = open_store(options_for(name, da.path()));
  auto b = open_store(options_for(name, db.path()));
  struct outcome {
    uint64_t first_sample;
    log::append_result at;
  };
  std::mutex mu;
  std::vector<outcome> landed;
  std::atomic<int> fenced{0}, other{0};
  auto writer = [&](log::store& s, uint64_t base) {
    for (uint64_t g = 0; g < 100; ++g) {
      uint64_t first = base + g * 3;
      auto r = s.append_and_wait(samples(first, 3));
      if (r) {
        std::lock_guard lk(mu);
        landed.push_back({first, *r});
      } else if (r.error().code == log::errc::fenced) {
        ++fenced;
      } else {
        ++other;
      }
    }
  };
  std::thread ta([&] { writer(*a, 0); });
  std::thread tb([&] { writer(*b, 10'000); });
  ta.join();
  tb.join();
  INFO("landed " << landed.size() << ", fenced " << fenced.load());
  CHECK(other == 0);
  CHECK(landed.size() + static_cast<size_t>(fenced.load()) == 200);
  auto all = stream_contents(name);
  REQUIRE(all.size() == landed.size() * 3); // nothing but the groups acknowledged
  for (auto& o : landed)
    for (uint64_t j = 0; j < 3; ++j) {
      auto expected = sample(o.first_sample + j);
      expected.position = o.at.first + j;
      CHECK(all[o.at.first + j - 1] == expected);
    }
}

TEST_CASE("a server killed while groups are in flight loses no acknowledged group", "[cluster][kill]") {
  auto name = stream_name();
  temp_dir d;
  auto o = options_for(name, d.path());
  o.publish_timeout = std::chrono::milliseconds(500);
  auto s = open_store(o);
  // The stream's leader, or a follower: both must hold.
  bool leader = GENERATE(true, false);
  auto st = s->status();
  for (int i = 0; i < 100 && st && st->leader.empty(); ++i, st = s->status()) // an election after the last kill
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  REQUIRE(st);
  REQUIRE(st->leader.size() == 2); // "n0" … "n2"
  int victim = st->leader[1] - '0';
  if (!leader)
    victim = (victim + 1) % nats_cluster::k_servers;
  INFO((leader ? "killing the stream's leader n" : "killing a follower n") << victim);
  std::atomic<int> acked{0}, failed{0};
  std::thread writer([&] {
    for (uint64_t g = 0; g < 300; ++g) {
      auto r = s->append_and_wait(samples(g * 2, 2));
      r ? ++acked : ++failed;
    }
  });
  while (acked < 50)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  servers().kill(victim, SIGKILL); // a quorum of two remains
  writer.join();
  servers().start(victim);
  servers().wait_ready();
  INFO("acknowledged " << acked.load() << ", failed " << failed.load());
  CHECK(failed == 0); // a lost server delays a group, it does not fail it
  CHECK(acked == 300);
  auto all = stream_contents(name);
  REQUIRE(all.size() == 600);
  for (uint64_t i = 0; i < 600; ++i) {
    auto expected = sample(i);
    expected.position = i + 1;
    CHECK(all[i] == expected);
  }
}

namespace {

constexpr uint32_t k_partitions = 8;

// An aggregate id of partition `p` (the first "ORD-n" that hashes there).
std::string id_in(uint32_t p, int skip = 0) {
  for (int n = 0;; ++n) {
    auto id = fmt::format("ORD-{}", n);
    if (cluster::partition_of(id, k_partitions) == p && skip-- == 0)
      return id;
  }
}

// One record of aggregate `id`, whose version and data say which group it is.
log::write_batch one_for(const std::string& id, uint64_t tag) {
  owned_record r{0, tag, 1'700'000'000'000'000, "order.created", id, fmt::format("c-{}", tag), "x"};
  log::write_batch b;
  b.add(view(r));
  return b;
}

std::vector<uint32_t> all_partitions() {
  std::vector<uint32_t> out;
  for (uint32_t p = 0; p < k_partitions; ++p)
    out.push_back(p);
  return out;
}

} // namespace

TEST_CASE("a claim moves a partition: the old owner's groups for it are refused, its others go on",
          "[cluster][ownership]") {
  auto name = stream_name();
  temp_dir da, db;
  auto oa = options_for(name, da.path()), ob = options_for(name, db.path());
  oa.partitions = ob.partitions = k_partitions;
  auto a = open_store(oa);
  auto b = open_store(ob);
  REQUIRE(a->claim(all_partitions()));
  CHECK(a->owned_partitions() == all_partitions());
  auto unowned = b->append_and_wait(one_for(id_in(3), 1)); // B owns nothing yet
  REQUIRE_FALSE(unowned);
  CHECK(unowned.error().code == log::errc::fenced);
  REQUIRE(a->append_and_wait(one_for(id_in(3), 2)));
  REQUIRE(eventually([&] { return b->last_position() == 1; }));

  REQUIRE(b->claim({3}));
  CHECK(b->owns(3));
  REQUIRE(eventually([&] { return !a->owns(3); }));
  auto stale = a->append_and_wait(one_for(id_in(3, 1), 3));
  REQUIRE_FALSE(stale);
  CHECK(stale.error().code == log::errc::fenced);
  REQUIRE(a->append_and_wait(one_for(id_in(5), 4))); // A keeps the rest
  REQUIRE(eventually([&] { return b->last_position() == 2; }));
  REQUIRE(b->append_and_wait(one_for(id_in(3), 5)));

  auto all = stream_contents(name);
  REQUIRE(all.size() == 3);
  CHECK(all[0].version == 2);
  CHECK(all[1].version == 4);
  CHECK(all[2].version == 5);
}

TEST_CASE("an owner paused past a takeover gets none of its groups for the partition accepted",
          "[cluster][ownership][fence]") {
  auto name = stream_name();
  temp_dir da, db;
  view_gate gate;
  auto oa = options_for(name, da.path()), ob = options_for(name, db.path());
  oa.partitions = ob.partitions = k_partitions;
  oa.before_apply = [&] { gate.pass(); };
  auto a = open_store(oa);
  auto b = open_store(ob);
  REQUIRE(a->claim(all_partitions()));
  REQUIRE(a->append_and_wait(one_for(id_in(2), 1)));
  REQUIRE(eventually([&] { return b->last_position() == 1; }));

  // A is paused (its view held); B takes partition 2 and writes to it.
  gate.hold();
  REQUIRE(b->claim({2}));
  REQUIRE(b->append_and_wait(one_for(id_in(2), 2)));

  // A still believes it owns 2 and pipelines groups decided on its state.
  CHECK(a->owns(2));
  std::vector<log::write_batch> groups;
  for (uint64_t g = 0; g < 4; ++g)
    groups.push_back(one_for(id_in(2), 10 + g));
  auto got = pipelined_while_held(*a, std::move(groups), gate);
  CHECK(got.fenced == 4);
  CHECK(got.other == 0);
  REQUIRE(eventually([&] { return !a->owns(2); })); // it read the claim
  CHECK(a->owns(5));

  auto all = stream_contents(name);
  REQUIRE(all.size() == 2);
  CHECK(all[0].version == 1);
  CHECK(all[1].version == 2);
}

TEST_CASE("a claim decided on a stale view is refused", "[cluster][ownership][fence]") {
  auto name = stream_name();
  temp_dir da, db;
  view_gate gate;
  auto oa = options_for(name, da.path()), ob = options_for(name, db.path());
  oa.partitions = ob.partitions = k_partitions;
  ob.before_apply = [&] { gate.pass(); };
  auto a = open_store(oa);
  auto b = open_store(ob);
  REQUIRE(a->claim(all_partitions()));
  REQUIRE(eventually([&] { return b->last_sequence() == 1; }));
  gate.hold();
  REQUIRE(a->append_and_wait(one_for(id_in(6), 1))); // B has not read this
  std::expected<void, log::error> claimed;
  std::thread t([&] { claimed = b->claim({6}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  gate.release();
  t.join();
  REQUIRE_FALSE(claimed);
  CHECK(claimed.error().code == log::errc::fenced);
  CHECK(a->owns(6));
  CHECK_FALSE(b->owns(6));
  // Once B has read the tail, its claim lands after it.
  REQUIRE(eventually([&] { return b->last_position() == 1; }));
  REQUIRE(b->claim({6}));
  REQUIRE(eventually([&] { return !a->owns(6); }));
}

TEST_CASE("a group past the servers' max_payload is refused whole, at once; the next one lands", "[cluster][store]") {
  temp_dir d;
  auto s = open_store(options_for(stream_name(), d.path()));
  size_t cap = s->max_group_bytes();
  CHECK(cap == (8u << 20) - 1024); // the test servers' max_payload less the header room
  std::string data(64 << 10, 'x');
  log::write_batch big;
  for (uint64_t v = 1; big.bytes() <= cap; ++v)
    REQUIRE(big.add({0, v, 1, "t", "agg", "c", data}));
  std::optional<std::expected<log::append_result, log::error>> out;
  s->append(std::move(big), [&](auto r) { out = std::move(r); }); // refused on the caller's thread
  REQUIRE(out.has_value());
  REQUIRE_FALSE(out->has_value());
  CHECK(out->error().code == log::errc::invalid_argument);
  auto next = s->append_and_wait(samples(0, 3));
  REQUIRE(next);
  CHECK(next->first == 1);
  CHECK(s->last_position() == 3);
}
