#include "inventory.h"

#include "low_stock.h"
#include "stock.h"

#include <cstdio>
#include <cstdlib>

namespace inventory {

const sluice::domain::model& model() {
  static const sluice::domain::model m = [] {
    auto made = sluice::domain::model::make({&stock::type()}, {{"low_stock", 1, &make_low_stock}});
    if (!made) { // names are checked at start: say which, and stop
      std::fprintf(stderr, "inventory: %s\n", made.error().message.c_str());
      std::exit(2);
    }
    return std::move(*made);
  }();
  return m;
}

} // namespace inventory
