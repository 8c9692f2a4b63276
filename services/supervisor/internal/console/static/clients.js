// The console's clients page: each client's use (jobs queued and running,
// requests accepted in the last minute) beside its quota, as GET
// /v1/clients reports them. Ingest enforces the quotas; this page shows
// how close each client is.
"use strict";

// ofLimit is "n / limit", or n alone when the limit is none (0).
function ofLimit(n, limit) { return limit ? `${n} / ${limit}` : `${n}`; }

// atLimit marks a figure that reached its limit: the next request is
// refused until it drops.
function atLimit(n, limit) { return limit && n >= limit ? "status-failed" : ""; }

function clientJobsLink(name) { return `#/jobs?client=${encodeURIComponent(name)}`; }

async function clientsPage() {
  const body = await api("/v1/clients");
  const d = body.default_limits || {};
  const limitText = (l) => `${l.max_queued || "no limit on"} queued, ${l.per_minute || "no limit on"} a minute`;
  main.replaceChildren(
    h("h1", {}, "Clients"),
    h("p", { class: "muted", id: "default-limits" }, `Every client not named in CYBERIMAGE_QUOTAS: ${limitText(d)}. Over a limit a request is refused (quota_exceeded or rate_limited, with a retry hint); nothing accepted is dropped.`),
    (body.clients || []).length
      ? h("table", { id: "clients" },
        h("tr", {}, ["client", "queued / max", "running", "accepted last minute / per minute", ""].map((c) => h("th", {}, c))),
        body.clients.map((c) => h("tr", {},
          h("td", {}, c.client),
          h("td", { class: atLimit(c.queued, c.limits.max_queued) }, ofLimit(c.queued, c.limits.max_queued)),
          h("td", {}, c.running),
          h("td", { class: atLimit(c.accepted_last_minute, c.limits.per_minute) }, ofLimit(c.accepted_last_minute, c.limits.per_minute)),
          h("td", {}, h("a", { href: clientJobsLink(c.client) }, "jobs")))))
      : h("p", { class: "muted", id: "no-clients" }, "No client has jobs in flight or sent any in the last minute."),
  );
  onEvent = () => clientsPage().catch(() => {});
}
