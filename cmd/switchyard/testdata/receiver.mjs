// A webhook receiver as an app would write one: it verifies every request
// with the npm standardwebhooks package (the Standard Webhooks reference
// library) and keeps what it saw. Arguments: the whsec_ secret. It
// prints "listening PORT" once ready; GET /seen answers the deliveries
// as JSON [{id, verified, error?, type?}], GET /stop?n=N makes the next N
// POSTs fail with 503 (an app that is down).
import { createRequire } from "node:module";
import http from "node:http";
import path from "node:path";

const require = createRequire(path.join(process.env.NODE_MODULES_DIR, "noop.js"));
const { Webhook } = require("standardwebhooks");

const wh = new Webhook(process.argv[2]);
const seen = [];
let failNext = 0;
const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  if (req.method === "GET" && url.pathname === "/seen") {
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify(seen));
    return;
  }
  if (req.method === "GET" && url.pathname === "/stop") {
    failNext = Number(url.searchParams.get("n"));
    res.end("ok");
    return;
  }
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (c) => { body += c; });
  req.on("end", () => {
    if (failNext > 0) {
      failNext--;
      res.statusCode = 503;
      res.end();
      return;
    }
    try {
      const payload = wh.verify(body, req.headers);
      seen.push({ id: req.headers["webhook-id"], verified: true, type: payload.type });
      res.statusCode = 204;
    } catch (e) {
      seen.push({ id: req.headers["webhook-id"], verified: false, error: String(e.message || e) });
      res.statusCode = 400;
    }
    res.end();
  });
});
server.listen(0, "127.0.0.1", () => console.log("listening " + server.address().port));
