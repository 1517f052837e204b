// Reads an AsyncAPI document (JSON) on stdin and prints the official parser's diagnostics
// as a JSON array of {code, message, path, severity}; severity 0 is an error, 1 a warning,
// 2 information, 3 a hint. Exits with 0 whatever the diagnostics say (the caller judges).
"use strict";

const { Parser } = require("@asyncapi/parser");

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString("utf8");
  const { diagnostics } = await new Parser().parse(text);
  const found = diagnostics.map((d) => ({
    code: String(d.code),
    message: d.message,
    path: d.path.map(String),
    severity: d.severity,
  }));
  process.stdout.write(JSON.stringify(found) + "\n");
}

main().catch((error) => {
  process.stderr.write(String((error && error.stack) || error) + "\n");
  process.exit(2);
});
