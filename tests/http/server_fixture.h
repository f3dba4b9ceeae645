// An engine with the HTTP server on a free loopback port, stopped in the
// order `sluice serve` stops them.
#pragma once

#include "engine_fixture.h"
#include "http/server.h"
#include "temp_dir.h"

#include <functional>

namespace sluice::testing {

struct server_fixture {
  temp_dir dir;
  std::unique_ptr<engine::engine> engine;
  std::unique_ptr<http::server> server;

  explicit server_fixture(http::limits l = {}, http::stream_limits sl = {},
                          const domain::model& model = builtin::model(),
                          const std::function<void(http::server_options&)>& tune_server = {}) {
    engine = start_engine(dir.path(), log::durability::none, 2, model);
    http::server_options so;
    so.port = 0;
    so.limits = l;
    so.stream = sl;
    if (tune_server)
      tune_server(so);
    server = std::make_unique<http::server>(*engine, so);
    REQUIRE(server->start());
  }
  /// With engine options of its own (`tune` sees them with model and data directory set).
  explicit server_fixture(const std::function<void(engine::options&)>& tune) {
    engine::options o;
    o.model = &builtin::model();
    o.data_dir = dir.path();
    o.durability = log::durability::none;
    o.threads = 2;
    tune(o);
    engine = start_engine(o);
    http::server_options so;
    so.port = 0;
    server = std::make_unique<http::server>(*engine, so);
    REQUIRE(server->start());
  }
  ~server_fixture() {
    server->stop_accepting();
    engine->stop();
    server->stop();
  }
};

} // namespace sluice::testing
