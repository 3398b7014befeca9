// Switchyard console: small, hand-written, no dependencies. Pages are
// rendered on the server; this script localises times and wires the
// buttons that act through the management API.
"use strict";

// api calls the management API with the sign-in cookie; the custom
// header is what lets a cookie-authenticated change through (CSRF).
async function api(method, path, body, type, version) {
  const opts = { method, credentials: "same-origin", headers: { "X-Switchyard-Console": "1" } };
  if (version) opts.headers["If-Match"] = '"' + version + '"';
  if (body !== undefined) {
    opts.headers["Content-Type"] = type || "application/json";
    opts.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  let json = null;
  try { json = await resp.json(); } catch (e) { /* 204 */ }
  return { status: resp.status, ok: resp.ok, json };
}

function errorText(res) {
  return (res.json && res.json.error && res.json.error.message) || ("the server answered " + res.status);
}

function localTimes(root) {
  for (const t of root.querySelectorAll("time[datetime]")) {
    const d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) { t.title = t.textContent; t.textContent = d.toLocaleString(); }
  }
}

function show(el, text, ok) {
  if (!el) return;
  el.hidden = false;
  el.textContent = text;
  el.className = ok ? "notice" : "problem";
}

// Buttons: data-post / data-delete call the API, optionally after a typed
// confirmation (data-confirm-input names an input whose value must equal
// data-confirm-value), then reload or go to data-then.
function wireActions(root) {
  for (const b of root.querySelectorAll("button[data-post], button[data-delete]")) {
    b.addEventListener("click", async () => {
      const out = document.getElementById(b.dataset.out || "action-result");
      if (b.dataset.confirmInput) {
        const v = document.getElementById(b.dataset.confirmInput).value.trim();
        if (v !== b.dataset.confirmValue) { show(out, "Type " + b.dataset.confirmValue + " to confirm.", false); return; }
      }
      b.disabled = true;
      const res = b.dataset.post ? await api("POST", b.dataset.post) : await api("DELETE", b.dataset.delete);
      b.disabled = false;
      if (!res.ok) { show(out, errorText(res), false); return; }
      if (b.dataset.then) { location.href = b.dataset.then; return; }
      if (b.dataset.report && res.json) { show(out, b.dataset.report.replace("{n}", res.json.matched), true); b.dataset.post += "&confirm=true"; b.textContent = b.dataset.confirmLabel || "Confirm"; b.dataset.report = ""; return; }
      location.reload();
    });
  }
  for (const b of root.querySelectorAll("button[data-copy]")) {
    b.addEventListener("click", async () => {
      const text = document.getElementById(b.dataset.copy).dataset.value || document.getElementById(b.dataset.copy).textContent;
      try { await navigator.clipboard.writeText(text); b.textContent = "Copied"; } catch (e) { b.textContent = "Copy failed"; }
      setTimeout(() => { b.textContent = "Copy"; }, 1500);
    });
  }
  for (const b of root.querySelectorAll("button[data-infer]")) {
    b.addEventListener("click", async () => {
      const out = document.getElementById(b.dataset.out);
      const res = await api("GET", b.dataset.infer);
      out.hidden = false;
      out.textContent = res.ok ? JSON.stringify(res.json, null, 2) : errorText(res);
    });
  }
  for (const b of root.querySelectorAll("button[data-reveal]")) {
    b.addEventListener("click", () => {
      const el = document.getElementById(b.dataset.reveal);
      const shown = el.textContent === el.dataset.value;
      el.textContent = shown ? el.dataset.masked : el.dataset.value;
      b.textContent = shown ? "Show" : "Hide";
    });
  }
}

