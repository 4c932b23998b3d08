/** Liveness and readiness: each readiness check named with its outcome, a failing part named in a 503. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../src/env";
import worker from "../src/index";

async function get(path: string, withEnv: Env = env) {
  const res = await worker.fetch(new Request(`http://scheduler.test${path}`), withEnv);
  return { status: res.status, body: (await res.json()) as any };
}

describe("GET /health and /health/ready", () => {
  it("answers liveness without touching D1, and readiness with each check's outcome", async () => {
    const noDb = { ...env, DB: undefined } as unknown as Env;
    expect(await get("/health", noDb)).toEqual({ status: 200, body: { success: true, data: { status: "ok" } } });
    const ready = await get("/health/ready");
    expect(ready.status).toBe(200);
    expect(ready.body.data).toMatchObject({ status: "ok", checks: { config: { ok: true }, d1: { ok: true } } });
  });

  it("answers 503 naming D1 when it cannot answer (no binding, or no schema)", async () => {
    const noDb = { ...env, DB: undefined } as unknown as Env;
    const down = await get("/health/ready", noDb);
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ success: false, data: { status: "failing", checks: { config: { ok: true }, d1: { ok: false } } } });
    expect(down.body.message).toMatch(/^d1 check failed: /);
    // An empty database (migrations never applied): the probe of `jobs` fails.
    const empty = await get("/health/ready", { ...env, DB: env.MIGRATION_DB } as Env);
    expect(empty.status).toBe(503);
    expect(empty.body.message).toMatch(/d1 check failed: .*no such table: jobs/);
  });

  it("answers 503 naming the configuration when a variable is bad", async () => {
    const bad = await get("/health/ready", { ...env, WEBHOOK_TIMEOUT_MS: "soon" });
    expect(bad.status).toBe(503);
    expect(bad.body.message).toMatch(/^config check failed: .*WEBHOOK_TIMEOUT_MS/);
    expect(bad.body.data.checks.d1.ok).toBe(true);
  });
});
