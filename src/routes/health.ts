/**
 * Health: `/health` says the Worker answers (liveness, no I/O); `/health/ready` checks what a request
 * needs, each check named with its outcome, so a failing deployment says which part failed: the
 * configuration parses, and D1 answers with the schema in place. No token, so it reveals no data and no
 * detail (a variable's value, a database message): why a check failed goes to the Worker's log.
 */
import { sql } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { getDb } from "../db/client";
import { bindingOf } from "../db/sessions";
import { shardBindings } from "../db/shards";
import { jobs } from "../db/schema";
import { getConfig, type AppEnv, type Env } from "../env";
import { logFailure } from "../lib/log";
import { doc } from "../openapi/describe";
import { ok, readiness } from "../openapi/responses";

interface Check {
  ok: boolean;
  ms: number;
}

async function check(name: string, work: () => unknown): Promise<Check> {
  const started = Date.now();
  try {
    await work();
    return { ok: true, ms: Date.now() - started };
  } catch (err) {
    logFailure("readiness.check_failed", { check: name }, err);
    return { ok: false, ms: Date.now() - started };
  }
}

/**
 * One primary-key probe of `jobs` on every shard: each binding works, each database answers, the
 * migrations ran on each. Asked of the primaries, not of replicas through the request's session.
 */
const d1Answers = (env: Env) => Promise.all(shardBindings(env).map((db) => getDb(bindingOf(db)).select({ one: sql`1` }).from(jobs).limit(1)));

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
      more: { 503: ["A check failed (named in message; why, in the Worker's log)", readiness] },
    }),
    async (c) => {
      const checks = { config: await check("config", () => getConfig(c.env)), d1: await check("d1", () => d1Answers(c.env)) };
      const failed = Object.entries(checks).filter(([, result]) => !result.ok);
      if (failed.length === 0) return c.json({ success: true, data: { status: "ok", checks } });
      const message = `${failed.map(([name]) => `${name} check failed`).join("; ")} (details in the Worker's log)`;
      return c.json({ success: false, message, data: { status: "failing", checks } }, 503);
    },
  );
