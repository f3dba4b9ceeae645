// /metrics in the Prometheus text exposition format (SPEC §8 names).
#pragma once

#include "engine/engine.h"

#include <string>

namespace sluice::http {

std::string render_metrics(const engine::metrics& m);

} // namespace sluice::http
