// Runs graphql-http's GraphQL-over-HTTP server audit against a running tkc-library.
//   node tests/audit/audit.mjs http://127.0.0.1:8000/graphql
// Prints one line per audit; exits 1 when any audit ends in an error (a MUST not met).
import { auditServer } from "graphql-http";

const url = process.argv[2];
if (!url) {
  console.error("usage: node tests/audit/audit.mjs <graphql endpoint URL>");
  process.exit(2);
}

const results = await auditServer({ url, fetchFn: fetch });
let errors = 0;
let warnings = 0;
for (const result of results) {
  if (result.status === "ok") {
    console.log(`ok      ${result.id} ${result.name}`);
    continue;
  }
  if (result.status === "error") errors += 1;
  else warnings += 1;
  console.log(`${result.status.padEnd(7)} ${result.id} ${result.name}: ${result.reason}`);
}
console.log(`audit: ${results.length - errors - warnings} ok, ${warnings} warnings, ${errors} errors`);
process.exit(errors > 0 ? 1 : 0);
