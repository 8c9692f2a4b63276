// CyberImage console: a small single-page app over the supervisor's API.
// Pages are hash routes; live views follow GET /v1/events.
"use strict";

const main = document.getElementById("main");
const live = document.getElementById("live");
const ended = new Set(["completed", "failed", "cancelled", "rejected"]);

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) el.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Tokens are asked for once per browser session: the viewer token when the
// supervisor requires one to read (CYBERIMAGE_READ_TOKEN), the admin token
// for actions. The admin token also reads.
const READ_KEY = "cyberimage-read-token", ADMIN_KEY = "cyberimage-admin-token";

function readToken() { return sessionStorage.getItem(READ_KEY) || sessionStorage.getItem(ADMIN_KEY); }

function readHeaders(token) {
  return token ? { Accept: "application/json", Authorization: `Bearer ${token}` } : { Accept: "application/json" };
}

// EventSource cannot send a header, so the event stream's token travels in
// a cookie that only /v1/events reads, never sent by another site's page,
// and gone with the browser session.
function setStreamCookie(token) {
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `cyberimage_token=${encodeURIComponent(token)}; Path=/v1/events; SameSite=Strict${secure}`;
}

// askReadToken asks for the viewer token once for every request a 401
// reached at the same time; rejected is the token the server turned down.
let asking = null;
function askReadToken(rejected) {
  if (!asking) {
    asking = new Promise((resolve) => {
      if (rejected && sessionStorage.getItem(READ_KEY) === rejected) sessionStorage.removeItem(READ_KEY);
      const token = prompt("Viewer token: this supervisor requires one to read (CYBERIMAGE_READ_TOKEN; the admin token also reads)");
      if (token) {
        sessionStorage.setItem(READ_KEY, token);
        setStreamCookie(token);
        connectEvents();
      }
      resolve(Boolean(token));
    }).finally(() => { asking = null; });
  }
  return asking;
}

// get reads a path with the read token when there is one; on 401 it asks
// for the token and tries once more.
async function get(path) {
  const used = readToken();
  let res = await fetch(path, { headers: readHeaders(used) });
  if (res.status === 401 && (readToken() !== used || await askReadToken(used))) {
    res = await fetch(path, { headers: readHeaders(readToken()) });
  }
  return res;
}

async function api(path) {
  const res = await get(path);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error?.message || `${path}: HTTP ${res.status}`);
  return body;
}

// Paths and links built from ids: an id is data, and may hold "/", "?" or
// "#".
function jobPath(id, action) { return `/v1/jobs/${encodeURIComponent(id)}${action ? "/" + action : ""}`; }
function jobLink(id) { return `#/job/${encodeURIComponent(id)}`; }
function runnerLink(name) { return `#/runner/${encodeURIComponent(name)}`; }
function modelLink(name) { return `#/model/${encodeURIComponent(name)}`; }

// admin sends a mutating request (POST unless told) with the admin
// token, asked for once per browser session.
async function admin(path, method = "POST") {
  let token = sessionStorage.getItem(ADMIN_KEY);
  if (!token) {
    token = prompt("Admin token (make run keeps it in .data/creds/admin-token)");
    if (!token) return null;
    sessionStorage.setItem(ADMIN_KEY, token);
  }
  const res = await fetch(path, { method, headers: { Authorization: `Bearer ${token}` } });
  const body = await res.json().catch(() => ({}));
  if (res.status === 401) sessionStorage.removeItem(ADMIN_KEY);
  if (!res.ok) throw new Error(body.error?.message || `HTTP ${res.status}`);
  return body;
}

function say(text, bad) {
  const el = document.getElementById("message");
  if (el) { el.textContent = text; el.className = bad ? "status-failed" : "muted"; }
}

function when(t) { return t ? new Date(t).toLocaleString() : "–"; }

