// sluice: the server of the built-in example domains (SPEC §3).
#include "app/run.h"
#include "builtin/builtin.h"

namespace {

constexpr const char* k_demo_script =
    R"({"type":"order.create","aggregate_id":"ORD-1","command_id":"c-1","payload":{"customer_id":"CUST-7"}}
{"type":"order.add_item","aggregate_id":"ORD-1","payload":{"product":"Laptop","qty":1,"price":999.99}}
{"type":"order.add_item","aggregate_id":"ORD-1","payload":{"product":"Mouse","qty":2,"price":29.99}}
{"type":"order.confirm","aggregate_id":"ORD-1","expected_version":3,"payload":{}}
{"type":"order.add_item","aggregate_id":"ORD-1","payload":{"product":"Cable","qty":1,"price":5}}
{"type":"order.create","aggregate_id":"ORD-1","command_id":"c-1","payload":{"customer_id":"CUST-7"}}
{"type":"account.open","aggregate_id":"ACC-1","payload":{"owner":"Ada"}}
{"type":"account.deposit","aggregate_id":"ACC-1","payload":{"amount":100}}
{"type":"account.withdraw","aggregate_id":"ACC-1","payload":{"amount":150}}
{"type":"account.withdraw","aggregate_id":"ACC-1","payload":{"amount":0.001}}
{"type":"account.withdraw","aggregate_id":"ACC-1","expected_version":1,"payload":{"amount":10}}
{"type":"account.freeze","aggregate_id":"ACC-1","payload":{}}
{"type":"order.create","aggregate_id":"ORD-2", "payload":{"customer_id":"CUST-7"}
)";

} // namespace

int main(int argc, char** argv) {
  sluice::app::program p;
  p.demo_script = k_demo_script;
  p.demo_help =
      "apply a sample session of order and account commands (accepted, rejected, invalid, conflicting, "
      "duplicate) and print the results; run it again to see duplicates and rejections from rebuilt state";
  return sluice::app::run(argc, argv, sluice::builtin::model(), p);
}
