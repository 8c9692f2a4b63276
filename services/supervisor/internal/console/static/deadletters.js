// The console's dead-letters page: jobs that failed for good, newest
// first, each re-queued or deleted by an operator.
"use strict";

async function deadLetters(params) {
  const cursor = params.get("cursor") || "";
  const query = new URLSearchParams({ limit: "50" });
  if (cursor) query.set("cursor", cursor);
  const page = await api(`/v1/dead-letters?${query}`);
  const letterPath = (id, action) => `/v1/dead-letters/${encodeURIComponent(id)}${action ? "/" + action : ""}`;
  const act = async (question, path, method) => {
    if (!confirm(question)) return;
    try {
      const r = await admin(path, method);
      if (!r) return;
      await deadLetters(params);
      say(r.warning || (method === "DELETE" ? `Deleted ${r.deleted} dead letter(s).` : `Re-queued; ${r.deleted} dead letter(s) removed.`), Boolean(r.warning));
    } catch (e) { say(e.message, true); }
  };
  main.replaceChildren(
    h("h1", {}, "Dead letters"),
    h("p", { class: "muted" }, `${page.total} in the dead-letter stream (kept 30 days). Re-queue runs a failed job again with a fresh attempt count and removes its letter; delete removes the letter and leaves the job's record.`),
    h("p", { id: "message", class: "muted" }),
    page.dead_letters.length
      ? h("table", { id: "dead-letters" }, h("tr", {}, ["job", "model", "reason", "deliveries", "dead-lettered", "job now", "prompt", ""].map((c) => h("th", {}, c))),
        page.dead_letters.map((d) => h("tr", {},
          h("td", {}, h("a", { href: jobLink(d.job_id) }, d.job_id)), h("td", {}, d.model ? h("a", { href: modelLink(d.model) }, d.model) : "–"),
          h("td", {}, d.malformed ? `malformed: ${d.malformed}` : d.reason), h("td", {}, d.deliveries), h("td", {}, when(d.at)),
          h("td", { class: `status-${d.status}` }, d.status || "record gone"), h("td", {}, (d.prompt || "").slice(0, 60)),
          h("td", { class: "row-actions" },
            d.status === "failed" ? h("button", { class: "requeue", "data-job": d.job_id, onclick: () => act(`Re-queue ${d.job_id}?`, letterPath(d.job_id, "requeue"), "POST") }, "Re-queue") : null,
            h("button", { class: "delete danger", "data-job": d.job_id, onclick: () => act(`Delete the dead letter of ${d.job_id}?`, letterPath(d.job_id), "DELETE") }, "Delete")))))
      : h("p", { class: "muted", id: "no-dead-letters" }, "No dead letters."),
    page.next_cursor ? h("p", {}, h("a", { href: `#/dead-letters?cursor=${encodeURIComponent(page.next_cursor)}`, id: "next-page" }, "Older →")) : "",
  );
  onEvent = null;
}
