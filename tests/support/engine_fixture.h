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
