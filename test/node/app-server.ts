/**
 * Starts the app as a user does (`npm start`: migrations, then wrangler dev) on a free port with its
 * own local state, for the browser project: the dashboard in Chromium, and the OpenAPI document and the
 * client generated from it, which need the app but no browser (they run without Chromium too).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { closedPort } from "./receiver";
import { userEnv } from "./npm-start";
import { startedWithoutPortClash } from "./start-retry";

declare module "vitest" {
  export interface ProvidedContext {
    appUrl: string;
  }
}

async function waitForHealth(url: string, child: ChildProcess, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the app exited early with code ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the app did not answer ${url}/health within ${timeoutMs} ms`);
}

export default async function setup(project: TestProject) {
  const port = await closedPort();
  const url = `http://127.0.0.1:${port}`;
  const state = mkdtempSync(join(tmpdir(), "scheduler-browser-"));
  const { child, output } = await startedWithoutPortClash(
    () => {
      const output: string[] = [];
      const child = spawn("node", ["scripts/start.mjs"], {
        env: { ...userEnv(), PORT: String(port), PERSIST_TO: state },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      child.stdout?.on("data", (d: Buffer) => output.push(d.toString()));
      child.stderr?.on("data", (d: Buffer) => output.push(d.toString()));
      return { child, output };
    },
    async () => (await fetch(`${url}/health`)).ok,
  );
  try {
    await waitForHealth(url, child, 90_000);
  } catch (err) {
    console.error(output.join(""));
    throw err;
  }
  project.provide("appUrl", url);
  return () => {
    // wrangler dev runs workerd as a child: stop the whole process group.
    if (child.pid) process.kill(-child.pid, "SIGTERM");
    rmSync(state, { recursive: true, force: true });
  };
}