// One stream for the whole app: it tells the open page that something
// moved, and the page refreshes (at most once a second). A refused stream
// (401 before the token is known, 429 when the server is full) is not
// retried by the browser: it is opened again after a while.
let onEvent = null;
let events = null, retryEvents = null;
function connectEvents() {
  if (events) events.close();
  clearTimeout(retryEvents);
  const es = new EventSource("/v1/events");
  events = es;
  es.onopen = () => { live.textContent = "live"; };
  es.onerror = () => {
    live.textContent = "reconnecting…";
    if (es.readyState === EventSource.CLOSED && events === es) retryEvents = setTimeout(connectEvents, 5000);
  };
  let pending = null;
  es.addEventListener("progress", (e) => {
    live.textContent = "live";
    if (!onEvent) return;
    const ev = JSON.parse(e.data);
    if (pending) return;
    pending = setTimeout(() => { pending = null; if (onEvent) onEvent(ev); }, 1000);
  });
}

async function overview(params) {
  const win = params?.get("window") === "24h" ? "24h" : "1h";
  const [q, st, figures] = await Promise.all([api("/api/queue?detailed=true"), api("/status"), api(`/v1/stats?window=${win}`).catch((e) => e)]);
  const counts = ["pending", "processing", "completed", "failed", "rejected", "cancelled", "total"];
  const r24 = q.recent_24h || {}, hour = q.last_hour || {};
  main.replaceChildren(
    h("h1", {}, "Overview"),
    h("div", { class: "cards" },
      counts.map((k) => h("div", { class: "card" }, h("div", { class: "n", id: `count-${k}` }, q[k] ?? 0), h("div", { class: "muted" }, k))),
      h("div", { class: "card" }, h("div", { class: "n", id: "queue-depth" }, st.queue?.pending ?? 0), h("div", { class: "muted" }, "in the work queue")),
      h("div", { class: "card" }, h("div", { class: "n", id: "dead-letters" }, st.queue?.dead ?? 0), h("div", { class: "muted" }, "dead letters")),
      h("div", { class: "card" }, h("div", { class: "n", id: "throughput" }, `${((hour.completed ?? 0) / 60).toFixed(2)}/min`), h("div", { class: "muted" }, "completed, last hour")),
      h("div", { class: "card" }, h("div", { class: "n" }, `${(hour.failure_rate ?? 0).toFixed(1)}%`), h("div", { class: "muted" }, "failure rate, last hour")),
    ),
    h("p", { class: "muted" }, `Last hour: ${hour.completed ?? 0} completed, ${hour.failed ?? 0} failed, ${hour.cancelled ?? 0} cancelled. Last 24 h: ${r24.completed ?? 0} completed, ${r24.failed ?? 0} failed; overall failure rate ${(q.failure_rate ?? 0).toFixed(1)}%, average processing ${(q.avg_processing_time_seconds ?? 0).toFixed(2)} s.`),
    h("h2", {}, "Over time"),
    windowSwitch("#/", win),
    overviewCharts(figures),
    h("h2", {}, "Runners"),
    runnersTable(st.runners || []),
    h("h2", {}, "Jobs in progress"),
    progressTable(st.jobs_in_progress || []),
    h("h2", {}, "Recent recoveries"),
    (st.recoveries || []).length
      ? h("table", {}, h("tr", {}, h("th", {}, "kind"), h("th", {}, "job"), h("th", {}, "runner"), h("th", {}, "reason")),
        st.recoveries.slice(0, 20).map((r) => h("tr", {}, h("td", {}, r.kind), h("td", {}, h("a", { href: jobLink(r.job_id) }, r.job_id)), h("td", {}, r.runner || "–"), h("td", {}, r.reason || ""))))
      : h("p", { class: "muted" }, "None."),
    h("h2", {}, "Actions"),
    h("div", { class: "actions" },
      h("button", { id: "retry-all", onclick: retryAll }, "Retry all failed jobs"),
      h("button", { id: "purge", class: "danger", onclick: purgeEnded }, "Purge ended jobs older than 24 h"),
    ),
    h("p", { id: "message", class: "muted" }),
  );
  onEvent = () => overview(params).catch(() => {});
}

// windowSwitch links the same page over the last hour or day.
function windowSwitch(base, win) {
  const link = (w, label) => h("a", { href: `${base}?window=${w}`, class: w === win ? "current" : "", id: `window-${w}` }, label);
  return h("p", { class: "switch" }, link("1h", "Last hour"), " · ", link("24h", "Last 24 h"));
}

