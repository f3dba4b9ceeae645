// Test runner: warnings from the code under test are expected (hostile
// tests provoke them), so logging is quiet unless SLUICE_TEST_LOG is set.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "base/logger.h"

#include <cstdlib>

int main(int argc, char* argv[]) {
  if (!std::getenv("SLUICE_TEST_LOG"))
    sluice::logger::set_level(sluice::log_level::off);
  return Catch::Session().run(argc, argv);
}
