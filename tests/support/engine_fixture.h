// Starting an engine (and optionally the HTTP server on it) in tests.
#pragma once

#include "builtin/builtin.h"
#include "engine/engine.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <memory>

namespace sluice::testing {

/// An engine on `dir` serving `model`, recovered and ready; 2 actor threads.
/// An engine on `o` (whose model, data_dir … the caller set), ready.
inline std::unique_ptr<engine::engine> start_engine(const engine::options& o) {
  auto e = engine::start(o);
  REQUIRE(e);
  REQUIRE((*e)->wait_ready(std::chrono::seconds(30)));
  return std::move(*e);
}

/// Options that passivate every aggregate idle for `idle` (checked that often).
inline engine::options churning(const std::filesystem::path& dir, std::chrono::milliseconds idle,
                                const domain::model& model = builtin::model()) {
  engine::options o;
  o.model = &model;
  o.data_dir = dir;
  o.durability = log::durability::none;
  o.threads = 2;
  o.passivate_after = idle;
  o.passivation_tick = idle;
  return o;
}

inline std::unique_ptr<engine::engine> start_engine(const std::filesystem::path& dir,
                                                    log::durability mode = log::durability::none, uint32_t shards = 2,
                                                    const domain::model& model = builtin::model()) {
  engine::options o;
  o.model = &model;
  o.data_dir = dir;
  o.durability = mode;
  o.threads = 2;
  o.shards = shards;
  auto e = engine::start(o);
  REQUIRE(e);
  REQUIRE((*e)->wait_ready(std::chrono::seconds(30)));
  return std::move(*e);
}

} // namespace sluice::testing