// overviewCharts draws throughput, latencies and queue depth from GET
// /v1/stats (or says why it cannot).
function overviewCharts(s) {
  if (s instanceof Error) return h("p", { class: "muted" }, `No figures over time: ${s.message}`);
  const figures = [
    chart({ id: "chart-throughput", title: "Jobs per minute", times: s.times, series: [
      { name: "completed", values: perMinute(s.completed, s.step_seconds) },
      { name: "failed", values: perMinute(s.failed, s.step_seconds) },
      { name: "cancelled", values: perMinute(s.cancelled, s.step_seconds) }] }),
    chart({ id: "chart-latency", title: "End-to-end and queue-wait latency", unit: "s", times: s.times, series: [
      { name: "end to end p50", values: seconds(s.end_to_end_ms.p50) },
      { name: "end to end p95", values: seconds(s.end_to_end_ms.p95) },
      { name: "end to end p99", values: seconds(s.end_to_end_ms.p99) },
      { name: "queue wait p50", values: seconds(s.queue_wait_ms.p50) },
      { name: "queue wait p95", values: seconds(s.queue_wait_ms.p95) }] }),
    chart({ id: "chart-depth-model", title: "Queue depth by model", unit: "jobs waiting", times: s.times, series: depthSeries(s.queue_depth.by_model) }),
  ];
  if (Object.keys(s.queue_depth.by_priority || {}).length) {
    figures.push(chart({ id: "chart-depth-priority", title: "Queue depth by priority", unit: "jobs waiting", times: s.times, series: depthSeries(s.queue_depth.by_priority) }));
  }
  const t = s.totals, pct = (v) => (v === null ? "–" : `${(v / 1000).toFixed(2)} s`);
  return h("div", {},
    h("div", { class: "charts" }, figures),
    h("p", { class: "muted", id: "window-totals" }, `In this window: ${t.completed} completed, ${t.failed} failed, ${t.cancelled} cancelled; end to end p50 ${pct(t.end_to_end_ms.p50)}, p95 ${pct(t.end_to_end_ms.p95)}, p99 ${pct(t.end_to_end_ms.p99)}; queue wait p50 ${pct(t.queue_wait_ms.p50)}, p95 ${pct(t.queue_wait_ms.p95)}. Kept since ${when(s.since)} (figures start afresh when the supervisor restarts).`));
}

function runnersTable(runners) {
  if (!runners.length) return h("p", { class: "muted" }, "No runner has reported.");
  return h("table", { id: "runners" },
    h("tr", {}, ["runner", "health", "device", "busy", "models", "GPUs", "last heard", ""].map((c) => h("th", {}, c))),
    runners.map((r) => h("tr", {},
      h("td", {}, h("a", { href: runnerLink(r.runner) }, r.runner)), h("td", { class: `health-${r.health}` }, r.health, r.draining ? " · draining" : ""), h("td", {}, r.device),
      h("td", {}, `${r.busy}/${r.slots}`), h("td", {}, (r.models || []).map((m, i) => [i ? ", " : "", h("a", { href: modelLink(m) }, m)])),
      h("td", {}, gpuSummary(r.gpus)),
      h("td", {}, when(r.at)),
      h("td", {}, h("button", { class: "reload", "data-runner": r.runner, onclick: () => reloadRunner(r.runner) }, "Reload models")))));
}

function gpuSummary(gpus) {
  return (gpus || []).map((g) => `${g.name || "GPU " + g.index}: ${g.utilization_percent ?? "?"}% · ${Math.round((g.memory_used_bytes || 0) / 2 ** 20)}/${Math.round((g.memory_total_bytes || 0) / 2 ** 20)} MiB · ${g.temperature_c ?? "?"} °C · ${Math.round(g.power_watts || 0)} W`).join("; ") || "–";
}

async function reloadRunner(runner) {
  if (!confirm(`Order ${runner} to drop and reload its models? It takes no new work until they are back.`)) return;
  try { const r = await admin(`/v1/runners/${encodeURIComponent(runner)}/reload`); if (r) say(`Reload ordered (${r.order}).`); } catch (e) { say(e.message, true); }
}

