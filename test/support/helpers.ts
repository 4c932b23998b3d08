/** Small fixtures for the tests: call the Worker, make jobs, wait for the queue, read the receiver. */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { vi } from "vitest";
import type { Env } from "../../src/env";
import worker from "../../src/index";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import { deliveryBodyOf } from "../../src/webhooks/body";
import { shardBindings, shardOfJob } from "../../src/db/shards";
import type { ReceivedRequest } from "./receiver-types";

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export const ORIGIN = "http://scheduler.test";
export const API_TOKEN = env.API_TOKENS!.split(" ")[0]!;

/** Signs in once per test file (from its own client IP, so the sign-in rate limit is not shared). */
let session: Promise<string> | undefined;
export function sessionCookie(): Promise<string> {
  session ??= (async () => {
    const res = await worker.fetch(
      new Request(`${ORIGIN}/login`, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN, "cf-connecting-ip": `10.${[...crypto.getRandomValues(new Uint8Array(3))].join(".")}` },
        body: new URLSearchParams({ token: API_TOKEN, next: "/" }),
      }),
      env,
    );
    const cookie = res.headers.get("set-cookie");
    if (res.status !== 303 || !cookie) throw new Error(`sign-in failed: ${res.status}`);
    return cookie.split(";")[0]!;
  })();
  return session;
}

/**
 * A request to the Worker as a signed-in client sends it: API token, session cookie and same-origin
 * Origin by default (a header given as null is left out). `body` objects are sent as JSON.
 */
export async function call<T = any>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string | null> = {},
): Promise<ApiResponse<T>> {
  const merged: Record<string, string | null> = { authorization: `Bearer ${API_TOKEN}`, cookie: await sessionCookie(), origin: ORIGIN };
  for (const [name, value] of Object.entries(headers)) merged[name.toLowerCase()] = value;
  if (body !== undefined && !("content-type" in merged)) merged["content-type"] = "application/json";
  const sent = Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== null));
  const init: RequestInit = { method, headers: sent, redirect: "manual" };
  if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
  // The Worker's own fetch handler, called directly. Through `exports.default` each request constructs
  // vitest-pool-workers 0.15's entrypoint wrapper, which wraps the wrapper's prototype in one more Proxy
  // every time (cloudflare/workers-sdk#15092, fixed in releases that need Node 22): a file's 800th
  // request took 100 ms instead of 3. The app uses no ExecutionContext, so nothing else differs.
  const res = await worker.fetch(new Request(`${ORIGIN}${path}`, init), env);
  const text = new TextDecoder().decode(await res.arrayBuffer());
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

/** A unique word to tag the jobs of one test, so assertions never depend on other tests' rows. */
export const uniqueWord = (prefix = "t") => `${prefix}${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;

export async function createJob(fields: Record<string, unknown> = {}) {
  const res = await call("POST", "/api/jobs", { taskName: uniqueWord("job"), payload: {}, priority: "MEDIUM", ...fields });
  if (res.status !== 201) throw new Error(`createJob failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data as { id: string; taskName: string; [k: string]: any };
}

export async function getJob(id: string) {
  return (await call("GET", `/api/jobs/${id}`)).body.data;
}

/** The state of the webhook of the job's latest run (undefined before its run finished). */
export const deliveryOf = (job: any) => job?.latestRun?.delivery;
export const deliveryState = (job: any): string | undefined => deliveryOf(job)?.state;
export const delivered = (job: any) => deliveryState(job) === "DELIVERED";

/** Polls until the job matches `predicate` (the real queue delivers after the job's duration). */
export async function waitForJob(id: string, predicate: (job: any) => boolean, timeout = 15_000) {
  return vi.waitUntil(
    async () => {
      const job = await getJob(id);
      return job && predicate(job) ? job : undefined;
    },
    { timeout, interval: 100 },
  );
}

export async function received(jobId: string): Promise<ReceivedRequest[]> {
  const res = await fetch(`${env.RECEIVER_URL}/received/${encodeURIComponent(jobId)}`);
  return res.json();
}

/** The bytes the delivery aliased `alias` sends, as SQL text: the app's own expression (webhooks/body.ts). */
export const deliveryBytes = (alias: string) => new SQLiteAsyncDialect().sqlToQuery(deliveryBodyOf(alias)).sql;

/** A log row's sent bytes, as the app reads them: its own copy where it kept one, else its delivery's. */
export const SENT_BYTES = `coalesce(webhook_logs.requestBody, (SELECT ${deliveryBytes("d")} FROM deliveries d WHERE d.runId = webhook_logs.runId))`;

/** A log row's webhook-id: its own where it kept one, else its delivery's. */
export const SENT_ID = `coalesce(webhook_logs.deliveryId, (SELECT d.webhookId FROM deliveries d WHERE d.runId = webhook_logs.runId))`;

