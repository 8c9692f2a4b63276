// The console's runner and model pages: the fleet as a list, and one
// runner or model with its figures over time and its admin actions
// (drain and undrain a runner, pause and resume a model).
"use strict";

async function runnersPage() {
  const st = await api("/status");
  main.replaceChildren(h("h1", {}, "Runners"), runnersTable(st.runners || []), h("p", { id: "message", class: "muted" }));
  onEvent = null;
}

// stateOf finds what /status says of a model (paused) whatever shape its
// list has: an array of { name | model, ... } or a map by name.
function modelState(st, name) {
  const models = st.models;
  if (Array.isArray(models)) return models.find((m) => (m.name ?? m.model) === name) || {};
  return (models && typeof models === "object" && models[name]) || {};
}

// toggle is an admin button that flips a state through two routes (a
// route that is not there yet answers with its error in #message).
function toggle({ id, on, labels, paths, questions, after }) {
  const [label, path, question] = on ? [labels[1], paths[1], questions[1]] : [labels[0], paths[0], questions[0]];
  return h("button", { id, class: on ? "" : "danger", onclick: async () => {
    if (!confirm(question)) return;
    try { if (await admin(path)) { await after(); say("Done."); } } catch (e) { say(e.message, true); }
  } }, label);
}

async function runnerPage(name, params) {
  const win = params.get("window") === "24h" ? "24h" : "1h";
  const base = `/v1/runners/${encodeURIComponent(name)}`;
  const [r, st] = await Promise.all([api(`${base}?window=${win}`), api("/status")]);
  const hb = r.heartbeat, live = (st.runners || []).find((x) => x.runner === name) || {};
  const draining = Boolean(live.draining ?? hb?.draining);
  const s = r.series;
  const charts = [];
  if (s) {
    charts.push(chart({ id: "chart-busy", title: "Slots busy", times: s.times, series: [{ name: "busy", values: s.busy }, { name: "slots", values: s.slots }] }));
    const gpus = [...new Set(s.gpus.flatMap((g) => (g || []).map((x) => x.index)))].sort((a, b) => a - b);
    const per = (field, scale = 1) => gpus.map((i) => ({ name: `GPU ${i}`, values: s.gpus.map((g) => { const x = (g || []).find((y) => y.index === i); return x ? x[field] * scale : null; }) }));
    if (gpus.length) {
      charts.push(chart({ id: "chart-gpu-util", title: "GPU utilization", unit: "%", times: s.times, series: per("utilization_percent") }));
      charts.push(chart({ id: "chart-gpu-memory", title: "GPU memory used", unit: "GiB", times: s.times, series: per("memory_used_mib", 1 / 1024) }));
      charts.push(chart({ id: "chart-gpu-temp", title: "GPU temperature", unit: "°C", times: s.times, series: per("temperature_c") }));
      charts.push(chart({ id: "chart-gpu-power", title: "GPU power", unit: "W", times: s.times, series: per("power_watts") }));
    }
  }
  const hist = r.history || {};
  main.replaceChildren(
    h("h1", {}, "Runner ", h("code", {}, name)),
    h("p", {}, "Health: ", h("strong", { id: "runner-health", class: `health-${live.health || hb?.health || "lost"}` }, live.health || hb?.health || "not heard from lately"),
      draining ? h("span", { id: "runner-draining" }, " · draining: takes no new work") : "",
      hb ? ` · ${hb.device} · ${hb.busy}/${hb.slots} slots busy · models ` : "",
      hb ? (hb.models || []).map((m, i) => [i ? ", " : "", h("a", { href: modelLink(m) }, m)]) : "",
      hb ? ` · host ${hb.host} · up since ${when(hb.started)} · last heard ${when(hb.at)}` : ""),
    h("div", { class: "actions" },
      toggle({ id: "drain", on: draining, labels: ["Drain", "Undrain"], paths: [`${base}/drain`, `${base}/undrain`],
        questions: [`Drain ${name}? It finishes what it runs and takes no new work.`, `Let ${name} take new work again?`], after: () => runnerPage(name, params) }),
      h("button", { class: "reload", onclick: () => reloadRunner(name) }, "Reload models")),
    h("p", { id: "message", class: "muted" }),
    hb?.gpus?.length ? h("p", {}, "GPUs now: ", gpuSummary(hb.gpus)) : "",
    windowSwitch(`#/runner/${encodeURIComponent(name)}`, win),
    charts.length ? h("div", { class: "charts" }, charts) : h("p", { class: "muted" }, "No figures over time for this runner yet."),
    h("h2", {}, "Running now"),
    r.running.length
      ? h("table", { id: "runner-running" }, h("tr", {}, ["job", "model", "attempt", "step", "started"].map((c) => h("th", {}, c))),
        r.running.map((j) => h("tr", {}, h("td", {}, h("a", { href: jobLink(j.job_id) }, j.job_id)), h("td", {}, j.model), h("td", {}, j.attempt),
          h("td", {}, `${j.step}/${j.total_steps || "?"}`), h("td", {}, when(j.started_at)))))
      : h("p", { class: "muted" }, "Nothing."),
    h("h2", {}, "Recent jobs"),
    r.recent_jobs.length
      ? h("table", { id: "runner-recent" }, h("tr", {}, ["job", "status", "model", "run", "ended"].map((c) => h("th", {}, c))),
        r.recent_jobs.map((j) => h("tr", {}, h("td", {}, h("a", { href: jobLink(j.job_id) }, j.job_id)), h("td", { class: `status-${j.status}` }, j.status),
          h("td", {}, j.model), h("td", {}, j.seconds ? `${j.seconds.toFixed(1)} s` : "–"), h("td", {}, when(j.ended_at)))))
      : h("p", { class: "muted" }, "None seen since the supervisor started."),
    h("h2", {}, "Stalls, reloads and recoveries"),
    h("p", { id: "runner-history" }, `Stalls within the cooldown: ${(hist.stalls || []).length ? hist.stalls.map(when).join(", ") : "none"}. Last emergency reload: ${when(hist.last_emergency)}. Reload order pending: ${hist.reload_order || "none"}${hb?.last_reload ? `; last carried out: ${hb.last_reload}` : ""}.`),
    r.recoveries.length
      ? h("table", {}, h("tr", {}, ["when", "kind", "job", "reason"].map((c) => h("th", {}, c))),
        r.recoveries.map((x) => h("tr", {}, h("td", {}, when(x.at)), h("td", {}, x.kind), h("td", {}, x.job_id ? h("a", { href: jobLink(x.job_id) }, x.job_id) : "–"), h("td", {}, x.reason || ""))))
      : h("p", { class: "muted" }, "No recent recoveries."),
  );
  onEvent = null;
}