function progressTable(jobs) {
  if (!jobs.length) return h("p", { class: "muted" }, "Nothing running.");
  return h("table", {},
    h("tr", {}, ["job", "model", "runner", "step", "running for"].map((c) => h("th", {}, c))),
    jobs.map((j) => h("tr", {}, h("td", {}, h("a", { href: jobLink(j.job_id) }, j.job_id)), h("td", {}, j.model), h("td", {}, j.runner),
      h("td", {}, `${j.step || 0}/${j.total_steps || "?"}`), h("td", {}, `${(j.elapsed_seconds || 0).toFixed(1)} s`))));
}

async function retryAll() {
  if (!confirm("Re-queue every failed job?")) return;
  try { const r = await admin("/v1/jobs/retry-failed"); if (r) say(`Re-queued ${r.requeued} job(s).`); } catch (e) { say(e.message, true); }
}

async function purgeEnded() {
  if (!confirm("Remove the records of jobs that ended more than 24 hours ago? Images stay in S3.")) return;
  try { const r = await admin("/v1/jobs/purge?older_than=24h"); if (r) say(`Purged ${r.purged} record(s).`); } catch (e) { say(e.message, true); }
}

async function jobs(params) {
  const status = params.get("status") || "", model = params.get("model") || "", text = params.get("q") || "", cursor = params.get("cursor") || "";
  const client = params.get("client") || "";
  const query = new URLSearchParams({ limit: "50" });
  if (status) query.set("status", status);
  if (model) query.set("model", model);
  if (client) query.set("client", client);
  if (text) query.set("q", text);
  if (cursor) query.set("cursor", cursor);
  const page = await api(`/v1/jobs?${query}`);
  const filter = (e) => {
    e.preventDefault();
    const f = new FormData(e.target), p = new URLSearchParams();
    for (const k of ["status", "model", "client", "q"]) if (f.get(k)) p.set(k, f.get(k));
    location.hash = `#/jobs?${p}`;
  };
  const next = new URLSearchParams(query);
  next.delete("limit");
  if (page.next_cursor) next.set("cursor", page.next_cursor);
  main.replaceChildren(
    h("h1", {}, "Jobs"),
    h("form", { class: "filters", onsubmit: filter },
      h("label", {}, "Status", h("select", { name: "status" }, ["", "queued", "processing", "completed", "failed", "rejected", "cancelled"].map((s) => {
        const o = h("option", { value: s }, s || "any"); if (s === status) o.selected = true; return o;
      }))),
      h("label", {}, "Model", h("input", { name: "model", value: model, placeholder: "any" })),
      h("label", {}, "Client", h("input", { name: "client", id: "client-filter", value: client, placeholder: "any" })),
      h("label", {}, "Prompt contains", h("input", { name: "q", id: "search", value: text, placeholder: "text", type: "search" })),
      h("button", { type: "submit" }, "Filter")),
    page.jobs.length
      ? h("table", { id: "jobs" }, h("tr", {}, ["job", "status", "priority", "model", "client", "prompt", "runner", "attempts", "created"].map((c) => h("th", {}, c))),
        page.jobs.map((j) => h("tr", {}, h("td", {}, h("a", { href: jobLink(j.job_id) }, j.job_id)), h("td", { class: `status-${j.status}` }, j.status),
          h("td", {}, priorityBadge(j.priority)),
          h("td", {}, h("a", { href: modelLink(j.model) }, j.model)), h("td", {}, j.client || "default"), h("td", {}, (j.prompt || "").slice(0, 80)), h("td", {}, j.runner ? h("a", { href: runnerLink(j.runner) }, j.runner) : "–"), h("td", {}, j.attempts), h("td", {}, when(j.created_at)))))
      : h("p", { class: "muted" }, "No jobs."),
    page.next_cursor ? h("p", {}, h("a", { href: `#/jobs?${next}`, id: "next-page" }, "Next page →")) : "",
  );
  onEvent = null;
}

let jobStream = null;
// jobRecord reads a job; the seed is taken from the raw text, since a
// 64-bit seed does not survive JSON.parse's doubles and must be shown exact
// to reproduce the image.
async function jobRecord(id) {
  const res = await get(jobPath(id));
  const text = await res.text();
  let rec = {};
  try { rec = JSON.parse(text); } catch { /* shown as an error below */ }
  if (!res.ok) throw new Error(rec.error?.message || `job ${id}: HTTP ${res.status}`);
  const seed = /"seed":\s*(-?\d+)/.exec(text);
  if (seed && rec.request) rec.request.seed = seed[1];
  return rec;
}