// Live: the tail over Server-Sent Events, newest first, with pause.
function wireLive() {
  const list = document.getElementById("live-list");
  if (!list) return;
  const form = document.getElementById("live-filters");
  const state = document.getElementById("live-state");
  const pause = document.getElementById("live-pause");
  let source = null, paused = false, held = [];
  const max = 500;
  // who names an event's person: the user id or email it carries, else
  // the part of its profile id that differs between profiles (time-ordered
  // ids made close together share their first characters).
  function who(ev) {
    const email = (ev.identifiers || []).find((i) => i.kind === "email");
    if (ev.user_id) return "  user " + ev.user_id;
    if (email) return "  " + email.value;
    return ev.profile_id ? "  profile …" + ev.profile_id.slice(-12) : "";
  }
  function add(ev) {
    // After a reconnect the server resends the last few seconds (the
    // browser sends Last-Event-ID): what is shown already is not again.
    if (list.querySelector('li[data-id="' + CSS.escape(ev.id) + '"]')) return;
    const li = document.createElement("li");
    const det = document.createElement("details");
    const sum = document.createElement("summary");
    const when = new Date(ev.received_at || ev.timestamp);
    sum.textContent = when.toLocaleTimeString() + "  " + ev.source_id + "  " + ev.type +
      who(ev) + (ev.violations ? "  ⚠ " + ev.violations.length + " violation" + (ev.violations.length > 1 ? "s" : "") : "") +
      "  " + JSON.stringify(ev.properties || {}).slice(0, 100);
    det.appendChild(sum);
    det.addEventListener("toggle", async () => {
      if (!det.open || det.dataset.loaded) return;
      det.dataset.loaded = "1";
      const res = await api("GET", "/admin/v1/events/" + encodeURIComponent(ev.id));
      const pre = document.createElement("pre");
      pre.textContent = JSON.stringify(res.ok ? res.json : ev, null, 2);
      const link = document.createElement("a");
      link.href = "/console/events/" + encodeURIComponent(ev.id);
      link.textContent = "Open the event";
      det.append(pre, link);
    });
    li.appendChild(det);
    li.dataset.id = ev.id;
    list.prepend(li);
    while (list.children.length > max) list.lastChild.remove();
    document.getElementById("live-empty").hidden = true;
  }
  async function connect() {
    if (source) source.close();
    const q = new URLSearchParams(new FormData(form));
    for (const [k, v] of [...q]) if (!v) q.delete(k);
    const url = "/admin/v1/tail?" + q.toString();
    state.textContent = "connecting…";
    // Ask once with fetch: a filter that does not compile is a 400 whose
    // reason EventSource would hide. The stream's headers come at once.
    const ctl = new AbortController();
    try {
      const resp = await fetch(url, { credentials: "same-origin", signal: ctl.signal });
      if (!resp.ok) {
        let msg = "the server answered " + resp.status;
        try { msg = (await resp.json()).error.message; } catch (e) { /* keep */ }
        state.textContent = "stopped: " + msg;
        return;
      }
    } catch (e) { /* retried by EventSource below */ }
    ctl.abort();
    source = new EventSource(url);
    source.onopen = () => { state.textContent = paused ? "paused" : "live"; };
    source.onmessage = (m) => {
      const ev = JSON.parse(m.data);
      if (paused) { held.push(ev); state.textContent = "paused (" + held.length + " held)"; } else add(ev);
    };
    source.addEventListener("error", (m) => {
      if (m.data) { state.textContent = "stopped: " + m.data; source.close(); return; }
      state.textContent = "reconnecting…";
    });
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); list.replaceChildren(); connect(); });
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    if (!paused) { held.forEach(add); held = []; state.textContent = "live"; }
    else state.textContent = "paused";
  });
  connect();
}

// Workflow editor: save the YAML as the next version; problems inline.
function wireEditor() {
  const form = document.getElementById("workflow-editor");
  if (!form) return;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = document.getElementById("editor-result");
    const id = form.dataset.id, text = form.elements.definition.value;
    const res = id ? await api("PUT", "/admin/v1/workflows/" + encodeURIComponent(id), text, "application/yaml")
                   : await api("POST", "/admin/v1/workflows", text, "application/yaml");
    if (!res.ok) { show(out, errorText(res).replaceAll("; ", "\n"), false); return; }
    location.href = "/console/workflows/" + encodeURIComponent(res.json.id) + "?saved=" + res.json.version;
  });
  const dry = document.getElementById("dry-run");
  if (dry) dry.addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = document.getElementById("dry-run-result");
    const res = await api("POST", "/admin/v1/workflows/dry-run?event=" + encodeURIComponent(dry.elements.event.value),
      form.elements.definition.value, "application/yaml");
    if (!res.ok) { show(out, errorText(res).replaceAll("; ", "\n"), false); return; }
    renderDryRun(out, res.json);
  });
}

