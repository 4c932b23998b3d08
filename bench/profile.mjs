#!/usr/bin/env node
// `npm run bench:profile`: where a create's time goes on workerd. The app's bundle (not minified, so
// functions keep their names) runs on workerd through Miniflare with the DevTools protocol open; a CPU
// profile is taken while it takes creates at concurrency 32, and each sample is charged to the module
// its code came from (the bundle's `// node_modules/...` and `// src/...` markers). Beside it, the same
// creates with the rate limiter binding removed, and the request floor (GET /health), as rates.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WebSocket } from "undici";
import { runLoad } from "./lib/load.mjs";
import { BENCH_CONFIG, freePort, migrate, startWorkerd, writeBenchConfig } from "./lib/servers.mjs";

const N = process.argv.includes("--quick") ? 1000 : 4000;
const TOKEN = /^API_TOKENS=(\S+)/m.exec(readFileSync("config/local.env", "utf8"))[1];
const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
const create = (i) => ({ method: "POST", path: "/api/jobs", headers, body: JSON.stringify({ taskName: `Profile job ${i}`, payload: { email: `p${i}@example.com`, n: i }, priority: "MEDIUM" }) });
const vars = { WEBHOOK_URL: "http://127.0.0.1:9/hook" };

/** A DevTools protocol session with the app's isolate. */
async function devtools(port) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const target = targets.find((t) => /app/.test(t.title ?? t.id ?? "")) ?? targets[0];
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let next = 1;
  const waiting = new Map();
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.id && waiting.has(message.id)) waiting.get(message.id)(message.result);
  };
  const send = (method, params = {}) =>
    new Promise((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { send, close: () => ws.close() };
}

/** Where each line of the bundle came from: the module markers esbuild writes. */
function modulesOf(bundle) {
  const marks = [];
  bundle.split("\n").forEach((line, i) => {
    const m = /^\/\/ (node_modules\/(?:@[^/]+\/)?[^/]+|src\/.+\.tsx?)/.exec(line);
    if (m) marks.push({ line: i, module: m[1].startsWith("src/") ? m[1] : m[1].replace("node_modules/", "") });
  });
  return (line) => {
    let found = "(bundle glue)";
    for (const mark of marks) {
      if (mark.line > line) break;
      found = mark.module;
    }
    return found;
  };
}

/** Self time per module (ms), from the profile's samples; with `detail`, per function too (into `functions`). */
const functions = new Map();
function selfTimeByModule(profile, moduleAt, detail = true) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map();
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const frame = node.callFrame;
    const inBundle = frame.url.endsWith("index.js");
    const key = inBundle ? moduleAt(frame.lineNumber) : /^\(.*\)$/.test(frame.functionName) ? frame.functionName : frame.functionName ? `runtime: ${frame.functionName}` : frame.url || "(native)";
    if (inBundle && detail) {
      const fn = `${key} ${frame.functionName || `(anonymous, line ${frame.lineNumber + 1})`}`;
      functions.set(fn, (functions.get(fn) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
    }
    totals.set(key, (totals.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return [...totals.entries()].sort((a, b) => b[1] - a[1]);
}

writeBenchConfig();
const state = mkdtempSync(join(tmpdir(), "bench-profile-"));
const results = {};
try {
  migrate(state);
  const inspectorPort = await freePort();
  const app = await startWorkerd("app", { state, vars, inspectorPort, minify: false, sweepEverySeconds: 0 });
  const moduleAt = modulesOf(readFileSync(join(app.outdir, "index.js"), "utf8"));
  await runLoad(app.url, { total: 300, concurrency: 32, request: create }); // warm-up
  const session = await devtools(inspectorPort);
  await session.send("Profiler.enable");
  await session.send("Profiler.setSamplingInterval", { interval: 200 });
  await session.send("Profiler.start");
  const started = performance.now();
  const profiled = await runLoad(app.url, { total: N, concurrency: 32, request: create });
  const wallMs = performance.now() - started;
  const { profile } = await session.send("Profiler.stop");
  session.close();
  const floor = await runLoad(app.url, { total: N, concurrency: 32, request: () => ({ path: "/health" }) });
  await app.stop();

  // The same creates with the rate limiter binding left out of the configuration.
  const noLimiterConfig = readFileSync(BENCH_CONFIG, "utf8").replace(/\[\[ratelimits\]\][^[]*/g, "");
  writeFileSync(BENCH_CONFIG, noLimiterConfig);
  const bare = await startWorkerd("app", { state, vars, sweepEverySeconds: 0 });
  await runLoad(bare.url, { total: 300, concurrency: 32, request: create });
  const noLimiter = await runLoad(bare.url, { total: N, concurrency: 32, request: create });
  await bare.stop();
  writeBenchConfig();

  const modules = selfTimeByModule(profile, moduleAt);
  const busyMs = modules.filter(([k]) => k !== "(idle)" && k !== "(program)").reduce((s, [, ms]) => s + ms, 0);
  results.creates = { rps: profiled.rps, p50: profiled.p50, errors: profiled.errors };
  results.createsWithoutRateLimiter = { rps: noLimiter.rps, p50: noLimiter.p50, errors: noLimiter.errors };
  results.healthFloor = { rps: floor.rps };
  results.isolate = { wallMs: Math.round(wallMs), jsBusyMs: Math.round(busyMs), jsMsPerCreate: Math.round((busyMs / N) * 1000) / 1000 };
  results.selfTimeByModule = Object.fromEntries(modules.slice(0, 25).map(([k, ms]) => [k, Math.round(ms)]));
  results.topFunctions = Object.fromEntries([...functions.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([k, ms]) => [k, Math.round(ms)]));
} finally {
  rmSync(state, { recursive: true, force: true });
}

console.log(`creates on workerd, c=32: ${results.creates.rps} req/s (p50 ${results.creates.p50} ms); without the rate limiter binding: ${results.createsWithoutRateLimiter.rps} req/s; GET /health: ${results.healthFloor.rps} req/s`);
console.log(`the app's isolate ran JavaScript for ${results.isolate.jsBusyMs} ms of ${results.isolate.wallMs} ms (${results.isolate.jsMsPerCreate} ms per create); self time by module (ms):`);
for (const [module, ms] of Object.entries(results.selfTimeByModule)) console.log(`  ${String(ms).padStart(7)}  ${module}`);
console.log("the bundle's functions with the most self time (ms):");
for (const [fn, ms] of Object.entries(results.topFunctions)) console.log(`  ${String(ms).padStart(7)}  ${fn}`);
writeFileSync("bench/results/profile.json", JSON.stringify({ date: new Date().toISOString(), n: N, ...results }, null, 2));
process.exit(0);
