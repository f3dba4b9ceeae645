#include "engine/process_runner.h"

#include "base/logger.h"
#include "base/thread_name.h"
#include "engine/event_feed.h"
#include "log/checkpoint_file.h"

#include <deque>
#include <unordered_set>
#include <vector>

namespace sluice::engine {

namespace {

constexpr logger k_log("process");
constexpr size_t k_read_batch = 4096;
constexpr size_t k_max_outstanding = 4096; ///< steps sent and not answered; more wait their turn
constexpr auto k_retry_pause = std::chrono::milliseconds(100);
constexpr auto k_checkpoint_every = std::chrono::seconds(1);
constexpr uint64_t k_checkpoint_fingerprint = 0x5052'4f43'0000'0001; // "PROC", layout 1: position only

using clock = std::chrono::steady_clock;

// Reads the log for `manager`, a bounded number of batches: a round's
// worth. Once `live`, the instances its events touch go to `touched`.
std::expected<void, log::error> read_round(event_feed& feed, domain::process_manager& manager, bool live,
                                           std::vector<std::string>& touched) {
  for (int round = 0; round < 16 && feed.behind(); ++round) {
    auto r = feed.read(k_read_batch, [&](const log::record& rec) {
      auto key = manager.on_event(rec);
      if (live && !key.empty())
        touched.emplace_back(key);
    });
    if (!r)
      return std::unexpected(r.error());
    if (*r == 0)
      break; // a gap (retention): nothing to read there
  }
  return {};
}

} // namespace

struct process_runner::answer {
  std::string instance;
  domain::process_step step;
  command_result result;
};

struct process_runner::inbox {
  /// Waits until the log grew, answers came or a step or checkpoint is due,
  /// and takes the answers into `taken`; `read` says whether to read the
  /// log. False once stopped.
  bool wait_for_work(const state& st, std::vector<answer>& taken, bool& read);

  std::mutex mu;
  std::condition_variable cv;
  std::vector<answer> answers;
  bool log_grew = true;
  bool stop = false;
};

struct process_runner::outgoing {
  clock::time_point due;
  std::string instance;
  domain::process_step step;
};

struct process_runner::state {
  std::unique_ptr<event_feed> feed;
  bool live = false;                    ///< read to the log's end once: steps may be taken
  std::unordered_set<std::string> busy; ///< instances with a step queued or outstanding
  std::deque<outgoing> queue;           ///< first steps and steps after an answer, by due time
  std::deque<outgoing> retries;         ///< steps to send again, by due time
  size_t outstanding = 0;
  clock::time_point last_checkpoint{};

  /// When the runner must wake at the latest: the next checkpoint, or once
  /// live the first step due that may be sent.
  clock::time_point wake_time() const {
    auto wake = clock::now() + k_checkpoint_every;
    if (live) {
      if (!queue.empty() && outstanding < k_max_outstanding)
        wake = std::min(wake, queue.front().due);
      if (!retries.empty() && outstanding < k_max_outstanding)
        wake = std::min(wake, retries.front().due);
    }
    return wake;
  }

