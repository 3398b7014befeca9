// Drives the web console in headless Chromium against a running
// switchyard (TestConsoleInBrowser starts it). Arguments: the server's
// URL, the stand-in destination's URL, the folder for screenshots.
// Exits non-zero with the reason on the first failed check.
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";
import path from "node:path";

const require = createRequire(path.join(process.env.NODE_MODULES_DIR, "noop.js"));
const { chromium } = require("playwright-core");

const [base, standIn, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });
const fail = (msg) => { throw new Error(msg); };

async function api(method, p, body) {
  const r = await fetch(base + p, { method, headers: { "Content-Type": "application/json" }, body: body && JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

async function waitFor(what, fn, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) fail("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
const errors = [];
// expected400 is set around the checks that provoke a 400 on purpose (a
// bad filter, a bad workflow): the browser logs those as errors too.
let expected400 = false;
async function open(width) {
  const ctx = await browser.newContext({ viewport: { width, height: 900 }, timezoneId: "Europe/Paris" });
  const page = await ctx.newPage();
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    if (expected400 && /status of 400/.test(m.text())) return;
    errors.push(page.url() + ": " + m.text());
  });
  page.on("pageerror", (e) => errors.push(page.url() + ": " + e.message));
  return page;
}
const page = await open(1280);
const phone = await open(390);

try {
  // Seed: an event with a profile, and a run that fails (the stand-in refuses).
  let r = await api("POST", "/track", { source: { id: "web" }, profile: { id: "ada" }, events: [{ type: "purchase", properties: { total: 120 } }] });
  if (r.status !== 200) fail("seed /track: " + r.status);
  const failed = await waitFor("a failed run", async () => (await api("GET", "/admin/v1/runs?status=failed")).json.runs[0]);
  const ev = (await api("GET", "/admin/v1/events?type=purchase")).json.events[0];
  // A signup without a plan breaks the tracking plan (flag mode: stored).
  r = await api("POST", "/track", { source: { id: "web" }, profile: { id: "bob" }, events: [{ type: "signup", properties: { coupon: "X" } }] });
  if (r.status !== 200) fail("seed flagged /track: " + r.status);
  const flagged = await waitFor("the flagged signup", async () => (await api("GET", "/admin/v1/events?type=signup")).json.events.find((e) => e.violations));

  // 1. Every page loads without console errors, at desktop and phone widths.
  const pages = ["/console/", "/console/live", "/console/events", "/console/events/" + ev.id, "/console/profiles",
    "/console/profiles/" + ev.profile_id, "/console/sources", "/console/sources/web", "/console/sources/new",
    "/console/workflows", "/console/workflows/notify", "/console/workflows/new", "/console/runs", "/console/runs/" + failed.id,
    "/console/destinations", "/console/destinations/new", "/console/destinations/app", "/console/alerts", "/console/audit",
    "/console/catalog", "/console/events/" + flagged.id];
  for (const p of pages) {
    for (const [pg, w] of [[page, "desktop"], [phone, "phone"]]) {
      const resp = await pg.goto(base + p);
      if (resp.status() !== 200) fail(p + " answered " + resp.status());
      await pg.waitForLoadState("networkidle").catch(() => {});
      const name = (p.replace(/^\/console\/?/, "").replace(/[^a-z0-9]+/gi, "-") || "overview").slice(0, 40);
      await pg.screenshot({ path: path.join(shots, `${name}-${w}.png`), fullPage: true });
    }
  }
  // Times are shown in the viewer's zone (Europe/Paris here).
  await page.goto(base + "/console/events/" + ev.id);
  const shown = await page.locator("time").first().textContent();
  if (/UTC/.test(shown)) fail("times not localised: " + shown);

  // 2. An event sent with curl appears on Live within 1 s.
  await page.goto(base + "/console/live");
  await page.waitForFunction(() => document.getElementById("live-state").textContent === "live");
  const sent = Date.now();
  r = await api("POST", "/track", { source: { id: "web" }, events: [{ type: "live-check", properties: { n: 1 } }] });
  if (r.status !== 200) fail("live /track: " + r.status);
  await page.locator("#live-list li summary", { hasText: "live-check" }).first().waitFor({ timeout: 5000 });
  const took = Date.now() - sent;
  if (took > 1000) fail("the event took " + took + " ms to show on Live");
  await page.locator("#live-list li summary", { hasText: "live-check" }).first().click();
  await page.locator("#live-list li pre").first().waitFor();
  await page.screenshot({ path: path.join(shots, "live-with-event-desktop.png"), fullPage: true });
  console.log("live: shown " + took + " ms after the request");

  // A filter that does not compile says why.
  expected400 = true;
  await page.fill("#l-filter", "event.");
  await page.click("#live-filters button[type=submit]");
  await page.waitForFunction(() => document.getElementById("live-state").textContent.startsWith("stopped: "));
  expected400 = false;

  // 3. A profile is found and erased (typed confirmation).
  await page.goto(base + "/console/profiles");
  await page.selectOption("#p-kind", "profile");
  await page.fill("#p-value", ev.profile_id);
  await page.click("form.filters button[type=submit]");
  await page.waitForURL(/\/console\/profiles\/[^?]+$/);
  const pid = decodeURIComponent(page.url().split("/").pop());
  await page.click("button.danger"); // without the typed id: refused
  await page.locator("#action-result.problem").waitFor();
  await page.fill("#erase-confirm", pid);
  await page.click("button.danger");
  await page.waitForURL(/erased=/);
  await page.screenshot({ path: path.join(shots, "profile-erased-desktop.png"), fullPage: true });
  if ((await api("GET", "/admin/v1/profiles/" + pid)).status !== 404) fail("the profile was not erased");

  // The bulk retry first says how many failed runs it would retry.
  await page.goto(base + "/console/runs?status=failed");
  await page.click("button[data-report]");
  await page.locator("#bulk-result", { hasText: "Failed runs matching: 1." }).waitFor();

  // 4. A failed run is retried from its page and shows success.
  await fetch(standIn + "/recover", { method: "POST" });
  await page.goto(base + "/console/runs/" + failed.id);
  await Promise.all([page.waitForNavigation(), page.click("#retry")]); // the page reloads once the API accepted
  await waitFor("the retried run to succeed", async () => {
    await page.goto(base + "/console/runs/" + failed.id);
    return (await page.locator("#run-status").textContent()) === "succeeded";
  });
  await page.screenshot({ path: path.join(shots, "run-retried-desktop.png"), fullPage: true });

  // 5. A workflow with a CEL error shows the error inline.
  await page.goto(base + "/console/workflows/new");
  expected400 = true;
  await page.fill("#definition", "id: broken\ntrigger: { types: [purchase], if: \"event.properties.total >\" }\nsteps:\n  - { id: s, stop: true }\n");
  await page.click("#workflow-editor button[type=submit]");
  await page.locator("#editor-result.problem", { hasText: "trigger.if: ERROR" }).waitFor();
  await page.screenshot({ path: path.join(shots, "workflow-error-desktop.png"), fullPage: true });
  expected400 = false;
  // … and a correct one is saved and opens on its page; its dry run answers.
  await page.fill("#definition", "id: fixed\ntrigger: { types: [purchase] }\nsteps:\n  - { id: s, stop: true }\n");
  await page.click("#workflow-editor button[type=submit]");
  await page.waitForURL(/\/console\/workflows\/fixed\?saved=1/);
  await page.click("#dry-run button[type=submit]");
  await page.locator("#dry-run-result", { hasText: "Outcome: would" }).waitFor();
  await page.screenshot({ path: path.join(shots, "workflow-dry-run-desktop.png"), fullPage: true });

  // A backfill from the workflow's page: the count first, then the job's
  // progress to its end (the purchase already ran it: include_ran).
  r = await api("POST", "/track", { source: { id: "web" }, profile: { id: "bob" }, events: [{ type: "purchase", properties: { total: 7 } }] });
  if (r.status !== 200) fail("/track for the backfill: " + r.status);
  await waitFor("the purchase stored", async () => (await api("GET", "/admin/v1/events?type=purchase")).json.events.length === 1);
  await page.goto(base + "/console/workflows/fixed");
  const hourAgo = new Date(Date.now() - 3600e3).toISOString().slice(0, 16);
  await page.fill("#bf-since", hourAgo);
  await page.check("#backfill input[name=include_ran]");
  await page.click("#backfill button[type=submit]");
  await page.locator("#backfill-count").waitFor();
  const counted = await page.locator("#backfill-count").textContent();
  if (counted !== "Events it would run on: 1.") fail("backfill count: " + counted);
  await page.click("#backfill-start");
  await page.locator("#backfill-text[data-status=done]", { hasText: "1 runs created" }).waitFor();
  await page.screenshot({ path: path.join(shots, "workflow-backfill-desktop.png"), fullPage: true });

  // 6. A new source from the per-kind form gets generated credentials.
  await page.goto(base + "/console/sources/new");
  await page.fill("#source-new input[name=id]", "cio-form");
  await page.selectOption("#source-new select[name=kind]", "customerio_track");
  if (!(await page.locator("#source-new [data-kind=customerio_track]").isVisible())) fail("the kind's fields are not shown");
  if (await page.locator("#source-new [data-kind=webhook]").first().isVisible()) fail("another kind's fields are shown");
  await page.click("#source-new button[type=submit]");
  await page.waitForURL(/\/console\/sources\/cio-form$/);
  const made = (await api("GET", "/admin/v1/sources/cio-form")).json;
  if (!/^[0-9a-f]{20}$/.test(made.site_id) || !/^[0-9a-f]{40}$/.test(made.api_key)) fail("credentials not generated: " + JSON.stringify(made));
  await page.screenshot({ path: path.join(shots, "source-created-desktop.png"), fullPage: true });

  // 7. A destination is paused and resumed from its page; the overview
  // names it while it is paused.
  await page.goto(base + "/console/destinations");
  await Promise.all([page.waitForNavigation(), page.click("#dest-app button[data-post$='/pause']")]);
  await page.locator("#dest-app [data-state=paused]").waitFor();
  if ((await api("GET", "/admin/v1/destinations/app")).json.state !== "paused") fail("the API does not show the pause");
  await page.screenshot({ path: path.join(shots, "destination-paused-desktop.png"), fullPage: true });
  await page.goto(base + "/console/");
  await page.locator("#attention + ul li", { hasText: "destination app is paused" }).waitFor();
  await page.goto(base + "/console/destinations");
  await Promise.all([page.waitForNavigation(), page.click("#dest-app button[data-post$='/resume']")]);
  await page.locator("#dest-app [data-state=closed]").waitFor();
  await page.locator("dt code", { hasText: "slack.post" }).waitFor(); // the action reference reads the registry

  // 8. A destination is created from the per-kind form (the registry's
  // settings), then edited with its secret left empty, which keeps it.
  await page.goto(base + "/console/destinations/new");
  await page.fill("#destination-form input[name=id]", "crm");
  await page.selectOption("#destination-form select[name=kind]", "webhook");
  if (!(await page.locator("#destination-form [data-dkind=webhook]").first().isVisible())) fail("the webhook settings are not shown");
  if (await page.locator("#destination-form [data-dkind=kafka]").first().isVisible()) fail("another kind's settings are shown");
  await page.fill("#destination-form input[data-setting=webhook][name=url]", "https://crm.example.com/in");
  await page.fill("#destination-form input[data-setting=webhook][name=signing_secret]", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  await page.fill("#destination-form input[name=rate_limit]", "20");
  await page.click("#destination-form button[type=submit]");
  await page.waitForURL(/\/console\/destinations\/crm$/);
  let dest = (await api("GET", "/admin/v1/destinations/crm")).json;
  if (dest.origin !== "api" || dest.version !== 1 || dest.settings.signing_secret !== "[redacted]" || dest.rate_limit !== 20) fail("created: " + JSON.stringify(dest));
  if ((await page.content()).includes("whsec_MfKQ9r8")) fail("the form shows the secret");
  await page.fill("#destination-form input[data-setting=webhook][name=url]", "https://crm.example.com/v2/in");
  await page.click("#destination-form button[type=submit]");
  await page.locator("text=version 2").first().waitFor();
  dest = (await api("GET", "/admin/v1/destinations/crm")).json;
  if (dest.version !== 2 || dest.settings.url !== "https://crm.example.com/v2/in" || dest.settings.signing_secret !== "[redacted]") fail("edited: " + JSON.stringify(dest));
  await page.screenshot({ path: path.join(shots, "destination-edited-desktop.png"), fullPage: true });
  await page.goto(base + "/console/audit");
  await page.locator("td a", { hasText: "destinations/crm" }).first().waitFor();

  // An alert channel written as in the file's alerts:, then deleted.
  await page.goto(base + "/console/alerts");
  await page.selectOption("#resource-kind", "/admin/v1/alert-channels");
  await page.fill("#resource-def", "id: ops\nkind: webhook\nurl: https://ops.example.com/alerts\nsigning_secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n");
  await Promise.all([page.waitForNavigation(), page.click("#resource-form button[type=submit]")]);
  await page.locator("td strong", { hasText: "ops" }).waitFor();
  if ((await page.content()).includes("whsec_MfKQ9r8")) fail("the alerts page shows the channel's secret");
  // Edited: the definition comes back with its secret masked, which keeps it.
  await page.click("button[data-edit='/admin/v1/alert-channels/ops']");
  const def = await page.inputValue("#resource-def");
  if (!def.includes("[redacted]") || def.includes("whsec_")) fail("the definition to edit: " + def);
  await page.fill("#resource-def", def.replace("https://ops.example.com/alerts", "https://ops.example.com/v2"));
  await Promise.all([page.waitForNavigation(), page.click("#resource-submit")]);
  const ops = (await api("GET", "/admin/v1/alert-channels/ops")).json;
  if (ops.version !== 2 || ops.definition.url !== "https://ops.example.com/v2" || ops.definition.signing_secret !== "[redacted]") fail("edited channel: " + JSON.stringify(ops));
  await Promise.all([page.waitForNavigation(), page.click("button[data-delete='/admin/v1/alert-channels/ops']")]);
  if ((await api("GET", "/admin/v1/alert-channels/ops")).status !== 404) fail("the channel was not deleted");

  // 9. The flagged event shows its violation; the catalog counts the
  // signup, which broke the plan, and infers a schema.
  await page.goto(base + "/console/events/" + flagged.id);
  await page.locator("table.violations td", { hasText: "missing property 'plan'" }).waitFor();
  await waitFor("the catalog to count the signup", async () => {
    await page.goto(base + "/console/catalog?source=web");
    const row = page.locator("#catalog tr", { hasText: "signup" }).first();
    return (await row.count()) > 0 && (await row.textContent()).includes("1 (100.0 %)");
  }, 15000);
  await page.locator("#catalog details summary").first().click();
  await page.locator("#catalog button[data-infer]").first().click();
  await page.locator("#catalog pre", { hasText: "$schema" }).first().waitFor();
  await page.screenshot({ path: path.join(shots, "catalog-inferred-desktop.png"), fullPage: true });

  // 10. A transform tried on the source's captured requests, side by
  // side, stores nothing.
  await page.goto(base + "/console/sources/web");
  await page.fill("#transform-src", "{'type': event.type == 'purchase' ? 'Order Completed' : event.type, 'properties': event.properties.without(['coupon'])}");
  await page.click("#transform-form button[type=submit]");
  await page.locator("#transform-trials td pre", { hasText: "Order Completed" }).first().waitFor();
  const trialText = await page.locator("#transform-result").textContent();
  if (!/nothing was stored/.test(trialText)) fail("the trial says: " + trialText);
  await page.screenshot({ path: path.join(shots, "transform-trial-desktop.png"), fullPage: true });
  if ((await api("GET", "/admin/v1/events?type=Order%20Completed")).json.events.length !== 0) fail("the trial stored events");
  expected400 = true;
  await page.fill("#transform-src", "event.");
  await page.click("#transform-form button[type=submit]");
  await page.locator("#transform-result.problem").waitFor();
  expected400 = false;

  // Keyboard: the first link of the menu is reachable with Tab.
  await page.goto(base + "/console/");
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.textContent);
  if (!focused || !/Switchyard/.test(focused)) fail("Tab did not reach the menu: " + focused);

  if (errors.length) fail("console errors:\n" + errors.join("\n"));
  console.log("ok: " + pages.length + " pages at two widths, live, erase, retry, inline CEL error, new source form, backfill, destination pause and resume, destination form, alert channel, violations, catalog, transform trial");
} finally {
  await browser.close();
}
