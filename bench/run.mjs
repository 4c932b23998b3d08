#!/usr/bin/env node
// `npm run bench`: the app and a constant-JSON baseline worker, under wrangler dev and on workerd
// (Miniflare, no proxy), with a real webhook receiver; ingest, queries at 1 000 and 100 000 jobs, and
// the run -> webhook pipeline. Prints a table and writes bench/results/latest.json.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { createJobs as createThrough, percentile, runLoad } from "./lib/load.mjs";
import { startReceiver } from "./lib/receiver.mjs";
import { costTable, measureCost } from "./lib/cost.mjs";
import { measureAccuracy, measurePriority } from "./lib/scheduling.mjs";
import { COMMON_WORD, SEARCH_WORD, seedJobs } from "./lib/seed.mjs";
import { migrate, startWorkerd, startWranglerDev, workerdRssMiB, writeBenchConfig } from "./lib/servers.mjs";

const QUICK = process.argv.includes("--quick");
const SIZES = { ingest: QUICK ? 500 : 5000, pipeline: QUICK ? 200 : 2000, large: QUICK ? 10_000 : 100_000, small: 1000, accuracy: QUICK ? 1000 : 10_000, priority: QUICK ? 600 : 5000 };
const COST_ONLY = process.argv.includes("--cost-only");
const MODES = COST_ONLY ? [] : process.argv.includes("--only-workerd") ? ["workerd"] : process.argv.includes("--only-wrangler") ? ["wrangler dev"] : ["wrangler dev", "workerd"];
const CONCURRENCY = 32;
const TOKEN = /^API_TOKENS=(\S+)/m.exec(readFileSync("config/local.env", "utf8"))[1];
const auth = { authorization: `Bearer ${TOKEN}` };
const json = { ...auth, "content-type": "application/json" };
const jobFields = (i) => ({ taskName: `Bench job ${i}`, payload: { email: `bench${i}@example.com`, n: i }, priority: "MEDIUM" });
const createBody = (i) => JSON.stringify(jobFields(i));

const start = (mode, kind, opts) => (mode === "workerd" ? startWorkerd(kind, opts) : startWranglerDev(kind, opts));
const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

