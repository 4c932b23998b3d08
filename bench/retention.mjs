#!/usr/bin/env node
// `npm run bench:retention [N]`: how fast retention deletes, on workerd with a local D1 holding N aged
// lifecycles (default 200 000: a finished run 40 days old, its delivered webhook and one attempt, ten
// runs per job so nine of each ten may go). Fires the retention Cron Trigger once (the hourly pass),
// then the per-minute sweep (which runs another pass while retention is behind) until nothing is left,
// and prints runs deleted per second of pass time. Needs the sqlite3 CLI (apt-get install sqlite3).
// Writes bench/results/retention.json.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrate, startWorkerd, writeBenchConfig } from "./lib/servers.mjs";

const N = Number(process.argv[2] ?? 200_000);
const RUNS_PER_JOB = 10;
const RETENTION_CRON = "17 * * * *";

const state = mkdtempSync(join(tmpdir(), "scheduler-retention-"));
writeBenchConfig();
migrate(state);

// Straight into the SQLite file of the local D1 (the app is not running yet): jobs, runs, deliveries, logs.
const files = [];
const walk = (d) => readdirSync(d, { withFileTypes: true }).forEach((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith(".sqlite") && files.push(join(d, e.name))));
walk(join(state, "v3", "d1"));
const db = files.sort((a, b) => statSync(b).size - statSync(a).size)[0];
const sqlite = (sql) => {
  const out = spawnSync("sqlite3", ["-json", db], { input: sql, encoding: "utf8" });
  if (out.status !== 0) throw new Error(out.stderr);
  return JSON.parse(out.stdout || "[]");
};
const aged = Date.now() - 40 * 86_400_000;
const jobs = Math.ceil(N / RUNS_PER_JOB);
sqlite(`
BEGIN;
INSERT INTO jobs (id, taskName, payload, priority, status, createdAt, updatedAt)
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${jobs})
  SELECT 'jret' || i, 'retention ' || i, '{"email":"user' || i || '@example.com","kind":"report"}', 'MEDIUM', 'COMPLETED', ${aged}, ${aged} FROM n;
INSERT INTO runs (jobId, number, status, taskName, payload, priority, dueAt, startedAt, completedAt)
  WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${N - 1})
  SELECT 'jret' || (1 + i / ${RUNS_PER_JOB}), 1 + i % ${RUNS_PER_JOB}, 'COMPLETED', 'retention', '{"email":"x@example.com"}', 'MEDIUM', ${aged} + i, ${aged} + i, ${aged} + i + 3000 FROM n;
UPDATE jobs SET latestRunId = (SELECT max(id) FROM runs WHERE runs.jobId = jobs.id);
INSERT INTO deliveries (runId, jobId, webhookId, event, url, body, state, attempts, createdAt, deliveredAt)
  SELECT id, jobId, 'whd_' || jobId || '_' || number, 'job.completed', 'https://hooks.example/in', NULL, 'DELIVERED', 1, completedAt, completedAt FROM runs;
INSERT INTO webhook_logs (jobId, runId, deliveryId, attempt, url, requestBody, responseStatus, responseBody, durationMs, sentAt)
  SELECT jobId, id, NULL, 1, 'https://hooks.example/in', NULL, 200, '{"ok":true}', 12, completedAt FROM runs;
COMMIT;`);
const count = () => sqlite("SELECT (SELECT count(*) FROM runs) runs, (SELECT count(*) FROM deliveries) deliveries, (SELECT count(*) FROM webhook_logs) logs")[0];
const before = count();
console.log(`seeded ${before.runs} runs, ${before.deliveries} deliveries, ${before.logs} log rows (${jobs} jobs)`);

const app = await startWorkerd("app", { state, vars: { RETENTION_DAYS: "30" }, sweepEverySeconds: 0 });
const passes = [];
const pass = async (cron) => {
  const started = performance.now();
  await app.scheduled(new Date(), cron);
  const ms = performance.now() - started;
  const left = count();
  const last = passes.at(-1)?.left ?? before;
  passes.push({ cron, ms: Math.round(ms), runsDeleted: last.runs - left.runs, left });
  console.log(`${cron === RETENTION_CRON ? "hourly pass" : "sweep"}: ${last.runs - left.runs} runs deleted in ${Math.round(ms)} ms (${left.runs} left)`);
};
await pass(RETENTION_CRON);
const kept = jobs; // each job's latest run stays
for (let i = 0; i < 200 && count().runs > kept; i++) await pass("* * * * *");
await app.stop();

const deleted = before.runs - count().runs;
const seconds = passes.reduce((s, p) => s + p.ms, 0) / 1000;
const result = {
  date: new Date().toISOString(),
  machine: "2 shared cores",
  seeded: before,
  runsDeleted: deleted,
  passes: passes.length,
  passSeconds: Math.round(seconds * 10) / 10,
  runsPerSecondOfPass: Math.round(deleted / seconds),
  passesDetail: passes,
};
console.log(`\n${deleted} runs (with their deliveries and log rows) deleted in ${passes.length} passes, ${result.passSeconds} s of pass time: ${result.runsPerSecondOfPass} runs/s`);
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/retention.json", `${JSON.stringify(result, null, 1)}\n`);
rmSync(state, { recursive: true, force: true });
