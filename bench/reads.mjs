#!/usr/bin/env node
// `npm run bench:reads [-- --jobs N --runs-per-path N --state DIR]`: what every dashboard page and API
// list costs at 1 000 000 jobs and 2 000 000 runs. Builds the schema with the real migrations in a fresh
// local state, seeds the SQLite file straight (bench/lib/seed-large.mjs), starts the deploy bundle on
// workerd with COST_METER=true, rolls up the overview's hours (the sweep, by hand), then requests each
// path many times one after the other (so latency is service time) and prints p50/p95 latency and the
// rows read per request (the meter's tally, reset before each request). Writes bench/results/reads.json.
// `--state DIR` keeps the seeded state there and reuses it on the next run (seeding takes minutes).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { percentile } from "./lib/load.mjs";
import { MINUTELY_JOB, seedLarge } from "./lib/seed-large.mjs";
import { migrate, startWorkerd, writeBenchConfig } from "./lib/servers.mjs";

const { values: args } = parseArgs({
  options: {
    jobs: { type: "string", default: "1000000" },
    "runs-per-path": { type: "string", default: "40" },
    state: { type: "string" },
    "seed-only": { type: "boolean", default: false },
  },
});
const JOBS = Number(args.jobs);
const REPEAT = Number(args["runs-per-path"]);
const TOKEN = "dev-token-change-me-in-production-0123456789";

const state = args.state ?? mkdtempSync(join(tmpdir(), "scheduler-reads-"));
writeBenchConfig();
const sqliteFile = () => {
  const files = [];
  const walk = (d) => readdirSync(d, { withFileTypes: true }).forEach((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith(".sqlite") && files.push(join(d, e.name))));
  walk(join(state, "v3", "d1"));
  return files.sort((a, b) => statSync(b).size - statSync(a).size)[0];
};

let counts;
const seededMark = join(state, "seeded.json");
if (existsSync(seededMark)) {
  console.log(`reusing the seeded state in ${state}`);
  counts = JSON.parse((await import("node:fs")).readFileSync(seededMark, "utf8"));
} else {
  mkdirSync(state, { recursive: true });
  console.log(`migrating a fresh local D1 in ${state}`);
  migrate(state);
  console.log(`seeding ${JOBS} jobs straight into ${sqliteFile()}`);
  const started = Date.now();
  counts = { ...seedLarge(sqliteFile(), { jobs: JOBS }), seededInSeconds: Math.round((Date.now() - started) / 1000) };
  writeFileSync(seededMark, JSON.stringify(counts));
}
console.log(counts);
if (args["seed-only"]) process.exit(0);

const app = await startWorkerd("app", { state, vars: { COST_METER: "true", WEBHOOK_URL: "http://127.0.0.1:9/hook" }, sweepEverySeconds: 0, silent: true });
const api = { authorization: `Bearer ${TOKEN}` };

// The sweep once, as the Cron Trigger would: it rolls up the overview's hours that are over.
await app.scheduled();

const signIn = await fetch(`${app.url}/login`, {
  method: "POST",
  redirect: "manual",
  headers: { "content-type": "application/x-www-form-urlencoded", origin: app.url },
  body: new URLSearchParams({ token: TOKEN, next: "/" }),
});
const browser = { cookie: signIn.headers.get("set-cookie").split(";")[0] };

const json = async (path) => (await fetch(`${app.url}${path}`, { headers: api })).json();
const meter = async () => (await (await fetch(`${app.url}/__meter`, { method: "DELETE" })).json()).d1;

// Cursors deep in the lists, taken from answers (a deep page by number, read once here).
const deepJobs = (await json(`/api/jobs?page=${Math.floor(JOBS / 20)}`)).pagination.nextCursor;
const deepRuns = (await json(`/api/jobs/${MINUTELY_JOB}/runs?page=2000`)).pagination.nextCursor;
const deepLogs = (await json(`/api/logs?page=${Math.floor(JOBS / 10)}`)).pagination.nextCursor;
const someJob = (await json("/api/jobs?status=FAILED&limit=1")).data[0].id;
const enc = encodeURIComponent;

