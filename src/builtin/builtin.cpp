#include "builtin/builtin.h"

#include "domain/account.h"
#include "domain/order.h"
#include "domain/transfer.h"
#include "builtin/transfers.h"
#include "views/order_views.h"

#include <cstdio>
#include <cstdlib>

namespace sluice::builtin {

const domain::model& model() {
  static const domain::model m = [] {
    auto made = domain::model::make({&domain::order::type(), &domain::account::type(), &domain::transfer::type()},
                                    {
                                        {"order_summary", 1, &views::make_order_summary},
                                        {"customer_orders", 1, &views::make_customer_orders},
                                        {"customer_orders", 2, &views::make_customer_orders_v2},
                                        {"order_stats", 1, &views::make_order_stats},
                                        {"account_balance", 1, &views::make_account_balance},
                                        {"transfer_status", 1, &views::make_transfer_status},
                                    },
                                    {{"transfers", "transfer", &make_transfers}});
    if (!made) { // a defect of this file, found by every test
      std::fprintf(stderr, "the built-in domain does not register: %s\n", made.error().message.c_str());
      std::abort();
    }
    return std::move(*made);
  }();
  return m;
}

} // namespace sluice::builtin
