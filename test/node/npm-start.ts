/**
 * The app started as the README starts it (`npm start`) in its own process group, on a given port and
 * state folder, with its output kept for assertions and failure messages. Shared by the e2e tests.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { startedWithoutPortClash } from "./start-retry";

export interface App {
  child: ChildProcess;
  output: string[];
}

/**
 * The environment of a user's shell: without what vitest sets for itself (NODE_ENV=test makes
 * Miniflare skip work a user's `npm start` does, such as fetching the `request.cf` sample).
 */
export function userEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name === "NODE_ENV" || name === "TEST" || name.startsWith("VITEST")) delete env[name];
  return env;
}

/**
 * `npm start` on `port` with `state` as its local D1 and Queues folder; `env` adds variables
 * (WEBHOOK_URL, ...); `cwd` is the project folder it runs in (this one by default). Resolves once the
 * app answers /health, or has exited, or 90 s have passed (the caller's own wait then reports it with
 * the output); a start that lost its inspector port to another one starting is made again.
 */
export function startApp(port: number, state: string, env: Record<string, string> = {}, cwd?: string): Promise<App> {
  return startedWithoutPortClash(
    () => {
      const output: string[] = [];
      const child = spawn("npm", ["start"], {
        cwd,
        env: { ...userEnv(), WRANGLER_SEND_METRICS: "false", PORT: String(port), PERSIST_TO: state, ...env },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true, // its own process group: npm, node, wrangler and workerd
      });
      child.stdout?.on("data", (d: Buffer) => output.push(d.toString()));
      child.stderr?.on("data", (d: Buffer) => output.push(d.toString()));
      return { child, output };
    },
    async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok,
  );
}

/** `signal` to the app's whole process group; nothing if it is already gone. */
export function killGroup(app: App, signal: NodeJS.Signals) {
  try {
    process.kill(-app.child.pid!, signal);
  } catch {
    // already gone
  }
}

/** Polls `probe` until it answers something, or fails naming `what` (with the app's last output). */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, app?: App): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch {
      // not there yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${app ? `\n${app.output.join("").slice(-3000)}` : ""}`);
}
