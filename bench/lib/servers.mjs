// Starting what the benchmark measures, in the two modes: under `wrangler dev` (its Node proxy in
// front of workerd, as a user runs it) and on workerd through Miniflare's API (no proxy), with the
// same local D1 and Queues state folder. Also the baseline worker in both modes.
import { execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";

/** wrangler.toml with the rate limits raised: a benchmark is a flood from one token by design. */
export const BENCH_CONFIG = ".bench.wrangler.toml";
export function writeBenchConfig() {
  const text = readFileSync("wrangler.toml", "utf8").replace(/limit = \d+, period = 60/g, "limit = 100000000, period = 60");
  writeFileSync(BENCH_CONFIG, text);
}

const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" };
const quiet = { stdio: ["ignore", "ignore", "inherit"], env };

export const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

export function migrate(state) {
  execFileSync("npx", ["wrangler", "d1", "migrations", "apply", "DB", "--local", "-c", BENCH_CONFIG, "--persist-to", state], quiet);
}

export function executeSql(state, file) {
  execFileSync("npx", ["wrangler", "d1", "execute", "DB", "--local", "-c", BENCH_CONFIG, "--persist-to", state, "--file", file], quiet);
}

async function waitFor(url, child) {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`server exited (${child.exitCode})`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`no answer from ${url}`);
}

const localVars = () =>
  Object.fromEntries(
    readFileSync("config/local.env", "utf8")
      .split("\n")
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );

/** `kind`: "app" or "baseline"; state: the local D1 folder; vars: bindings to override (WEBHOOK_URL, JOB_DURATION_SECONDS). */
export async function startWranglerDev(kind, { state, vars = {} } = {}) {
  const port = await freePort();
  const config = kind === "app" ? BENCH_CONFIG : "bench/baseline/wrangler.toml";
  const args = ["wrangler", "dev", "-c", config, "--ip", "127.0.0.1", "--port", String(port), "--log-level", "warn"];
  if (state) args.push("--persist-to", state);
  if (kind === "app") {
    args.push("--env-file", "config/local.env");
    for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  }
  const child = spawn("npx", args, { stdio: ["ignore", "ignore", "ignore"], env, detached: true });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/health`, child);
  return { url, stop: () => stopGroup(child) };
}

function stopGroup(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once("exit", () => resolve());
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      resolve();
    }
    setTimeout(() => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }, 5000);
  });
}

const built = new Set();

/**
 * Bundles like `wrangler deploy` (same code, minified) and runs it on workerd via Miniflare. The app's
 * sweep fires every `sweepEverySeconds` (15, as under `npm start`; 0: never), as the Cron Trigger
 * does deployed. For a profile: `inspectorPort` opens the DevTools protocol, and `minify: false` keeps
 * the function names.
 */
export async function startWorkerd(kind, { state, vars = {}, inspectorPort, minify = true, sweepEverySeconds = 15, silent = false } = {}) {
  const config = kind === "app" ? BENCH_CONFIG : "bench/baseline/wrangler.toml";
  const outdir = resolve(`bench/.build/${kind}`);
  // One build per kind and minification in a process: a restart (the cost meter's larger table) reuses it.
  const build = `${kind} ${minify}`;
  if (!built.has(build)) {
    execFileSync("npx", ["wrangler", "deploy", "--dry-run", "-c", config, ...(config === BENCH_CONFIG ? ["--env", ""] : []), "--outdir", outdir, ...(minify ? [] : ["--minify=false"])], quiet);
    built.add(build);
  }
  const { workerOptions } = unstable_getMiniflareWorkerOptions(config);
  const bindings = kind === "app" ? { ...workerOptions.bindings, ...localVars(), ...vars } : workerOptions.bindings;
  const mf = new Miniflare({
    ...workerOptions,
    name: kind,
    modules: true,
    modulesRoot: outdir,
    scriptPath: `${outdir}/index.js`,
    bindings,
    host: "127.0.0.1",
    port: await freePort(),
    ...(inspectorPort ? { inspectorPort } : {}),
    ...(state ? { d1Persist: `${state}/v3/d1` } : {}),
    // /cdn-cgi/handler/scheduled runs the scheduled() handler (see `scheduled` below).
    unsafeTriggerHandlers: true,
    // The Worker's log lines straight through, unparsed: Miniflare's default (a readline per stream) was
    // seen to stop reading under a benchmark's volume, and workerd then blocks on its full stdout.
    // `silent`: the Worker's output is read and dropped (a benchmark of latency prints its own lines).
    handleRuntimeStdio: (stdout, stderr) => {
      if (silent) stdout.resume();
      else stdout.pipe(process.stdout);
      stderr.pipe(process.stderr);
    },
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  await waitFor(`${url}/health`);
  // The Cron Trigger by hand, as a request that Miniflare turns into a scheduled() call. Not through
  // `mf.getWorker()`: its proxy waits synchronously (Atomics.wait) on Node's main thread, which then
  // stops reading workerd's stdout; under a load's log volume workerd blocks on its full stdout before it
  // answers, and the two processes wait on each other for good (the peer bench's hangs).
  const scheduled = async (at = new Date(), cron = "* * * * *") => {
    // Miniflare's header naming the Worker: without it the request goes to the assets router, which has no scheduled().
    const res = await fetch(`${url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent(cron)}&time=${at.getTime()}`, { headers: { "MF-Route-Override": kind } });
    if (!res.ok) throw new Error(`the scheduled() handler failed (${res.status}): ${await res.text()}`);
  };
  const ticker = kind === "app" && sweepEverySeconds > 0 ? setInterval(() => scheduled().catch(() => undefined), sweepEverySeconds * 1000) : undefined;
  const stop = () => {
    clearInterval(ticker);
    return mf.dispose();
  };
  return { url, stop, scheduled, outdir };
}

/** Resident memory of the workerd processes now running, in MiB (what the worker's runtime holds). */
export function workerdRssMiB() {
  try {
    const out = execFileSync("ps", ["-C", "workerd", "-o", "rss="], { encoding: "utf8" });
    return Math.round(out.split("\n").filter(Boolean).reduce((a, l) => a + Number(l.trim()), 0) / 1024);
  } catch {
    return null;
  }
}
