/**
 * Health: `/health` says the Worker answers (liveness, no I/O); `/health/ready` checks what a request
 * needs, each check named with its outcome, so a failing deployment says which part failed: the
 * configuration parses, and D1 answers with the schema in place. No token: it reveals no data.
 */
import { sql } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { getDb } from "../db/client";
import { jobs } from "../db/schema";
import { getConfig, type AppEnv, type Env } from "../env";
import { doc } from "../openapi/describe";
import { ok, readiness } from "../openapi/responses";

interface Check {
  ok: boolean;
  ms: number;
  error?: string;
}

async function check(work: () => unknown): Promise<Check> {
  const started = Date.now();
  try {
    await work();
    return { ok: true, ms: Date.now() - started };
  } catch (err) {
    return { ok: false, ms: Date.now() - started, error: rootMessage(err) };
  }
}

/** The innermost cause's message: Drizzle wraps a D1 error in one that quotes the whole query. */
function rootMessage(err: unknown): string {
  let inner = err;
  while (inner instanceof Error && inner.cause instanceof Error) inner = inner.cause;
  return inner instanceof Error ? inner.message : String(inner);
}

/** One primary-key probe of `jobs`: the binding works, the database answers, the migrations ran. */
const d1Answers = (env: Env) => getDb(env.DB).select({ one: sql`1` }).from(jobs).limit(1);

export const health = new Hono<AppEnv>()
  .get(
    "/",
    doc({ summary: "Liveness", description: "The Worker answers (no I/O).", tag: "Health", public: true, ok: [200, "Alive", ok(z.object({ status: z.literal("ok") }))] }),
    (c) => c.json({ success: true, data: { status: "ok" } }),
  )
  .get(
    "/ready",
    doc({
      summary: "Readiness",
      description: "The configuration parses and D1 answers with the schema in place; a failing check is named.",
      tag: "Health",
      public: true,
      ok: [200, "Ready", readiness],
      more: { 503: ["A check failed (named in message)", readiness] },
    }),
    async (c) => {
      const checks = { config: await check(() => getConfig(c.env)), d1: await check(() => d1Answers(c.env)) };
      const failed = Object.entries(checks).filter(([, result]) => !result.ok);
      if (failed.length === 0) return c.json({ success: true, data: { status: "ok", checks } });
      const message = failed.map(([name, result]) => `${name} check failed: ${result.error}`).join("; ");
      return c.json({ success: false, message, data: { status: "failing", checks } }, 503);
    },
  );
