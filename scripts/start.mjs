#!/usr/bin/env node
// `npm start`: apply the D1 migrations to the local database, then run the Worker under wrangler dev
// with the local defaults in config/local.env (webhooks go to the app's own inbox). Overrides:
// a `.dev.vars` file, or WEBHOOK_URL / PORT / PERSIST_TO (local state folder) in the environment.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const port = process.env.PORT ?? "8787";
const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };
const wrangler = (args, opts = {}) => ["npx", ["wrangler", ...args], { stdio: "inherit", env, ...opts }];

/** How often the Cron Trigger's stand-in fires the sweep (see below). */
const SWEEP_TICK_SECONDS = 15;

const persist = process.env.PERSIST_TO ? ["--persist-to", process.env.PERSIST_TO] : [];

const migrate = spawnSync(...wrangler(["d1", "migrations", "apply", "DB", "--local", ...persist], { env: { ...env, CI: "true" } }));
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

// --test-scheduled: wrangler dev serves /__scheduled, which runs the Worker's scheduled() handler.
const args = ["dev", "--ip", "127.0.0.1", "--port", port, "--env-file", "config/local.env", "--test-scheduled", ...persist];
if (existsSync(".dev.vars")) args.push("--env-file", ".dev.vars");
const webhookUrl = process.env.WEBHOOK_URL ?? (port !== "8787" ? `http://127.0.0.1:${port}/webhooks/inbox` : undefined);
if (webhookUrl) args.push("--var", `WEBHOOK_URL:${webhookUrl}`);

const dev = spawn(...wrangler(args));

// The Cron Trigger's stand-in: wrangler dev does not fire Cron Triggers, so the sweep (which recovers
// runs and deliveries whose queue message was lost, as it is when wrangler dev restarts) is fired
// through the scheduled() handler itself: at start, then every SWEEP_TICK_SECONDS.
let warned = false;
async function sweep() {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/__scheduled?cron=*+*+*+*+*`);
    const text = await res.text();
    if (!res.ok && !warned) {
      warned = true;
      console.error(`[start] the sweep failed (HTTP ${res.status}): ${text.slice(0, 300)}`);
    }
  } catch {
    // not listening yet, or restarting
  }
}
const ticker = setInterval(sweep, SWEEP_TICK_SECONDS * 1000);
const first = setInterval(async () => {
  try {
    await fetch(`http://127.0.0.1:${port}/health`);
  } catch {
    return; // not up yet
  }
  clearInterval(first);
  await sweep();
}, 1000);

const stop = (signal) => {
  clearInterval(ticker);
  clearInterval(first);
  dev.kill(signal);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
dev.on("exit", (code) => {
  clearInterval(ticker);
  clearInterval(first);
  process.exit(code ?? 0);
});
