#!/usr/bin/env node
// `npm run bench:size [N]`: what a job lifecycle takes of a D1 database's 10 GB. Runs the deploy bundle
// on workerd (as the benchmark does, rate limits raised) on a fresh local D1, creates N jobs through the
// API (default 5 000), runs them all and waits until each webhook has reached a receiver, then measures
// the local D1's SQLite file page by page (dbstat): bytes per lifecycle, per table and index.
// Writes bench/results/size.json.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createJobs } from "./lib/load.mjs";
import { startReceiver } from "./lib/receiver.mjs";
import { migrate, startWorkerd, writeBenchConfig } from "./lib/servers.mjs";

const N = Number(process.argv[2] ?? 5000);
const headers = { authorization: "Bearer dev-token-change-me-in-production-0123456789", "content-type": "application/json" };
const KINDS = ["invoice", "report", "email", "backup", "sync", "export", "billing", "digest"];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const state = mkdtempSync(join(tmpdir(), "scheduler-size-"));
writeBenchConfig();
migrate(state);
const receiver = await startReceiver();
const app = await startWorkerd("app", { state, vars: { WEBHOOK_URL: receiver.url, JOB_DURATION_SECONDS: "0" } });

// The benchmark's job shape: a task name and a small JSON payload (about 90 bytes).
const ids = await createJobs(app.url, headers, N, (n) => ({
  taskName: `${KINDS[n % KINDS.length]} job ${n}`,
  payload: { email: `user${n}@example.com`, kind: KINDS[n % KINDS.length], tag: `tag${String(n % 100).padStart(3, "0")}`, ref: `R${n}` },
  priority: ["HIGH", "MEDIUM", "LOW"][n % 3],
}));
if (ids.length !== N) throw new Error(`only ${ids.length} of ${N} creates succeeded`);
for (let i = 0; i < ids.length; i += 100) {
  const res = await fetch(`${app.url}/api/jobs/run`, { method: "POST", headers, body: JSON.stringify({ ids: ids.slice(i, i + 100) }) });
  if (!res.ok) throw new Error(`run call: HTTP ${res.status} ${await res.text()}`);
}
const deadline = Date.now() + 10 * 60_000;
while (receiver.delivered.size < N) {
  if (Date.now() > deadline) throw new Error(`only ${receiver.delivered.size} of ${N} webhooks arrived`);
  process.stdout.write(`\r${receiver.delivered.size} of ${N} webhooks`);
  await sleep(1000);
}
await sleep(3000); // the last batch writes its log rows after sending
await app.stop();
await receiver.close();

const files = [];
const walk = (d) => readdirSync(d, { withFileTypes: true }).forEach((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith(".sqlite") && files.push(join(d, e.name))));
walk(join(state, "v3", "d1"));
const db = files.sort((a, b) => statSync(b).size - statSync(a).size)[0];
const sql = (q) => JSON.parse(spawnSync("sqlite3", ["-json", db, q], { encoding: "utf8" }).stdout || "[]");
const counts = sql("SELECT (SELECT count(*) FROM jobs) jobs, (SELECT count(*) FROM runs) runs, (SELECT count(*) FROM deliveries) deliveries, (SELECT count(*) FROM webhook_logs) logs")[0];
const pages = sql("SELECT name, sum(pgsize) bytes FROM dbstat GROUP BY name ORDER BY bytes DESC");
const total = pages.reduce((s, p) => s + p.bytes, 0);
const result = {
  date: new Date().toISOString(),
  lifecycles: N,
  counts,
  fileBytes: statSync(db).size,
  pageBytes: total,
  bytesPerLifecycle: Math.round(total / N),
  byObject: Object.fromEntries(pages.map((p) => [p.name, { bytes: p.bytes, perLifecycle: Math.round(p.bytes / N) }])),
};
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/size.json", `${JSON.stringify(result, null, 2)}\n`);
console.log(`\n${JSON.stringify(result, null, 2)}`);
rmSync(state, { recursive: true, force: true });
process.exit(0);
