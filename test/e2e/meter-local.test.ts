/**
 * The cost meter under `wrangler dev`, as the benchmark reads it: wrangler's entry reports a client
 * on this machine as CF-Connecting-IP 127.0.0.1, so /__meter answers it; a request that says it comes
 * from elsewhere, or asks for another host, is refused.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { killGroup, waitFor, type App } from "../node/npm-start";
import { closedPort } from "../node/receiver";
import { startedWithoutPortClash } from "../node/start-retry";

/** A GET with exactly these headers (fetch would not send a Host of our choosing). */
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("/__meter under wrangler dev", () => {
  const state = mkdtempSync(join(tmpdir(), "scheduler-meter-state-"));
  let app: App | undefined;
  afterAll(() => {
    if (app) killGroup(app, "SIGKILL");
    rmSync(state, { recursive: true, force: true });
  });

  it("answers this machine, and refuses another client address or another host", async () => {
    const port = await closedPort();
    app = await startedWithoutPortClash(
      () => {
        const output: string[] = [];
        const child = spawn(
          "npx",
          ["wrangler", "dev", "--ip", "127.0.0.1", "--port", String(port), "--env-file", "config/local.env", "--var", "COST_METER:true", "--persist-to", state],
          { env: { ...process.env, WRANGLER_SEND_METRICS: "false" }, stdio: ["ignore", "pipe", "pipe"], detached: true },
        );
        child.stdout.on("data", (d: Buffer) => output.push(d.toString()));
        child.stderr.on("data", (d: Buffer) => output.push(d.toString()));
        return { child, output };
      },
      async () => (await get(port, "/health")).status === 200,
    );
    await waitFor("wrangler dev to answer /health", async () => ((await get(port, "/health")).status === 200 ? true : undefined), 90_000, app);

    const own = await get(port, "/__meter");
    expect(own.status, own.body).toBe(200);
    expect(JSON.parse(own.body)).toMatchObject({ invocations: { fetch: expect.any(Number) }, d1: { rowsWritten: expect.any(Number) } });

    const elsewhere: Record<string, string>[] = [{ "cf-connecting-ip": "198.51.100.4" }, { host: "scheduler.example.com" }];
    for (const headers of elsewhere) {
      const refused = await get(port, "/__meter", headers);
      expect([refused.status, refused.body], JSON.stringify(headers)).toEqual([403, "The cost meter answers only on a local server, to this machine"]);
    }
  });
});