/** The database that holds a job's rows: its shard's (`DB` unless the tests run over several: src/db/shards.ts). */
export const dbOf = (jobId: string): D1Database => shardBindings(env)[shardOfJob(env, jobId)]!;

/** `base` with the binding of a job's shard replaced by `db` (an interleaved copy of it). */
export const withJobDb = (base: Env, jobId: string, db: D1Database): Env => {
  const k = shardOfJob(env, jobId);
  return { ...base, [k === 0 ? "DB" : `DB_${k}`]: db };
};

/** How many shards this test file runs over (3 in the shards project). */
export const SHARDS = shardBindings(env).length;

/** A job's attempts straight from D1, each with the bytes and webhook-id it sent (its delivery's unless the row keeps its own). */
export async function logRows(jobId: string) {
  const { results } = await dbOf(jobId).prepare(`SELECT *, ${SENT_BYTES} AS sentBody, ${SENT_ID} AS sentId FROM webhook_logs WHERE jobId = ? ORDER BY id`)
    .bind(jobId)
    .all();
  return (results as Record<string, any>[]).map(({ sentBody, sentId, ...row }): Record<string, any> => ({ ...row, requestBody: sentBody, deliveryId: sentId }));
}

/** A job's runs with their deliveries, oldest first, straight from D1. */
export async function runRows(jobId: string) {
  const { results } = await dbOf(jobId).prepare(
    `SELECT r.*, d.state, d.attempts, d.series, d.webhookId, CASE WHEN d.runId IS NOT NULL THEN ${deliveryBytes("d")} END AS body, d.url, d.lastError
     FROM runs r LEFT JOIN deliveries d ON d.runId = r.id WHERE r.jobId = ? ORDER BY r.number`,
  )
    .bind(jobId)
    .all();
  return results as Record<string, any>[];
}

/** Rows of a table, in every shard. */
export async function countRows(table: "jobs" | "runs" | "deliveries" | "webhook_logs") {
  const counts = await Promise.all(shardBindings(env).map((db) => db.prepare(`SELECT count(*) AS n FROM ${table}`).first<{ n: number }>()));
  return counts.reduce((sum, row) => sum + (row?.n ?? 0), 0);
}

/**
 * Delivers run messages to the real consumer as the queue would, with the consumer's clock (Date) set
 * to `at`: for runs a test started on a future clock (a run completes only once it has lasted its
 * duration, by the clock of whoever completes it).
 */
export async function deliverAt(at: Date, messages: { jobId: string; run: number }[], withEnv: Env = env) {
  const batch = createMessageBatch<unknown>(
    "job-scheduler-runs",
    messages.map((body) => ({ id: crypto.randomUUID(), timestamp: at, attempts: 1, body })),
  );
  vi.useFakeTimers({ toFake: ["Date"], now: at });
  try {
    await worker.queue(batch, withEnv);
  } finally {
    vi.useRealTimers();
  }
  return getQueueResult(batch, createExecutionContext());
}

/** Lets a run's duration pass at once: it started `ms` earlier than it did (a test's hour-long runs). */
export async function backdateRun(jobId: string, run: number, ms: number) {
  await dbOf(jobId).prepare("UPDATE runs SET startedAt = startedAt - ?1 WHERE jobId = ?2 AND number = ?3").bind(ms, jobId, run).run();
}

/** Delivers messages to the consumer and records how it settled each: acknowledged, or retried after how long. */
export async function deliverRecorded(queue: string, bodies: unknown[], withEnv: Env, attempts: number) {
  const settled: { id: string; how: "ack" | "retry"; delaySeconds?: number }[] = [];
  const messages = bodies.map((body, i) => {
    const id = `r${i}-${crypto.randomUUID()}`;
    return {
      id,
      timestamp: new Date(),
      attempts,
      body,
      ack: () => void settled.push({ id, how: "ack" }),
      retry: (options?: QueueRetryOptions) => void settled.push({ id, how: "retry", delaySeconds: options?.delaySeconds }),
    };
  });
  const batch = { queue, messages, ackAll: () => undefined, retryAll: () => undefined } as unknown as MessageBatch<unknown>;
  await worker.queue(batch, withEnv);
  return settled;
}

/**
 * A fault in the real D1: every attempt to claim this delivery (its move to SENDING) is refused by a
 * trigger, so handling its message throws wherever it runs (the real queue included). Returns the undo.
 */
export async function failClaimsOf(webhookId: string) {
  const name = `fail_claims_${webhookId.replace(/\W/g, "_")}`;
  // whd_<job id>_<run>: the job's shard holds the delivery.
  const db = dbOf(webhookId.slice(4, webhookId.lastIndexOf("_")));
  await db.prepare(
    `CREATE TRIGGER ${name} BEFORE UPDATE ON deliveries WHEN old.webhookId = '${webhookId}' AND new.state = 'SENDING' BEGIN SELECT RAISE(ABORT, 'injected fault'); END`,
  ).run();
  return async () => void (await db.prepare(`DROP TRIGGER ${name}`).run());
}
