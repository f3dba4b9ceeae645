// docs/openapi.json through a real OpenAPI 3.1 validator (the official JSON
// schemas, by @seriousme/openapi-schema-validator).
//   node tests/browser/openapi.mjs docs/openapi.json
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";

const file = process.argv[2];
if (!file) {
  console.error("usage: openapi.mjs FILE");
  process.exit(2);
}
const validator = new Validator();
const result = await validator.validate(file);
if (!result.valid) {
  console.log(`FAIL ${file} is not valid OpenAPI:`);
  console.log(JSON.stringify(result.errors, null, 2));
  process.exit(1);
}
console.log(`ok   ${file} is valid OpenAPI ${validator.version}`);

// The validator is seen to refuse: the same document with a parameter in
// a place OpenAPI 3 does not have (Swagger 2's "body").
const broken = JSON.parse(readFileSync(file, "utf8"));
broken.paths["/v1/events"].get.parameters[0].in = "body";
const again = await new Validator().validate(broken);
if (again.valid) {
  console.log("FAIL the validator accepted a parameter in \"body\"");
  process.exit(1);
}
console.log("ok   a parameter in \"body\" is refused");
