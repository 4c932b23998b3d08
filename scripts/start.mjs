#!/usr/bin/env node
// `npm start`: apply the D1 migrations to the local database, then run the Worker under wrangler dev
// with the local defaults in config/local.env (webhooks go to the app's own inbox). Overrides:
// a `.dev.vars` file, or WEBHOOK_URL / PORT / PERSIST_TO (local state folder) in the environment.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const port = process.env.PORT ?? "8787";
const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };
const wrangler = (args, opts = {}) => ["npx", ["wrangler", ...args], { stdio: "inherit", env, ...opts }];

const persist = process.env.PERSIST_TO ? ["--persist-to", process.env.PERSIST_TO] : [];

const migrate = spawnSync(...wrangler(["d1", "migrations", "apply", "DB", "--local", ...persist], { env: { ...env, CI: "true" } }));
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

const args = ["dev", "--ip", "127.0.0.1", "--port", port, "--env-file", "config/local.env", ...persist];
if (existsSync(".dev.vars")) args.push("--env-file", ".dev.vars");
const webhookUrl = process.env.WEBHOOK_URL ?? (port !== "8787" ? `http://127.0.0.1:${port}/webhooks/inbox` : undefined);
if (webhookUrl) args.push("--var", `WEBHOOK_URL:${webhookUrl}`);

const dev = spawn(...wrangler(args));

// The Cron Trigger's stand-in: wrangler dev cannot fire the cron locally, so the sweep that recovers
// lost runs and deliveries is called over HTTP (a local-only route) every 30 s.
const ticker = setInterval(() => {
  fetch(`http://127.0.0.1:${port}/internal/sweep`, { method: "POST" }).catch(() => undefined);
}, 30_000);

const stop = (signal) => {
  clearInterval(ticker);
  dev.kill(signal);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
dev.on("exit", (code) => {
  clearInterval(ticker);
  process.exit(code ?? 0);
});
