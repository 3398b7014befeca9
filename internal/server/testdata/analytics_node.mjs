// Sends track calls with Segment's @segment/analytics-node (the Node
// client Customer.io's Data Pipelines documentation points to) and prints
// what became of each, one JSON line per call: {event, error?, status?}.
// Arguments: the server's base URL, the write key, then the calls as
// JSON [{userId, event, properties}].
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.NODE_MODULES_DIR, "noop.js"));
const { Analytics } = require("@segment/analytics-node");

const [host, writeKey, calls] = process.argv.slice(2);
const analytics = new Analytics({ writeKey, host, path: "/v1/batch", maxEventsInBatch: 1, flushInterval: 10, maxRetries: 1 });
const statuses = [];
analytics.on("http_response", (r) => statuses.push(r.status));
const results = await Promise.all(JSON.parse(calls).map((call) => new Promise((resolve) => {
  analytics.track(call, (err) => resolve({ event: call.event, error: err ? String(err.message ?? err.reason ?? err) : undefined }));
})));
await analytics.closeAndFlush({ timeout: 5000 });
for (const r of results) console.log(JSON.stringify(r));
console.log(JSON.stringify({ statuses: statuses.sort() }));