async function modelsPage() {
  const [m, st] = await Promise.all([api("/v1/models"), api("/status")]);
  main.replaceChildren(
    h("h1", {}, "Models"),
    m.models.length
      ? h("table", { id: "models" }, h("tr", {}, ["model", "state", "pipeline", "runners", "configured", "description"].map((c) => h("th", {}, c))),
        m.models.map((x) => h("tr", {}, h("td", {}, h("a", { href: modelLink(x.name) }, x.name), x.default ? " (default)" : ""),
          h("td", {}, modelState(st, x.name).paused ? "paused" : "taking work"), h("td", {}, x.pipeline || "–"),
          h("td", {}, (x.runners || []).map((r, i) => [i ? ", " : "", h("a", { href: runnerLink(r) }, r)])), h("td", {}, x.configured ? "yes" : "no"),
          h("td", {}, x.description || ""))))
      : h("p", { class: "muted" }, "No model configured or announced."),
  );
  onEvent = null;
}

async function modelPage(name, params) {
  const win = params.get("window") === "24h" ? "24h" : "1h";
  const q = encodeURIComponent(name);
  const [m, st, s, recent] = await Promise.all([api("/v1/models"), api("/status"), api(`/v1/stats?window=${win}&model=${q}`).catch((e) => e),
    api(`/v1/jobs?model=${q}&limit=10`)]);
  const info = m.models.find((x) => x.name === name) || { name, runners: [] };
  const paused = Boolean(modelState(st, name).paused);
  const base = `/v1/models/${encodeURIComponent(name)}`;
  const c = s instanceof Error ? {} : s.counts || {};
  main.replaceChildren(
    h("h1", {}, "Model ", h("code", {}, name)),
    h("p", {}, "State: ", h("strong", { id: "model-state" }, paused ? "paused: its queue waits" : "taking work"),
      info.default ? " · the default model" : "", info.configured === false ? " · not in this supervisor's catalog" : "",
      info.pipeline ? ` · ${info.pipeline}` : "", info.description ? ` · ${info.description}` : ""),
    h("div", { class: "actions" },
      toggle({ id: "pause", on: paused, labels: ["Pause", "Resume"], paths: [`${base}/pause`, `${base}/resume`],
        questions: [`Pause ${name}? Its jobs wait in the queue until it is resumed.`, `Resume ${name}?`], after: () => modelPage(name, params) })),
    h("p", { id: "message", class: "muted" }),
    h("div", { class: "cards" }, ["pending", "processing", "completed", "failed", "cancelled"].map((k) =>
      h("div", { class: "card" }, h("div", { class: "n", id: `model-${k}` }, c[k] ?? 0), h("div", { class: "muted" }, k)))),
    h("p", {}, "Runners serving it: ", (info.runners || []).length ? info.runners.map((r, i) => [i ? ", " : "", h("a", { href: runnerLink(r) }, r)]) : "none"),
    windowSwitch(`#/model/${encodeURIComponent(name)}`, win),
    s instanceof Error ? h("p", { class: "muted" }, `No figures over time: ${s.message}`) : h("div", { class: "charts" },
      chart({ id: "chart-model-throughput", title: "Jobs per minute", times: s.times, series: [
        { name: "completed", values: perMinute(s.completed, s.step_seconds) }, { name: "failed", values: perMinute(s.failed, s.step_seconds) }] }),
      chart({ id: "chart-model-depth", title: "Queue depth", unit: "jobs waiting", times: s.times, series: depthSeries(s.queue_depth.by_model) })),
    h("h2", {}, "Newest jobs"),
    recent.jobs.length
      ? h("table", { id: "model-jobs" }, h("tr", {}, ["job", "status", "prompt", "created"].map((x) => h("th", {}, x))),
        recent.jobs.map((j) => h("tr", {}, h("td", {}, h("a", { href: jobLink(j.job_id) }, j.job_id)), h("td", { class: `status-${j.status}` }, j.status),
          h("td", {}, (j.prompt || "").slice(0, 80)), h("td", {}, when(j.created_at)))))
      : h("p", { class: "muted" }, "No jobs."),
    h("p", {}, h("a", { href: `#/jobs?model=${q}` }, "All its jobs →")),
  );
  onEvent = null;
}
