// Validates an OpenAPI document with @apidevtools/swagger-parser (schema + semantic checks).
// Usage: node validate.mjs FILE  — prints the API title and version, exits 1 with the reason.
import SwaggerParser from "@apidevtools/swagger-parser";

const file = process.argv[2];
try {
  const api = await SwaggerParser.validate(file);
  console.log(`valid: ${api.info.title} ${api.info.version} (OpenAPI ${api.openapi})`);
} catch (err) {
  console.error(`invalid: ${err.message}`);
  process.exit(1);
}