/** The constant-JSON ceiling, and the ceiling for a request that writes one row to local D1. */
async function measureBaseline(mode) {
  const state = mkdtempSync(join(tmpdir(), "bench-baseline-"));
  try {
    const server = await start(mode, "baseline", { state });
    const post = (path) => (i) => ({ method: "POST", path, headers: json, body: createBody(i) });
    await runLoad(server.url, { total: 300, concurrency: CONCURRENCY, request: post("/") });
    const constant = await runLoad(server.url, { total: SIZES.ingest, concurrency: CONCURRENCY, request: post("/") });
    await runLoad(server.url, { total: 300, concurrency: CONCURRENCY, request: post("/d1") });
    const oneInsert = await runLoad(server.url, { total: SIZES.ingest, concurrency: CONCURRENCY, request: post("/d1") });
    await server.stop();
    return { constant, oneInsert };
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}

function queryKinds(total) {
  const deepPage = Math.max(1, Math.floor(total / 10 / 2));
  return {
    "page 1": "/api/jobs?limit=10",
    [`deep page (${deepPage})`]: `/api/jobs?limit=10&page=${deepPage}`,
    "search payload word": `/api/jobs?limit=10&search=${SEARCH_WORD}`,
    "search common word": `/api/jobs?limit=10&search=${COMMON_WORD}`,
    "status filter": "/api/jobs?limit=10&status=FAILED",
    "search + filter": `/api/jobs?limit=10&search=${SEARCH_WORD}&status=COMPLETED`,
    "common word + filter": `/api/jobs?limit=10&search=${COMMON_WORD}&status=FAILED`,
  };
}

async function measureQueries(url, total) {
  const out = {};
  for (const [name, path] of Object.entries(queryKinds(total))) {
    await runLoad(url, { total: 20, concurrency: 1, request: () => ({ path, headers: auth }) });
    const latency = await runLoad(url, { total: QUICK ? 50 : 150, concurrency: 1, request: () => ({ path, headers: auth }) });
    const throughput = await runLoad(url, { total: QUICK ? 200 : 600, concurrency: CONCURRENCY, request: () => ({ path, headers: auth }) });
    out[name] = { p50: latency.p50, p95: latency.p95, rpsC32: throughput.rps, errors: latency.errors + throughput.errors };
  }
  return out;
}

const createJobs = (url, n) => createThrough(url, json, n, jobFields, CONCURRENCY);

async function measurePipeline(url, receiver, durationSeconds) {
  const ids = await createJobs(url, SIZES.pipeline);
  receiver.reset();
  const runAt = new Map();
  const started = performance.now();
  // "Run at once": the bulk route, 100 jobs per call (one D1 round trip and one sendBatch each).
  const chunks = [];
  for (let i = 0; i < ids.length; i += 100) chunks.push(ids.slice(i, i + 100));
  const runs = await runLoad(url, {
    total: chunks.length,
    concurrency: 4,
    request: (i) => ({ method: "POST", path: "/api/jobs/run", headers: json, body: JSON.stringify({ ids: chunks[i] }) }),
    onResponse: (_, status, body, t0) => status === 202 && JSON.parse(body).data.started.forEach((s) => runAt.set(s.id, t0)),
  });
  const deadline = performance.now() + durationSeconds * 1000 + 120_000;
  while (ids.some((id) => !receiver.arrivals.has(id)) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const arrivals = ids.map((id) => receiver.arrivals.get(id)).filter((t) => t !== undefined);
  const lags = ids.filter((id) => receiver.arrivals.has(id) && runAt.has(id)).map((id) => receiver.arrivals.get(id) - runAt.get(id) - durationSeconds * 1000).sort((a, b) => a - b);
  const last = Math.max(...arrivals);
  return {
    jobs: ids.length,
    runCallErrors: runs.errors,
    notStarted: ids.length - runAt.size,
    firstRunToLastWebhookS: Math.round((last - started) / 10) / 100,
    lagP50Ms: Math.round(percentile(lags, 50)),
    lagP95Ms: Math.round(percentile(lags, 95)),
    missing: ids.length - arrivals.length,
    duplicates: [...receiver.seen.values()].filter((n) => n > 1).length,
    jobsPerSecond: Math.round(arrivals.length / ((last - started) / 1000)),
  };
}

async function measureMode(mode, receiver) {
  log(`${mode}: baseline`);
  const { constant: baseline, oneInsert: baselineD1 } = await measureBaseline(mode);
  const state = mkdtempSync(join(tmpdir(), "bench-state-"));
  try {
    migrate(state);
    seedJobs(state, 0, SIZES.small);
    // No limit on runs in progress for these phases: they measure the pipeline, not the queueing.
    let app = await start(mode, "app", { state, vars: { WEBHOOK_URL: receiver.url, JOB_DURATION_SECONDS: "3", MAX_CONCURRENT_RUNS: "0" } });
    log(`${mode}: queries at ${SIZES.small} jobs`);
    const querySmall = await measureQueries(app.url, SIZES.small);
    log(`${mode}: ingest ${SIZES.ingest}`);
    await createJobs(app.url, 200); // warm-up
    const ingest = await runLoad(app.url, { total: SIZES.ingest, concurrency: CONCURRENCY, request: (i) => ({ method: "POST", path: "/api/jobs", headers: json, body: createBody(i) }) });
    // The same worker without D1: what every request pays before the app's own work (routing in front
    // of the Worker, auth, middleware). Ingest is read against it as well as against the baseline.
    const appFloor = await runLoad(app.url, { total: SIZES.ingest, concurrency: CONCURRENCY, request: () => ({ path: "/health" }) });
    log(`${mode}: pipeline ${SIZES.pipeline} jobs, 3 s`);
    const pipeline = await measurePipeline(app.url, receiver, 3);
    const memoryMiB = workerdRssMiB();
    await app.stop();

    const have = SIZES.small + 200 + SIZES.ingest + SIZES.pipeline;
    log(`${mode}: seeding to ${SIZES.large} jobs`);
    seedJobs(state, SIZES.small, SIZES.large - have);
    app = await start(mode, "app", { state, vars: { WEBHOOK_URL: receiver.url, JOB_DURATION_SECONDS: "0", MAX_CONCURRENT_RUNS: "0" } });
    log(`${mode}: queries at ${SIZES.large} jobs`);
    const queryLarge = await measureQueries(app.url, SIZES.large);
    log(`${mode}: pipeline ${SIZES.pipeline} jobs, duration 0`);
    const pipelineZero = await measurePipeline(app.url, receiver, 0);
    await app.stop();
    let scheduling = null;
    if (mode === "workerd") {
      log(`${mode}: ${SIZES.accuracy} runs due across one minute (no limit)`);
      app = await start(mode, "app", { state, vars: { WEBHOOK_URL: receiver.url, JOB_DURATION_SECONDS: "3", MAX_CONCURRENT_RUNS: "0" } });
      // Created ahead of time (about 6 ms per create here), so every run is still in the future when made.
      const accuracy = await measureAccuracy(app.url, json, SIZES.accuracy, Math.max(20_000, SIZES.accuracy * 6));
      await app.stop();
      log(`${mode}: ${SIZES.priority} runs due at once, limit 50, three priorities`);
      app = await start(mode, "app", { state, vars: { WEBHOOK_URL: receiver.url, JOB_DURATION_SECONDS: "0", MAX_CONCURRENT_RUNS: "50" } });
      const priority = await measurePriority(app.url, json, SIZES.priority);
      await app.stop();
      scheduling = { accuracy, priority };
    }
    return {
      baseline,
      baselineD1,
      appFloor,
      ingest: { ...ingest, ratioToBaseline: Math.round((ingest.rps / baseline.rps) * 100) / 100, ratioToAppFloor: Math.round((ingest.rps / appFloor.rps) * 100) / 100, ratioToBaselineD1: Math.round((ingest.rps / baselineD1.rps) * 100) / 100 },
      queries: { [SIZES.small]: querySmall, [SIZES.large]: queryLarge },
      pipeline,
      pipelineDuration0: pipelineZero,
      workerdMemoryMiB: memoryMiB,
      scheduling,
    };
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}

function printTable(results) {
  const lines = [];
  for (const [mode, r] of Object.entries(results.modes)) {
    lines.push(`\n## ${mode}`);
    lines.push(`baseline (constant JSON POST, c=${CONCURRENCY}): ${r.baseline.rps} req/s  p50 ${r.baseline.p50} ms  p95 ${r.baseline.p95} ms  p99 ${r.baseline.p99} ms`);
    lines.push(`baseline + one D1 insert per request: ${r.baselineD1.rps} req/s (${Math.round((r.baselineD1.rps / r.baseline.rps) * 100)}% of baseline)  errors ${r.baselineD1.errors}`);
    lines.push(`app floor (GET /health, no D1), c=${CONCURRENCY}: ${r.appFloor.rps} req/s (${Math.round((r.appFloor.rps / r.baseline.rps) * 100)}% of baseline)`);
    lines.push(`ingest ${SIZES.ingest} creates, c=${CONCURRENCY}: ${r.ingest.rps} req/s (${Math.round(r.ingest.ratioToBaseline * 100)}% of baseline, ${Math.round(r.ingest.ratioToBaselineD1 * 100)}% of baseline + D1 insert, ${Math.round(r.ingest.ratioToAppFloor * 100)}% of the app floor)  p50 ${r.ingest.p50} ms  p95 ${r.ingest.p95} ms  p99 ${r.ingest.p99} ms  errors ${r.ingest.errors}`);
    lines.push(`queries: c=1 p50/p95 ms, c=${CONCURRENCY} req/s`);
    const sizes = Object.keys(r.queries);
    for (const kind of Object.keys(r.queries[sizes[0]])) {
      const cells = sizes.map((size) => {
        const k = Object.keys(r.queries[size]).find((x) => x.split(" (")[0] === kind.split(" (")[0]);
        const q = r.queries[size][k];
        return `${size}: ${q.p50}/${q.p95} ms, ${q.rpsC32} req/s`;
      });
      lines.push(`  ${kind.split(" (")[0].padEnd(20)} ${cells.join("   |   ")}`);
    }
    for (const [name, p] of [["pipeline (3 s jobs)", r.pipeline], ["pipeline (duration 0)", r.pipelineDuration0]]) {
      lines.push(`${name}: ${p.jobs} jobs, first run -> last webhook ${p.firstRunToLastWebhookS} s, lag beyond duration p50 ${p.lagP50Ms} ms p95 ${p.lagP95Ms} ms, ${p.jobsPerSecond} jobs/s, missing ${p.missing}, duplicates ${p.duplicates}`);
    }
    lines.push(`workerd memory (RSS): ${r.workerdMemoryMiB ?? "n/a"} MiB`);
    if (r.scheduling) {
      const a = r.scheduling.accuracy;
      lines.push(`scheduled runs due across one minute: ${a.started}/${a.scheduled} started; start minus due p50 ${a.startMinusDue.p50Ms} ms, p95 ${a.startMinusDue.p95Ms} ms, max ${a.startMinusDue.maxMs} ms`);
      const p = r.scheduling.priority;
      const w = (k) => `${k} p50 ${p.waitByPriority[k].p50Ms} ms, p95 ${p.waitByPriority[k].p95Ms} ms, last ${p.waitByPriority[k].maxMs} ms`;
      lines.push(`${p.scheduled} runs due at once, limit 50 (${p.started} started): wait to start ${w("HIGH")} | ${w("MEDIUM")} | ${w("LOW")}`);
    }
  }
  console.log(lines.join("\n"));
}

const t0 = Date.now();
writeBenchConfig();
const receiver = await startReceiver();
const results = { date: new Date().toISOString(), machine: { cpus: cpus().length, model: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version }, sizes: SIZES, modes: {} };
try {
  log("cost meter (workerd)");
  const costState = mkdtempSync(join(tmpdir(), "bench-cost-"));
  try {
    results.cost = await measureCost(costState, receiver, json, { largeJobs: SIZES.large, largeScheduled: SIZES.large, recurring: !QUICK });
    log(`cost meter done:\n${costTable(results.cost)}`);
  } finally {
    rmSync(costState, { recursive: true, force: true });
  }
  for (const mode of MODES) results.modes[mode] = await measureMode(mode, receiver);
} finally {
  await receiver.close();
}
results.totalSeconds = Math.round((Date.now() - t0) / 1000);
mkdirSync("bench/results", { recursive: true });
const outFile = `bench/results/${COST_ONLY ? "cost" : QUICK ? "quick" : "latest"}.json`;
writeFileSync(outFile, JSON.stringify(results, null, 2));
console.log(costTable(results.cost));
printTable(results);
console.log(`\ntotal ${results.totalSeconds} s; JSON in ${outFile}`);
process.exit(0);
