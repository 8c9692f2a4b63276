// Submit one request to the CyberImage pipeline over NATS with the official
// Node.js client, follow its progress events, wait until the job ends, and
// download its images through the supervisor's presigned URLs.
//
//   npm install --ignore-scripts   (once, in this folder)
//   CYBERIMAGE_NATS_CREDS=../../.data/creds/client.creds node submit.mjs "a koi pond at dusk"
//
// Settings: CYBERIMAGE_NATS_URL (nats://127.0.0.1:4222), CYBERIMAGE_NATS_CREDS
// (the client role's credentials file), CYBERIMAGE_SUPERVISOR
// (http://127.0.0.1:8080), OUT (folder for the PNGs, "."), WIDTH, HEIGHT, STEPS.
import { connect, credsAuthenticator } from "@nats-io/transport-node";
import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const env = process.env;
const servers = (env.CYBERIMAGE_NATS_URL || "nats://127.0.0.1:4222").split(",");
const supervisor = env.CYBERIMAGE_SUPERVISOR || "http://127.0.0.1:8080";
const out = env.OUT || ".";
const ended = new Set(["completed", "failed", "cancelled", "rejected"]);

const options = { servers };
if (env.CYBERIMAGE_NATS_CREDS) {
  const creds = readFileSync(env.CYBERIMAGE_NATS_CREDS);
  options.authenticator = credsAuthenticator(creds);
  // Each client identity has an inbox prefix of its own, the only one its
  // credentials may subscribe to and the only kind ingest answers:
  // _INBOX.client.<name>, the name its credentials were issued for.
  options.inboxPrefix = env.CYBERIMAGE_INBOX_PREFIX || inboxPrefixOf(creds);
}
const nc = await connect(options);

const request = {
  prompt: process.argv[2] || "a neon koi pond at dusk",
  width: Number(env.WIDTH || 512),
  height: Number(env.HEIGHT || 512),
  steps: Number(env.STEPS || 8),
  // The same request_id never makes two jobs: resending after a timeout is safe.
  request_id: `node-${randomUUID()}`,
};
const reply = (await nc.request("cyberimage.requests", JSON.stringify(request), { timeout: 15000 })).json();
if (reply.error) {
  console.error(`rejected: ${reply.error.code}: ${reply.error.message}`);
  await nc.close();
  process.exit(1);
}
const jobId = reply.job_id;
console.log(`job ${jobId} ${reply.status}`);

// Progress events are at-most-once: print them as they come, and read the
// record until the job has ended.
const events = nc.subscribe(`cyberimage.events.${jobId}`);
(async () => {
  for await (const m of events) {
    const e = m.json();
    process.stderr.write(`step ${e.step}/${e.total_steps} ${e.status}\n`);
  }
})();

let record;
const deadline = Date.now() + 10 * 60 * 1000;
for (;;) {
  const res = await fetch(`${supervisor}/v1/jobs/${jobId}`);
  if (res.ok) {
    record = await res.json();
    if (ended.has(record.status)) break;
  }
  if (Date.now() > deadline) {
    console.error(`job ${jobId} did not end in 10 minutes`);
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 500));
}
events.unsubscribe();
await nc.close();
if (record.status !== "completed") {
  console.error(`job ${jobId} ended ${record.status}: ${record.error?.message ?? ""}`);
  process.exit(1);
}
mkdirSync(out, { recursive: true });
for (const [i, image] of record.image_urls.entries()) {
  const res = await fetch(image.url);
  if (!res.ok) {
    console.error(`download ${image.key}: HTTP ${res.status}`);
    process.exit(1);
  }
  const path = join(out, `${jobId}-${i}.png`);
  writeFileSync(path, Buffer.from(await res.arrayBuffer()));
  console.log(path);
}

// inboxPrefixOf reads the identity a credentials file was issued for (the
// user JWT's name, and its role in the tag "role:<role>").
function inboxPrefixOf(creds) {
  const jwt = creds.toString().match(/-----BEGIN NATS USER JWT-----\s*([^\s-]+)/)[1];
  const claims = JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());
  const role = (claims.tags || []).find((t) => t.startsWith("role:"))?.slice(5) || "client";
  return `_INBOX.${role}.${claims.name}`;
}
