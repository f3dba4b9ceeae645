// Starting an engine (and optionally the HTTP server on it) in tests.
#pragma once

#include "builtin/builtin.h"
#include "domain/command_decoder.h"
#include "engine/engine.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>

namespace sluice::testing {

/// An engine on `dir` serving `model`, recovered and ready; 2 actor threads.
/// Submits one command, given as JSON of the engine's model, and waits for its answer.
inline engine::command_result send_json(engine::engine& e, const std::string& json) {
  thread_local std::unique_ptr<domain::command_decoder> decoder;
  thread_local const domain::registry* decoder_of = nullptr;
  if (decoder_of != &e.model().types()) {
    decoder = std::make_unique<domain::command_decoder>(e.model().types());
    decoder_of = &e.model().types();
  }
  auto cmd = decoder->decode(json);
  if (!cmd)
    throw std::runtime_error("test command does not decode: " + cmd.error().message);
  std::promise<engine::command_result> p;
  auto f = p.get_future();
  e.submit(std::move(*cmd), [&p](engine::command_result r) { p.set_value(std::move(r)); });
  return f.get();
}

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
