/**
 * The app as the e2e tests that stop and start it drive it: `npm start` on a free port (stopped with
 * the whole process group), its API with the local token, and `npm run` of the project's scripts.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { killGroup, startApp, waitFor, type App as Started } from "./npm-start";
import { closedPort } from "./receiver";

const token = /^API_TOKENS=(\S+)/m.exec(readFileSync("config/local.env", "utf8"))![1]!;
const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };

export type App = Started & { base: string };

/** Every app started, stopped at the end even when it never answered. */
const started: App[] = [];

export async function start(state: string, extra: Record<string, string> = {}): Promise<App> {
  const port = await closedPort();
  const app = { ...(await startApp(port, state, extra)), base: `http://127.0.0.1:${port}` };
  started.push(app);
  await waitFor("the app to answer /health", async () => ((await fetch(`${app.base}/health`)).ok ? true : undefined), 90_000, app);
  return app;
}

/** SIGTERM to the whole group (npm, node, wrangler, workerd), and wait until it is gone. */
export async function stop(app: App) {
  killGroup(app, "SIGTERM");
  await waitFor("the app to stop", async () => (app.child.exitCode !== null || app.child.signalCode !== null ? true : undefined), 20_000);
}

export async function api(app: App, method: string, path: string, body?: unknown) {
  const res = await fetch(`${app.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as any };
}

export function npm(args: string[], extra: Record<string, string> = {}) {
  const run = spawnSync("npm", ["run", ...args], { env: { ...env, ...extra }, encoding: "utf8" });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** Stops every app started here (at the end of a file, even one that never answered). */
export async function stopAll() {
  for (const app of started.splice(0)) await stop(app);
}