// callbackText is a job's webhook delivery in a line: its URL, state and
// each attempt's outcome (the newest kept).
function callbackText(cb) {
  const tries = (cb.attempts || []).map((a) => `${when(a.at)} ${a.outcome}${a.http_status ? " " + a.http_status : ""}${a.error ? " (" + a.error + ")" : ""}`);
  const more = (cb.attempt_count || 0) > tries.length ? ` (${cb.attempt_count} attempts in all)` : "";
  return `${cb.url} — ${cb.state || "when the job ends"}${cb.reason ? ": " + cb.reason : ""}${tries.length ? "; " + tries.join("; ") : ""}${more}`;
}

// priorityBadge is a job's class; jobs from before priorities are normal.
function priorityBadge(p) { const c = p || "normal"; return h("span", { class: `priority priority-${c}` }, c); }

// scheduleText is a job's deadline in words, and whether it passed unstarted
// (the leader then cancels it with deadline_exceeded).
function scheduleText(rec, req) {
  if (!req.deadline) return "none";
  return `start by ${when(req.deadline)}${rec.error?.code === "deadline_exceeded" ? " — expired unstarted (deadline_exceeded)" : ""}`;
}

async function jobPage(id) {
  const rec = await jobRecord(id);
  const req = rec.request || {};
  const step = rec.progress?.step || (rec.status === "completed" ? req.steps : 0);
  const total = rec.progress?.total_steps || req.steps || 1;
  const bar = h("div", {});
  bar.style.width = `${Math.round((100 * step) / total)}%`;
  const stages = rec.stages || {};
  main.replaceChildren(
    h("h1", {}, "Job ", h("code", {}, rec.job_id)),
    h("p", {}, "Status: ", h("strong", { id: "job-status", class: `status-${rec.status}` }, rec.status), rec.archived ? " (archived in S3)" : ""),
    h("div", { class: "bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": total, "aria-valuenow": step }, bar),
    h("p", { id: "step", class: "muted" }, `step ${step}/${total}`),
    h("div", { class: "actions" },
      rec.status === "failed" ? h("button", { id: "retry", onclick: () => act(jobPath(rec.job_id, "retry"), "Re-queue this job?", id) }, "Retry") : null,
      !ended.has(rec.status) ? h("button", { id: "cancel", class: "danger", onclick: () => act(jobPath(rec.job_id, "cancel"), "Cancel this job?", id) }, "Cancel") : null),
    h("p", { id: "message", class: "muted" }),
    h("dl", {},
      h("dt", {}, "prompt"), h("dd", {}, req.prompt || ""),
      h("dt", {}, "negative prompt"), h("dd", {}, req.negative_prompt || "–"),
      h("dt", {}, "model"), h("dd", {}, req.model), h("dt", {}, "size"), h("dd", {}, `${req.width}×${req.height}, ${req.num_images} image(s)`),
      h("dt", {}, "steps, guidance, seed"), h("dd", {}, `${req.steps}, ${req.guidance}, ${req.seed}`),
      h("dt", {}, "attempts"), h("dd", {}, `${rec.attempts}${rec.runner ? " on " + rec.runner : ""}`),
      h("dt", {}, "priority"), h("dd", { id: "job-priority" }, priorityBadge(req.priority)),
      h("dt", {}, "client"), h("dd", { id: "job-client" }, h("a", { href: clientJobsLink(rec.client || "default") }, rec.client || "default")),
      h("dt", {}, "deadline"), h("dd", { id: "job-deadline" }, scheduleText(rec, req)),
      h("dt", {}, "created / started / completed"), h("dd", {}, `${when(rec.created_at)} / ${when(rec.started_at)} / ${when(rec.completed_at)}`),
      h("dt", {}, "stages (ms)"), h("dd", {}, `queue wait ${stages.queue_wait_ms ?? "–"}, inference ${stages.inference_ms ?? "–"}, encode ${stages.encode_ms ?? "–"}, upload ${stages.upload_ms ?? "–"}`),
      rec.error ? [h("dt", {}, "error"), h("dd", { class: "status-failed" }, `${rec.error.code}: ${rec.error.message}`)] : null,
      (rec.recoveries || []).length ? [h("dt", {}, "recoveries"), h("dd", {}, rec.recoveries.map((r) => `${r.kind || ""} ${r.reason || ""}`).join("; "))] : null,
      rec.callback ? [h("dt", {}, "webhook"), h("dd", { id: "callback" }, callbackText(rec.callback))] : null),
    h("h2", {}, "Images"),
    (rec.image_urls || []).length
      ? h("div", { class: "images" }, rec.image_urls.map((im) => h("a", { href: im.url }, h("img", { src: im.thumb_url || im.url, alt: `image ${im.key}` }))))
      : h("p", { class: "muted" }, ended.has(rec.status) ? "None." : "Not yet."),
  );
  onEvent = null;
  if (jobStream) jobStream.close();
  jobStream = null;
  if (ended.has(rec.status)) return;
  jobStream = new EventSource(`/v1/events?job_id=${encodeURIComponent(rec.job_id)}`);
  jobStream.addEventListener("progress", (e) => {
    const ev = JSON.parse(e.data);
    const n = ev.total_steps || total;
    bar.style.width = `${Math.round((100 * ev.step) / n)}%`;
    document.getElementById("step").textContent = `step ${ev.step}/${n}`;
    const s = document.getElementById("job-status");
    s.textContent = ev.status; s.className = `status-${ev.status}`;
    if (ended.has(ev.status)) { jobStream.close(); jobStream = null; setTimeout(() => jobPage(id).catch(showError), 300); }
  });
}