// renderDryRun shows a dry run: the trigger's verdict, the outcome, and
// a row per step with its mapped inputs, the request it would send, and
// its value or problem.
function renderDryRun(out, d) {
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; };
  const json = (label, v) => { const det = el("details"); det.append(el("summary", label), el("pre", JSON.stringify(v, null, 2))); return det; };
  out.hidden = false;
  out.className = "card";
  out.replaceChildren(el("p", "Trigger: " + d.trigger, d.matches ? "ok" : "muted"), el("p", "Outcome: " + d.outcome));
  const table = el("table"), head = el("tr");
  ["Step", "Kind", "What it would do"].forEach((h) => head.append(el("th", h)));
  table.append(el("thead"), el("tbody"));
  table.tHead.append(head);
  for (const s of d.steps) {
    const tr = el("tr"), what = el("td");
    tr.append(el("td", s.id), el("td", s.kind), what);
    if (s.request) what.append(el("code", s.request.method + " " + s.request.url));
    if (s.input) what.append(json("Inputs", s.input));
    if (s.request && s.request.body) what.append(json("Request", s.request));
    if (s.value !== undefined) what.append(el("div", typeof s.value === "string" ? s.value : JSON.stringify(s.value)));
    if (s.error) what.append(el("p", s.error, "problem"));
    table.tBodies[0].append(tr);
  }
  const wrap = el("div", undefined, "scroll");
  wrap.append(table);
  out.append(wrap);
}

// Source form: create or replace a stored source from its JSON.
function wireSourceForm() {
  const form = document.getElementById("source-form");
  if (!form) return;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = document.getElementById("source-result");
    let body;
    try { body = JSON.parse(form.elements.source.value); } catch (err) { show(out, "Not JSON: " + err.message, false); return; }
    const id = form.dataset.id;
    const res = id ? await api("PUT", "/admin/v1/sources/" + encodeURIComponent(id), body) : await api("POST", "/admin/v1/sources", body);
    if (!res.ok) { show(out, errorText(res), false); return; }
    location.href = "/console/sources/" + encodeURIComponent(res.json.id);
  });
}

// New source form: the fields of the chosen kind; credentials the source
// issues are generated by the server.
function wireNewSource() {
  const form = document.getElementById("source-new");
  if (!form) return;
  const kind = form.elements.kind;
  const showKind = () => form.querySelectorAll("[data-kind]").forEach((n) => { n.hidden = n.dataset.kind !== kind.value; });
  kind.addEventListener("change", showKind);
  showKind();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = form.elements, body = { id: f.id.value.trim(), kind: kind.value };
    if (f.name.value.trim()) body.name = f.name.value.trim();
    if (kind.value === "customerio_webhook") body.signing_key = f.signing_key.value.trim();
    if (kind.value === "webhook") {
      body.verify = { scheme: f.scheme.value };
      if (f.secret.value.trim()) body.verify.secret = f.secret.value.trim();
      if (f.header.value.trim()) body.verify.header = f.header.value.trim();
      if (f.event_type.value.trim()) body.event_type = f.event_type.value.trim();
      if (f.dedup_key.value.trim()) body.dedup_key = f.dedup_key.value.trim();
    }
    const res = await api("POST", "/admin/v1/sources", body);
    if (!res.ok) { show(document.getElementById("source-new-result"), errorText(res), false); return; }
    location.href = "/console/sources/" + encodeURIComponent(res.json.id);
  });
}

// Destination form: the settings of the chosen kind (generated from the
// action registry); a secret left empty keeps its stored value.
function wireDestinationForm() {
  const form = document.getElementById("destination-form");
  if (!form) return;
  const kind = form.elements.kind;
  const showKind = () => form.querySelectorAll("[data-dkind]").forEach((n) => { n.hidden = n.dataset.dkind !== kind.value; });
  kind.addEventListener("change", showKind);
  showKind();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = form.elements, body = { id: f.id.value.trim(), kind: kind.value };
    for (const input of form.querySelectorAll("input[data-setting]")) {
      if (input.dataset.setting === kind.value && input.value.trim()) body[input.name] = input.value.trim();
    }
    if (f.rate_limit.value) body.rate_limit = Number(f.rate_limit.value);
    if (f.concurrency.value) body.concurrency = Number(f.concurrency.value);
    if (f.timeout.value.trim()) body.timeout = f.timeout.value.trim();
    if (f.allow_private_network.checked) body.allow_private_network = true;
    const id = form.dataset.id;
    const res = id ? await api("PUT", "/admin/v1/destinations/" + encodeURIComponent(id), body, "application/json", form.dataset.version)
      : await api("POST", "/admin/v1/destinations", body);
    if (!res.ok) { show(document.getElementById("destination-result"), errorText(res), false); return; }
    location.href = "/console/destinations/" + encodeURIComponent(res.json.id);
  });
}

