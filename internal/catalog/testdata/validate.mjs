// Parses the generated documents with the reference parsers and fails on
// any error-level diagnostic. Usage: node validate.mjs asyncapi.json openapi.json
// (NODE_PATH must hold @asyncapi/parser and @readme/openapi-parser).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const require = createRequire(path.join(process.env.NODE_PATH, 'noop.js'));
const { Parser } = require('@asyncapi/parser');
const { validate } = require('@readme/openapi-parser');

const [asyncapiFile, openapiFile] = process.argv.slice(2);
let failed = false;

const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(asyncapiFile, 'utf8'));
const errors = diagnostics.filter((d) => d.severity === 0);
for (const d of errors) console.error(`asyncapi: ${d.code}: ${d.message} at ${d.path.join('.')}`);
if (!document || errors.length > 0) failed = true;
else console.log(`asyncapi: ok (${document.channels().length} channels, ${document.messages().length} messages, ${diagnostics.length} warnings)`);

const result = await validate(JSON.parse(readFileSync(openapiFile, 'utf8')));
if (!result.valid) {
  failed = true;
  console.error('openapi:', JSON.stringify(result.errors, null, 2));
} else console.log(`openapi: ok (${(result.warnings || []).length} warnings)`);
process.exit(failed ? 1 : 0);