const paths = [
  ["dashboard", "/"],
  ["dashboard", "/?status=FAILED"],
  ["dashboard", "/?search=tag042"],
  ["dashboard", `/?page=${Math.floor(JOBS / 20) + 1}&cursor=${enc(deepJobs)}`],
  ["dashboard", `/jobs/${MINUTELY_JOB}`],
  ["dashboard", `/jobs/${MINUTELY_JOB}/live`],
  ["dashboard", `/jobs/${someJob}`],
  ["dashboard", "/logs"],
  ["dashboard", "/logs?outcome=failure"],
  ["dashboard", "/overview"],
  ["dashboard", "/inbox"],
  ["api", "/api/jobs"],
  ["api", "/api/jobs?status=FAILED"],
  ["api", "/api/jobs?status=IN_PROGRESS"],
  ["api", "/api/jobs?status=COMPLETED&priority=HIGH"],
  ["api", "/api/jobs?priority=LOW&sort=oldest"],
  ["api", "/api/jobs?search=tag042"],
  ["api", "/api/jobs?search=example"],
  ["api", "/api/jobs?search=tag042&status=COMPLETED"],
  // No job matches both (tag042 jobs are never FAILED here): the worst case, every match of the search walked.
  ["api", "/api/jobs?search=tag042&status=FAILED"],
  ["api", `/api/jobs?cursor=${enc(deepJobs)}`],
  ["api", `/api/jobs?page=${Math.floor(JOBS / 20)}`],
  ["api", `/api/jobs/${MINUTELY_JOB}/runs`],
  ["api", `/api/jobs/${MINUTELY_JOB}/runs?cursor=${enc(deepRuns)}`],
  ["api", "/api/logs"],
  ["api", "/api/logs?outcome=failure"],
  ["api", `/api/logs?cursor=${enc(deepLogs)}`],
  ["api", `/api/jobs/${MINUTELY_JOB}/logs`],
  ["api", "/api/stats"],
  ["api", "/get-jobs"],
  ["api", "/get-jobs?status=FAILED"],
  ["api", "/get-jobs?search=tag042"],
  ["api", "/get-logs"],
  ["api", `/get-logs/${MINUTELY_JOB}`],
];

const results = [];
for (const [kind, path] of paths) {
  const headers = kind === "dashboard" ? browser : api;
  const latencies = [];
  const rows = [];
  for (let i = 0; i < REPEAT + 3; i++) {
    await meter();
    const started = performance.now();
    const res = await fetch(`${app.url}${path}`, { headers });
    await res.arrayBuffer();
    const ms = performance.now() - started;
    if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
    const { rowsRead } = await meter();
    if (i < 3) continue; // warm-up
    latencies.push(ms);
    rows.push(rowsRead);
  }
  latencies.sort((a, b) => a - b);
  const shown = path.replace(/cursor=[^&]+/, "cursor=…");
  const result = { path: shown, p50: +percentile(latencies, 50).toFixed(1), p95: +percentile(latencies, 95).toFixed(1), rowsRead: Math.max(...rows) };
  results.push(result);
  console.log(`${shown.padEnd(60)} p50 ${String(result.p50).padStart(6)} ms  p95 ${String(result.p95).padStart(6)} ms  rows read ${result.rowsRead}`);
}
await app.stop();
console.log(`load average (1, 5, 15 min): ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);

const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "?"}), Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} at the end`;
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/reads.json", `${JSON.stringify({ date: new Date().toISOString(), machine, counts, repeat: REPEAT, results }, null, 2)}\n`);
console.log(`\n| path | p50 ms | p95 ms | rows read |\n| --- | --- | --- | --- |`);
for (const r of results) console.log(`| \`${r.path}\` | ${r.p50} | ${r.p95} | ${r.rowsRead.toLocaleString("en-US")} |`);
if (!args.state) rmSync(state, { recursive: true, force: true });
process.exit(0);