// A new alert channel or rule, written as in the configuration file.
function wireResourceForm() {
  const form = document.getElementById("resource-form");
  if (!form) return;
  let editing = null; // {path, version} of the resource being edited
  for (const b of document.querySelectorAll("button[data-edit]")) {
    b.addEventListener("click", () => {
      editing = { path: b.dataset.edit, version: b.dataset.version };
      form.elements.definition.value = JSON.stringify(JSON.parse(b.dataset.definition), null, 2);
      form.elements.path.disabled = true;
      document.getElementById("resource-what").textContent = "Edit " + b.dataset.edit.split("/").pop();
      document.getElementById("resource-submit").textContent = "Save as the next version";
      form.scrollIntoView();
    });
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = form.elements.definition.value;
    const res = editing ? await api("PUT", editing.path, body, "application/yaml", editing.version)
      : await api("POST", form.elements.path.value, body, "application/yaml");
    if (!res.ok) { show(document.getElementById("resource-result"), errorText(res), false); return; }
    location.reload();
  });
}

// Backfill on a workflow's page: count first (a dry run), then start the
// job and follow its progress.
function wireBackfill() {
  const form = document.getElementById("backfill");
  if (!form) return;
  const result = document.getElementById("backfill-result"), count = document.getElementById("backfill-count");
  const start = document.getElementById("backfill-start"), status = document.getElementById("backfill-status");
  const bar = document.getElementById("backfill-progress"), text = document.getElementById("backfill-text");
  const path = "/admin/v1/workflows/" + encodeURIComponent(form.dataset.workflow) + "/backfills";
  const body = (dry) => ({ since: form.elements.since.value, until: form.elements.until.value, filter: form.elements.filter.value,
    include_ran: form.elements.include_ran.checked, dry_run: dry });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const res = await api("POST", path, body(true));
    result.hidden = false;
    if (!res.ok) { show(count, errorText(res), false); start.hidden = true; return; }
    show(count, "Events it would run on: " + res.json.selected + ".", true);
    start.hidden = res.json.selected === 0;
  });
  start.addEventListener("click", async () => {
    start.disabled = true;
    let res = await api("POST", path, body(false));
    if (!res.ok) { show(count, errorText(res), false); start.disabled = false; return; }
    status.hidden = false;
    const id = res.json.id;
    for (;;) {
      const j = res.json;
      bar.max = Math.max(j.selected, 1);
      bar.value = Math.min(j.processed, j.selected);
      text.textContent = j.status + ": " + j.processed + "/" + j.selected + " events, " + j.runs_created + " runs created, " +
        j.skipped + " skipped" + (j.status === "running" && j.eta ? ", about " + j.eta + " s to go" : "");
      text.dataset.status = j.status;
      if (j.status !== "running") return;
      await new Promise((r) => setTimeout(r, 1000));
      res = await api("GET", "/admin/v1/backfills/" + encodeURIComponent(id));
      if (!res.ok) { text.textContent = errorText(res); return; }
    }
  });
}

// Transform trial: the source's latest captured requests decoded again,
// each event before and after the transform (and the plans), side by side.
function wireTransform() {
  const form = document.getElementById("transform-form");
  if (!form) return;
  const table = document.getElementById("transform-trials");
  const out = document.getElementById("transform-result");
  function cell(row, text, cls) {
    const td = row.insertCell();
    if (cls) td.className = cls;
    const pre = document.createElement("pre");
    pre.textContent = text;
    td.appendChild(pre);
    return td;
  }
  function shape(s) { return s ? s.type + "\n" + JSON.stringify(s.properties, null, 2) : "(dropped)"; }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { transform: form.elements.transform.value, limit: Number(form.elements.limit.value) || 10 };
    const res = await api("POST", form.dataset.path, body);
    if (!res.ok) { show(out, errorText(res), false); table.hidden = true; return; }
    const tbody = table.tBodies[0];
    tbody.replaceChildren();
    let events = 0;
    for (const trial of res.json.trials) {
      if (trial.error) {
        const row = tbody.insertRow();
        cell(row, trial.request_id.slice(-12));
        const td = cell(row, trial.error, "problem");
        td.colSpan = 3;
        continue;
      }
      for (const e of trial.events) {
        events++;
        const row = tbody.insertRow();
        row.dataset.outcome = e.outcome;
        cell(row, trial.request_id.slice(-12) + "\n" + (trial.received_at || ""));
        cell(row, shape(e.before));
        cell(row, shape(e.after));
        cell(row, e.outcome + (e.violations || []).map((v) => "\n" + (v.plan || "transform") + " " + (v.path || "/") + ": " + v.message).join(""),
          e.outcome === "stored" ? "" : "problem");
      }
    }
    table.hidden = false;
    show(out, res.json.trials.length + " captured requests, " + events + " events tried; nothing was stored.", true);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  localTimes(document);
  wireActions(document);
  wireLive();
  wireEditor();
  wireBackfill();
  wireSourceForm();
  wireNewSource();
  wireDestinationForm();
  wireResourceForm();
  wireTransform();
});