  /// Turns live, the log read to its end: returns the unfinished
  /// instances, to resume.
  std::vector<std::string> go_live(const domain::process_manager& manager, std::string_view process) {
    live = true;
    auto open = manager.unfinished();
    k_log.info("{}: read the log to position {}; resuming {} unfinished", process, feed->next_position() - 1,
               open.size());
    return open;
  }
};

bool process_runner::inbox::wait_for_work(const state& st, std::vector<answer>& taken, bool& read) {
  std::unique_lock lk(mu);
  cv.wait_until(lk, st.wake_time(), [&] { return stop || log_grew || !answers.empty() || st.feed->behind(); });
  if (stop)
    return false;
  read = std::exchange(log_grew, false) || st.feed->behind();
  taken.swap(answers);
  return true;
}

process_runner::process_runner(engine& e, const domain::process_definition& def, std::filesystem::path dir,
                               std::chrono::milliseconds delay)
    : engine_(&e),
      def_(&def),
      dir_(std::move(dir)),
      delay_(delay),
      manager_(def.make(e.model().types())),
      inbox_(std::make_shared<inbox>()),
      st_(std::make_unique<state>()) {
  bool found = false;
  auto c = log::read_checkpoint(dir_, def_->name, 1, 0, 1, found);
  if (c && c->fingerprint == k_checkpoint_fingerprint)
    written_.store(std::max<uint64_t>(c->position, 1));
  else if (found)
    k_log.warn("{}: checkpoint not used ({}); the log is read from its start", def_->name,
               c ? std::string("another layout") : c.error());
  keeps_from_.store(written_.load());
}

process_runner::~process_runner() { stop(); }

void process_runner::start() {
  auto from = written_.load();
  auto first = engine_->log().first_position();
  if (from < first) {
    k_log.info(
        "{}: the log starts at position {}, after the checkpoint at {}: retention cut it once every "
        "instance before had ended",
        def_->name, first, from);
    from = first;
  }
  st_->feed = std::make_unique<event_feed>(engine_->log(), from, std::string(def_->reads));
  // Wakes only a runner that may sleep: one that has the flag or answers
  // to take will look at everything again before it waits.
  listener_ = engine_->add_durable_listener([in = inbox_] {
    bool wake = false;
    {
      std::lock_guard lk(in->mu);
      wake = !in->log_grew && in->answers.empty();
      in->log_grew = true;
    }
    if (wake)
      in->cv.notify_one();
  });
  thread_ = std::thread([this] { run(); });
}

void process_runner::stop() {
  if (!thread_.joinable())
    return;
  {
    std::lock_guard lk(inbox_->mu);
    inbox_->stop = true;
  }
  inbox_->cv.notify_one();
  thread_.join();
  engine_->remove_durable_listener(listener_);
}

process_stats process_runner::stats() const {
  process_stats s;
  s.name = def_->name;
  s.unfinished = unfinished_.load(std::memory_order_relaxed);
  s.accepted = accepted_.load(std::memory_order_relaxed);
  s.duplicate = duplicate_.load(std::memory_order_relaxed);
  s.rejected = rejected_.load(std::memory_order_relaxed);
  s.conflict = conflict_.load(std::memory_order_relaxed);
  s.retried = retried_.load(std::memory_order_relaxed);
  return s;
}

void process_runner::consider(std::string_view instance) {
  auto& st = *st_;
  std::string key(instance);
  if (st.busy.contains(key))
    return; // its answer comes first; next() is asked then
  auto step = manager_->next(instance);
  if (!step)
    return;
  st.busy.insert(key);
  st.queue.push_back({clock::now() + delay_, std::move(key), std::move(*step)});
}

void process_runner::send_due() {
  auto& st = *st_;
  auto now = clock::now();
  auto send = [&](outgoing& o) {
    ++st.outstanding;
    auto cmd = o.step.cmd; // kept for a retry
    engine_->submit(std::move(cmd), [in = inbox_, o = std::move(o)](command_result r) mutable {
      bool wake = false;
      {
        std::lock_guard lk(in->mu);
        wake = !in->log_grew && in->answers.empty();
        in->answers.push_back({std::move(o.instance), std::move(o.step), std::move(r)});
      }
      if (wake)
        in->cv.notify_one();
    });
  };
  while (st.outstanding < k_max_outstanding && !st.retries.empty() && st.retries.front().due <= now) {
    send(st.retries.front());
    st.retries.pop_front();
  }
  while (st.outstanding < k_max_outstanding && !st.queue.empty() && st.queue.front().due <= now) {
    send(st.queue.front());
    st.queue.pop_front();
  }
}

uint64_t process_runner::resume_from() const {
  uint64_t at = manager_->oldest_unfinished();
  return at != 0 ? at : st_->feed->next_position();
}

void process_runner::save_checkpoint() {
  uint64_t at = resume_from();
  if (at == written_.load())
    return;
  log::checkpoint c;
  c.name = std::string(def_->name);
  c.version = 1;
  c.fingerprint = k_checkpoint_fingerprint;
  c.position = at;
  if (auto r = log::write_checkpoint(dir_, c); !r) {
    k_log.error("{}: checkpoint not written: {}", def_->name, r.error());
    return;
  }
  written_.store(at);
}

void process_runner::run() {
  name_this_thread(fmt::format("proc-{}", def_->name).substr(0, 15).c_str());
  auto& st = *st_;
  std::vector<answer> answers;
  std::vector<std::string> touched;
  for (;;) {
    bool read = false;
    if (!inbox_->wait_for_work(st, answers, read))
      break;

    for (auto& a : answers) {
      --st.outstanding;
      if (a.result.status != command_status::done) {
        retried_.fetch_add(1, std::memory_order_relaxed);
        st.retries.push_back({clock::now() + k_retry_pause, std::move(a.instance), std::move(a.step)});
        continue;
      }
      using kind = domain::outcome::kind;
      switch (a.result.outcome.result) {
        case kind::accepted: accepted_.fetch_add(1, std::memory_order_relaxed); break;
        case kind::duplicate: duplicate_.fetch_add(1, std::memory_order_relaxed); break;
        case kind::rejected: rejected_.fetch_add(1, std::memory_order_relaxed); break;
        case kind::conflict: conflict_.fetch_add(1, std::memory_order_relaxed); break;
      }
      manager_->on_answer(a.instance, a.step, a.result.outcome);
      st.busy.erase(a.instance);
      if (st.live)
        consider(a.instance);
    }
    answers.clear();

    // A bounded read per round, so that answers keep flowing while a long
    // log is caught up with.
    if (read)
      if (auto r = read_round(*st.feed, *manager_, st.live, touched); !r) {
        k_log.error("{}: reading the log failed: {}; trying again", def_->name, r.error().message);
        std::unique_lock lk(inbox_->mu);
        inbox_->cv.wait_for(lk, std::chrono::seconds(1), [&] { return inbox_->stop; });
      }
    for (auto& key : touched)
      consider(key);
    touched.clear();

    if (!st.live && !st.feed->behind())
      for (auto& key : st.go_live(*manager_, def_->name))
        consider(key);
    unfinished_.store(manager_->unfinished_count(), std::memory_order_relaxed);
    if (st.live) {
      keeps_from_.store(resume_from(), std::memory_order_relaxed);
      send_due();
      if (clock::now() - st.last_checkpoint >= k_checkpoint_every) {
        save_checkpoint();
        st.last_checkpoint = clock::now();
      }
    }
  }
  if (st.live)
    save_checkpoint();
}

} // namespace sluice::engine
