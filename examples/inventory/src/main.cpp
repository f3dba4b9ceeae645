// inventory: a sluice server of stock, with everything `sluice` has.
#include "app/run.h"
#include "inventory.h"

namespace {

constexpr const char* k_demo =
    R"({"type":"stock.register","aggregate_id":"WH1-CABLE","payload":{"warehouse":"WH1","reorder_level":10}}
{"type":"stock.receive","aggregate_id":"WH1-CABLE","payload":{"qty":12}}
{"type":"stock.reserve","aggregate_id":"WH1-CABLE","payload":{"qty":5}}
{"type":"stock.ship","aggregate_id":"WH1-CABLE","payload":{"qty":6}}
{"type":"stock.ship","aggregate_id":"WH1-CABLE","payload":{"qty":5}}
)";

} // namespace

int main(int argc, char** argv) {
  sluice::app::program p;
  p.name = "inventory";
  p.description = "inventory: stock per warehouse on sluice";
  p.demo_script = k_demo;
  p.demo_help = "register, receive, reserve and ship some stock (one shipment is refused) and print the results";
  return sluice::app::run(argc, argv, inventory::model(), p);
}
