/**
 * Liveness and readiness: each readiness check named with its outcome, a failing part named in a 503,
 * and nothing more to an anonymous caller: why it failed (a variable's value, a database message) is
 * in the Worker's log, for the operator.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from "vitest";
import type { Env } from "../src/env";
import worker from "../src/index";

async function get(path: string, withEnv: Env = env) {
  const res = await worker.fetch(new Request(`http://scheduler.test${path}`), withEnv);
  return { status: res.status, body: (await res.json()) as any };
}

let errors: MockInstance<typeof console.error>;
beforeEach(() => {
  errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
});
afterEach(() => errors.mockRestore());
/** The error lines logged about readiness checks, parsed. */
const checkLines = () =>
  errors.mock.calls.map(([line]) => JSON.parse(String(line))).filter((line) => line.event === "readiness.check_failed");

const passing = { ok: true, ms: expect.any(Number) };
const failing = { ok: false, ms: expect.any(Number) };

describe("GET /health and /health/ready", () => {
  it("answers liveness without touching D1, and readiness with each check's outcome", async () => {
    const noDb = { ...env, DB: undefined } as unknown as Env;
    expect(await get("/health", noDb)).toEqual({ status: 200, body: { success: true, data: { status: "ok" } } });
    expect(await get("/health/ready")).toEqual({ status: 200, body: { success: true, data: { status: "ok", checks: { config: passing, d1: passing } } } });
    expect(checkLines()).toEqual([]);
  });

  it("answers 503 naming the d1 check when D1 cannot answer (no binding, or no schema), and logs why", async () => {
    const d1Failing = { success: false, message: "d1 check failed (details in the Worker's log)", data: { status: "failing", checks: { config: passing, d1: failing } } };
    const noDb = { ...env, DB: undefined } as unknown as Env;
    expect(await get("/health/ready", noDb)).toEqual({ status: 503, body: d1Failing });
    // An empty database (migrations never applied): the probe of `jobs` fails.
    expect(await get("/health/ready", { ...env, DB: env.NO_SCHEMA_DB } as Env)).toEqual({ status: 503, body: d1Failing });
    expect(checkLines()).toEqual([
      expect.objectContaining({ check: "d1", error: expect.objectContaining({ kind: "TypeError" }) }),
      expect.objectContaining({ check: "d1", error: expect.objectContaining({ statement: "select jobs", reason: "no such table: jobs: SQLITE_ERROR" }) }),
    ]);
  });

  it("answers 503 naming the config check, not the variable or its value, and logs both", async () => {
    const bad = await get("/health/ready", { ...env, WEBHOOK_URL: "https://10.20.30.40/hooks/private-path" });
    expect(bad).toEqual({
      status: 503,
      body: { success: false, message: "config check failed (details in the Worker's log)", data: { status: "failing", checks: { config: failing, d1: passing } } },
    });
    expect(checkLines()).toEqual([
      expect.objectContaining({ check: "config", error: { kind: "ConfigError", reason: "Invalid configuration: WEBHOOK_URL: 10.20.30.40 is not a public address (private)" } }),
    ]);
  });

  it("names each check that failed", async () => {
    const both = await get("/health/ready", { ...env, WEBHOOK_TIMEOUT_MS: "soon", DB: env.NO_SCHEMA_DB } as Env);
    expect(both.status).toBe(503);
    expect(both.body.message).toBe("config check failed; d1 check failed (details in the Worker's log)");
  });
});
