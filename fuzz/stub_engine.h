// An engine without actors for the fuzz targets: commands are decided by
// real aggregates on the calling thread and answered at once; views are
// empty; the log is a real, empty one in a temporary directory.
#pragma once

#include "builtin/builtin.h"
#include "engine/engine.h"

#include <map>

namespace sluice::fuzz {

namespace eng = sluice::engine;

class stub_engine final : public eng::engine {
 public:
  explicit stub_engine(std::unique_ptr<log::event_log> log) : log_(std::move(log)) {}

  const domain::model& model() const override { return builtin::model(); }

  void submit(domain::command cmd, eng::command_callback done) override {
    auto key = std::make_pair(cmd.type, std::string(cmd.aggregate_id));
    auto it = aggregates_.find(key);
    if (it == aggregates_.end()) {
      if (aggregates_.size() > 1000)
        aggregates_.clear(); // bounded, whatever the input
      it =
          aggregates_.emplace(key, std::make_unique<domain::aggregate>(*cmd.type, std::string(cmd.aggregate_id))).first;
    }
    events_.clear();
    eng::command_result r;
    r.outcome = it->second->handle(cmd, events_);
    if (r.outcome.result == domain::outcome::kind::accepted)
      it->second->durable(cmd.command_id, r.position = ++position_);
    done(std::move(r));
  }
  bool read_view(eng::view_ref, std::string_view, uint64_t, std::chrono::milliseconds,
                 std::move_only_function<void(eng::view_read)> done) override {
    done({});
    return true;
  }
  bool list_view(eng::view_ref, std::string_view, size_t, std::move_only_function<void(eng::view_page)> done) override {
    done({});
    return true;
  }
  std::shared_ptr<eng::view_feed> subscribe_view(eng::view_ref, std::string_view, std::function<void()>) override {
    return nullptr;
  }
  eng::view_state state_of(eng::view_ref) const override { return eng::view_state::unknown; }
  std::vector<eng::view_status> view_statuses() const override { return {}; }
  eng::rebuild_status rebuild_view(std::string_view, uint32_t&) override { return eng::rebuild_status::unknown_view; }
  bool view_errors(std::string_view, std::string_view, size_t,
                   std::move_only_function<void(eng::view_errors_page)>) override {
    return false;
  }
  bool replay_view_errors(std::string_view, std::string_view, std::move_only_function<void(size_t, size_t)>) override {
    return false;
  }
  bool skip_view_errors(std::string_view, std::string_view, std::move_only_function<void(uint64_t)>) override {
    return false;
  }
  uint64_t add_durable_listener(std::function<void()>) override { return 0; }
  void remove_durable_listener(uint64_t) override {}
  const log::store& log() const override { return *log_; }
  std::vector<history_part> aggregate_history(std::string_view, size_t, size_t) const override { return {}; }
  bool ready() const override { return true; }
  bool stopping() const override { return false; }
  bool log_unavailable() const override { return false; }
  void count_invalid(uint64_t n) override { invalid_ += n; }
  uint64_t invalid() const { return invalid_; }
  bool wait_ready(std::chrono::milliseconds) override { return true; }
  eng::metrics snapshot() const override { return {}; }
  std::optional<eng::cluster_status> cluster() const override { return std::nullopt; }
  void stop() override {}

 private:
  std::unique_ptr<log::event_log> log_;
  std::map<std::pair<const domain::aggregate_type*, std::string>, std::unique_ptr<domain::aggregate>> aggregates_;
  domain::event_list events_;
  uint64_t position_ = 0;
  uint64_t invalid_ = 0;
};

} // namespace sluice::fuzz
