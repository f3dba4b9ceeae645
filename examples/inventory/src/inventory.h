// The inventory domain as one model: the stock aggregate and the low_stock view.
#pragma once

#include "domain/model.h"

namespace inventory {

const sluice::domain::model& model();

} // namespace inventory
