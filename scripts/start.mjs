#!/usr/bin/env node
// `npm start`: apply the D1 migrations to the local database, then run the Worker under wrangler dev
// with the local defaults in config/local.env (webhooks go to the app's own inbox). Overrides:
// a `.dev.vars` file, or in the environment WEBHOOK_URL / PORT / PERSIST_TO (local state folder) /
// SHARDS (local databases, 1 by default) and the run and delivery settings (SETTINGS below).
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { localConfig, shardBinding, shardCount } from "./lib/shards.mjs";

const port = process.env.PORT ?? "8787";
// Offline by default: wrangler dev would otherwise fetch a `request.cf` sample from Cloudflare at
// start and log an error wherever there is no internet (the app reads nothing from `request.cf`).
const env = { CLOUDFLARE_CF_FETCH_ENABLED: "false", ...process.env, WRANGLER_SEND_METRICS: "false" };
const wrangler = (args, opts = {}) => ["npx", ["wrangler", ...args], { stdio: "inherit", env, ...opts }];

/** How often the Cron Triggers' stand-in fires the sweep and retention (see below). */
const SWEEP_TICK_SECONDS = 15;
const RETENTION_TICK_SECONDS = 3600;
/**
 * The crons of wrangler.toml's [triggers], read from it (scheduled() tells the two apart by the cron),
 * so the local stand-in fires what Cloudflare would: the every-minute sweep and the hourly retention.
 */
const crons = JSON.parse(/^crons\s*=\s*(\[.*\])/m.exec(readFileSync("wrangler.toml", "utf8"))?.[1] ?? "[]");
const SWEEP_CRON = "* * * * *";
const RETENTION_CRON = crons.find((cron) => cron !== SWEEP_CRON);
if (!crons.includes(SWEEP_CRON) || !RETENTION_CRON) throw new Error(`wrangler.toml [triggers] crons should be ["${SWEEP_CRON}", <retention>], not ${JSON.stringify(crons)}`);

const persist = process.env.PERSIST_TO ? ["--persist-to", process.env.PERSIST_TO] : [];
// SHARDS=N: N local databases (DB, DB_1, ...), each migrated (scripts/lib/shards.mjs).
const shards = shardCount();
const config = ["--config", localConfig(shards)];

// Each shard's database migrated side by side (each wrangler run costs seconds).
const migrated = await Promise.all(
  Array.from({ length: shards }, (_, k) => new Promise((resolve) => spawn(...wrangler(["d1", "migrations", "apply", shardBinding(k), "--local", ...config, ...persist], { env: { ...env, CI: "true" } })).on("exit", (code) => resolve(code ?? 1)))),
);
const failed = migrated.find((code) => code !== 0);
if (failed !== undefined) process.exit(failed);

// --test-scheduled: wrangler dev serves /__scheduled, which runs the Worker's scheduled() handler.
const args = ["dev", ...config, "--ip", "127.0.0.1", "--port", port, "--env-file", "config/local.env", "--test-scheduled", ...persist];
const devVars = existsSync(".dev.vars") ? readFileSync(".dev.vars", "utf8") : null;
if (devVars !== null) args.push("--env-file", ".dev.vars");
// On another port the local inbox moves with the app, unless .dev.vars or the environment names a target.
const inbox = port !== "8787" && !/^\s*(export\s+)?WEBHOOK_URL\s*[=:]/m.test(devVars ?? "") ? `http://127.0.0.1:${port}/webhooks/inbox` : undefined;
const webhookUrl = process.env.WEBHOOK_URL ?? inbox;
if (webhookUrl) args.push("--var", `WEBHOOK_URL:${webhookUrl}`);
// The run and delivery settings may also come from the environment (`MAX_CONCURRENT_RUNS=10 npm start`),
// over config/local.env and .dev.vars.
const SETTINGS = ["JOB_DURATION_SECONDS", "MAX_CONCURRENT_RUNS", "WEBHOOK_TIMEOUT_MS", "WEBHOOK_MAX_ATTEMPTS", "WEBHOOK_RETRY_SCHEDULE", "WEBHOOK_RETRY_JITTER", "SWEEP_GRACE_SECONDS", "RETENTION_DAYS"];
for (const name of SETTINGS) if (process.env[name] !== undefined) args.push("--var", `${name}:${process.env[name]}`);

const dev = spawn(...wrangler(args));

// The Cron Triggers' stand-in: wrangler dev does not fire Cron Triggers, so the sweep (which recovers
// runs and deliveries whose queue message was lost, as it is when wrangler dev restarts) and retention
// are fired through the scheduled() handler itself: both at start, then the sweep every
// SWEEP_TICK_SECONDS and retention every RETENTION_TICK_SECONDS.
const warned = new Set();
async function fire(name, cron) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/__scheduled?cron=${encodeURIComponent(cron)}`);
    const text = await res.text();
    if (!res.ok && !warned.has(name)) {
      warned.add(name);
      console.error(`[start] the ${name} failed (HTTP ${res.status}): ${text.slice(0, 300)}`);
    }
  } catch {
    // not listening yet, or restarting
  }
}
const sweep = () => fire("sweep", SWEEP_CRON);
const retention = () => fire("retention", RETENTION_CRON);
const tickers = [setInterval(sweep, SWEEP_TICK_SECONDS * 1000), setInterval(retention, RETENTION_TICK_SECONDS * 1000)];
const first = setInterval(async () => {
  try {
    await fetch(`http://127.0.0.1:${port}/health`);
  } catch {
    return; // not up yet
  }
  clearInterval(first);
  await sweep();
  await retention();
}, 1000);

const clearTimers = () => {
  for (const ticker of tickers) clearInterval(ticker);
  clearInterval(first);
};
const stop = (signal) => {
  clearTimers();
  dev.kill(signal);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
dev.on("exit", (code) => {
  clearTimers();
  process.exit(code ?? 0);
});