async function act(path, question, id) {
  if (!confirm(question)) return;
  try { if (await admin(path)) { say("Done."); await jobPage(id); say("Done."); } } catch (e) { say(e.message, true); }
}

async function gallery() {
  const page = await api("/v1/jobs?status=completed&limit=24");
  const records = await Promise.all(page.jobs.map((j) => api(jobPath(j.job_id)).catch(() => null)));
  const figures = [];
  for (const rec of records.filter(Boolean)) {
    for (const im of rec.image_urls || []) {
      figures.push(h("figure", {}, h("a", { href: jobLink(rec.job_id) }, h("img", { src: im.thumb_url || im.url, alt: rec.request?.prompt || rec.job_id, loading: "lazy" })),
        h("figcaption", { title: rec.request?.prompt }, rec.request?.prompt || rec.job_id)));
    }
  }
  main.replaceChildren(h("h1", {}, "Gallery"), figures.length ? h("div", { class: "grid", id: "gallery" }, figures) : h("p", { class: "muted" }, "No images yet."));
  onEvent = (ev) => { if (ev.status === "completed") gallery().catch(() => {}); };
}

function showError(e) { main.replaceChildren(h("h1", {}, "Error"), h("p", { class: "status-failed" }, e.message)); }

function route() {
  const [path, query] = (location.hash.slice(1) || "/").split("?");
  const params = new URLSearchParams(query || "");
  if (jobStream && !path.startsWith("/job/")) { jobStream.close(); jobStream = null; }
  let page;
  if (path === "/" || path === "") page = overview(params);
  else if (path === "/jobs") page = jobs(params);
  else if (path.startsWith("/job/")) page = Promise.resolve().then(() => jobPage(decodeURIComponent(path.slice(5))));
  else if (path === "/gallery") page = gallery();
  else if (path === "/dead-letters") page = deadLetters(params);
  else if (path === "/clients") page = clientsPage();
  else if (path === "/runners") page = runnersPage();
  else if (path.startsWith("/runner/")) page = Promise.resolve().then(() => runnerPage(decodeURIComponent(path.slice(8)), params));
  else if (path === "/models") page = modelsPage();
  else if (path.startsWith("/model/")) page = Promise.resolve().then(() => modelPage(decodeURIComponent(path.slice(7)), params));
  else page = Promise.reject(new Error(`no page ${path}`));
  page.then(() => main.focus({ preventScroll: true })).catch(showError);
}

window.addEventListener("hashchange", route);
if (sessionStorage.getItem(READ_KEY)) setStreamCookie(sessionStorage.getItem(READ_KEY));
connectEvents();
route();
