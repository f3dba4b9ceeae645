// An engine with the HTTP server on a free loopback port, stopped in the
// order `sluice serve` stops them.
#pragma once

#include "engine_fixture.h"
#include "http/server.h"
#include "temp_dir.h"

namespace sluice::testing {

struct server_fixture {
  temp_dir dir;
  std::unique_ptr<engine::engine> engine;
  std::unique_ptr<http::server> server;

  explicit server_fixture(http::limits l = {}, http::stream_limits sl = {},
                          const domain::model& model = builtin::model()) {
    engine = start_engine(dir.path(), log::durability::none, 2, model);
    http::server_options so;
    so.port = 0;
    so.limits = l;
    so.stream = sl;
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
