/**
 * Deleting a job: gone from every read at once, its runs to come and in progress stopped, the webhooks
 * its finished runs still owe delivered (at least once, as promised), and its rows purged by the sweep
 * in bounded batches: a job with 50 000 runs is deleted in a few rows written, and nothing else waits.
 */
import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { Env } from "../src/env";
import worker from "../src/index";
import { readMeter } from "../src/lib/meter";
import { API_TOKEN, call, createJob, delivered, deliveryState, getJob, logRows, received, runRows, uniqueWord, waitForJob } from "./support/helpers";

const sweep = (withEnv: Env = env) => worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), withEnv);

/** Everything a job left in D1: its row, runs, deliveries, log rows, search entry and keys. */
async function leftOf(jobId: string) {
  const count = async (sql: string) => (await env.DB.prepare(sql).bind(jobId).first<{ n: number }>())!.n;
  return {
    job: await count("SELECT count(*) AS n FROM jobs WHERE id = ?"),
    runs: await count("SELECT count(*) AS n FROM runs WHERE jobId = ?"),
    deliveries: await count("SELECT count(*) AS n FROM deliveries WHERE jobId = ?"),
    logs: await count("SELECT count(*) AS n FROM webhook_logs WHERE jobId = ?"),
    keys: await count("SELECT count(*) AS n FROM idempotency_keys WHERE jobId = ?"),
  };
}
const nothing = { job: 0, runs: 0, deliveries: 0, logs: 0, keys: 0 };

describe("DELETE /api/jobs/:id", () => {
  it("is gone from every read at once: the job, its runs, its logs, lists, search and the original routes", async () => {
    const word = uniqueWord("gone");
    const job = await createJob({ taskName: `report ${word}` });
    await call("POST", `/api/jobs/${job.id}/run`);
    const done = await waitForJob(job.id, delivered);

    expect((await call("DELETE", `/api/jobs/${job.id}`)).body).toMatchObject({ success: true, data: { id: job.id } });
    expect((await call("GET", `/api/jobs/${job.id}`)).status).toBe(404);
    expect((await call("GET", `/api/jobs/${job.id}/runs`)).status).toBe(404);
    expect((await call("GET", `/api/jobs/${job.id}/logs`)).status).toBe(404);
    expect((await call("GET", `/api/runs/${done.latestRun.id}`)).status).toBe(404);
    expect((await call("POST", `/api/jobs/${job.id}/run`)).status).toBe(404);
    expect((await call("PATCH", `/api/jobs/${job.id}`, { taskName: "x" })).status).toBe(404);
    expect((await call("DELETE", `/api/jobs/${job.id}`)).status).toBe(404);
    for (const search of [word, word.slice(0, 2), "{}"]) {
      const listed = await call("GET", `/api/jobs?search=${encodeURIComponent(search)}&limit=100`);
      expect(listed.body.data.map((j: any) => j.id)).not.toContain(job.id);
    }
    expect((await call("GET", `/api/jobs?limit=100`)).body.data.map((j: any) => j.id)).not.toContain(job.id);
    expect((await call("GET", `/get-logs/${job.id}`)).status).toBe(404);
    // Its attempts stay in the delivery log, marked, until the purge.
    expect((await call("GET", `/api/logs?jobId=${job.id}`)).body.data).toMatchObject([{ jobId: job.id, jobDeleted: true, taskName: "" }]);

    // The sweep purges its rows (nothing was under way).
    await sweep();
    expect(await leftOf(job.id)).toEqual(nothing);
    expect((await call("GET", `/api/logs?jobId=${job.id}`)).body.data).toEqual([]);
  });

  it("stops the runs in progress and to come without a webhook", async () => {
    const running = await createJob();
    const later = await createJob({ runAt: new Date(Date.now() + 60_000).toISOString() });
    await call("POST", `/api/jobs/${running.id}/run`);
    for (const job of [running, later]) expect((await call("DELETE", `/api/jobs/${job.id}`)).status).toBe(200);
    for (const job of [running, later]) {
      expect((await runRows(job.id))[0]).toMatchObject({ status: "CANCELLED", failureReason: "the job was deleted", state: null });
    }
    // Its completion message comes after the run's duration (1 s here) and finds nothing to do.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await received(running.id)).toEqual([]);
    await sweep();
    expect(await leftOf(running.id)).toEqual(nothing);
  });

  it("still delivers a webhook that was under way (at least once), then purges it with its attempts", async () => {
    // The receiver fails the first attempt; the retry comes 1 s later, after the delete.
    const job = await createJob({ payload: { receiver: { script: [500, 200] } } });
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, (j) => deliveryState(j) === "RETRYING");
    expect((await call("DELETE", `/api/jobs/${job.id}`)).status).toBe(200);
    await sweep();
    // Kept while its webhook is owed...
    expect(await leftOf(job.id)).toMatchObject({ job: 1, runs: 1, deliveries: 1, logs: 1 });
    await vi.waitUntil(async () => (await received(job.id)).length === 2, { timeout: 10_000, interval: 100 });
    const hooks = await received(job.id);
    expect(hooks.map((h) => h.headers["webhook-id"])).toEqual([`whd_${job.id}_1`, `whd_${job.id}_1`]);
    await vi.waitUntil(async () => (await logRows(job.id)).length === 2, { timeout: 5000, interval: 100 });
    // ... then purged once it was delivered.
    await sweep();
    expect(await leftOf(job.id)).toEqual(nothing);
  });

  it("frees its Idempotency-Key: the same key then makes a new job", async () => {
    const key = uniqueWord("key");
    const body = { taskName: uniqueWord("keyed"), payload: {} };
    const first = await call("POST", "/api/jobs", body, { "idempotency-key": key });
    expect(first.status).toBe(201);
    expect((await call("DELETE", `/api/jobs/${first.body.data.id}`)).status).toBe(200);
    expect(await leftOf(first.body.data.id)).toMatchObject({ keys: 0 });
    const again = await call("POST", "/api/jobs", body, { "idempotency-key": key });
    expect(again.status).toBe(201);
    expect(again.body.data.id).not.toBe(first.body.data.id);
  });
});

describe("deleting a job with 50 000 runs", () => {
  it("answers in a few rows written, keeps everything else moving, and the sweep purges it in bounded batches", async () => {
    const big = await createJob({ taskName: uniqueWord("minutely") });
    // 50 000 finished runs, each with a delivered webhook and one attempt: a minutely job's month.
    const t0 = Date.now() - 40 * 86_400_000;
    await env.DB.batch([
      env.DB.prepare(
        `INSERT INTO runs (jobId, number, status, taskName, payload, priority, dueAt, startedAt, completedAt)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000)
         SELECT ?1, i, 'COMPLETED', 'minutely', '{}', 'MEDIUM', ?2 + i * 60000, ?2 + i * 60000, ?2 + i * 60000 + 3000 FROM n`,
      ).bind(big.id, t0),
      env.DB.prepare(
        `INSERT INTO deliveries (runId, jobId, webhookId, event, url, body, state, attempts, createdAt, deliveredAt)
         SELECT id, jobId, 'whd_' || jobId || '_' || number, 'job.completed', 'http://127.0.0.1:1/hooks', '{}', 'DELIVERED', 1, completedAt, completedAt FROM runs WHERE jobId = ?1`,
      ).bind(big.id),
      env.DB.prepare(
        `INSERT INTO webhook_logs (jobId, runId, deliveryId, attempt, url, requestBody, responseStatus, durationMs, sentAt)
         SELECT jobId, id, 'whd_' || jobId || '_' || number, 1, 'http://127.0.0.1:1/hooks', '{}', 200, 5, completedAt FROM runs WHERE jobId = ?1`,
      ).bind(big.id),
      env.DB.prepare("UPDATE jobs SET latestRunId = (SELECT max(id) FROM runs WHERE jobId = ?1), status = 'COMPLETED' WHERE id = ?1").bind(big.id),
    ]);
    expect(await leftOf(big.id)).toEqual({ job: 1, runs: 50_000, deliveries: 50_000, logs: 50_000, keys: 0 });

    // The delete itself: the job's row, its search entry, its unfinished runs (none): a few rows.
    const metered: Env = { ...env, COST_METER: "true" };
    readMeter(true);
    const res = await worker.fetch(new Request(`http://scheduler.test/api/jobs/${big.id}`, { method: "DELETE", headers: { authorization: `Bearer ${API_TOKEN}` } }), metered);
    const cost = readMeter(true);
    expect(res.status).toBe(200);
    expect(cost.d1.roundTrips).toBe(1);
    expect(cost.d1.rowsWritten).toBeLessThan(20);
    expect(cost.d1.rowsRead).toBeLessThan(100);
    expect((await call("GET", `/api/jobs/${big.id}`)).status).toBe(404);

    // Each sweep purges at most 10 000 runs (20 batches of 500); meanwhile another job runs its whole lifecycle.
    const other = await createJob();
    await call("POST", `/api/jobs/${other.id}/run`);
    const left: number[] = [];
    for (let pass = 0; pass < 8 && (await leftOf(big.id)).job > 0; pass++) {
      const before = (await leftOf(big.id)).runs;
      await sweep();
      const after = (await leftOf(big.id)).runs;
      expect(before - after).toBeLessThanOrEqual(10_000);
      left.push(after);
    }
    // Five or six passes (a pass may first finish another deleted job of this file).
    expect(left.length).toBeGreaterThanOrEqual(5);
    expect(left.length).toBeLessThanOrEqual(6);
    expect(left.at(-1)).toBe(0);
    expect(await leftOf(big.id)).toEqual(nothing);
    expect(await waitForJob(other.id, delivered)).toMatchObject({ status: "COMPLETED" });
    expect(await getJob(big.id)).toBeUndefined();
  }, 60_000);
});

describe("the purge", () => {
  /** A deleted job with `runs` finished runs, each with a delivery in `state` and `attempts` log rows. */
  async function deletedJobWith(runs: number, attempts: number, state = "FAILED", nextAttemptAt: number | null = null) {
    const job = await createJob({ taskName: uniqueWord("purge") });
    const t0 = Date.now() - 86_400_000;
    await env.DB.batch([
      env.DB.prepare(
        `INSERT INTO runs (jobId, number, status, taskName, payload, priority, dueAt, startedAt, completedAt)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
         SELECT ?1, i, 'COMPLETED', 'x', '{}', 'MEDIUM', ?3 + i, ?3 + i, ?3 + i FROM n`,
      ).bind(job.id, runs, t0),
      env.DB.prepare(
        `INSERT INTO deliveries (runId, jobId, webhookId, event, url, body, state, attempts, nextAttemptAt, createdAt)
         SELECT id, jobId, 'whd_' || jobId || '_' || number, 'job.completed', 'http://127.0.0.1:1/hooks', '{}', ?2, ?3, ?4, completedAt FROM runs WHERE jobId = ?1`,
      ).bind(job.id, state, attempts, nextAttemptAt),
      env.DB.prepare(
        `INSERT INTO webhook_logs (jobId, runId, deliveryId, attempt, url, requestBody, responseStatus, durationMs, sentAt)
         WITH RECURSIVE a(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM a WHERE k < ?2)
         SELECT r.jobId, r.id, 'whd_' || r.jobId || '_' || r.number, a.k, 'http://127.0.0.1:1/hooks', '{}', 500, 5, r.completedAt FROM runs r, a WHERE r.jobId = ?1`,
      ).bind(job.id, attempts),
    ]);
    expect((await call("DELETE", `/api/jobs/${job.id}`)).status).toBe(200);
    return job.id;
  }

  it("never gives a run id or a log id twice, even after the newest ones were purged", async () => {
    const job = await createJob({ taskName: uniqueWord("newest") });
    await call("POST", `/api/jobs/${job.id}/run`);
    const done = await waitForJob(job.id, delivered);
    const [log] = await logRows(job.id);
    // The newest run and log row of the database are this job's: its purge deletes them.
    const newest = async () => (await env.DB.prepare("SELECT (SELECT max(id) FROM runs) AS run, (SELECT max(id) FROM webhook_logs) AS log").first<{ run: number; log: number }>())!;
    expect(await newest()).toEqual({ run: done.latestRun.id, log: log!.id });
    expect((await call("DELETE", `/api/jobs/${job.id}`)).status).toBe(200);
    await sweep();
    expect(await leftOf(job.id)).toEqual(nothing);
    expect((await newest()).run ?? 0).toBeLessThan(done.latestRun.id);

    const next = await createJob();
    await call("POST", `/api/jobs/${next.id}/run`);
    const nextDone = await waitForJob(next.id, delivered);
    expect(nextDone.latestRun.id).toBe(done.latestRun.id + 1);
    expect((await logRows(next.id))[0]!.id).toBe(log!.id + 1);
  });

  it("purges runs with long logs (six attempts each) across batches, each batch reading a bounded number of rows", async () => {
    const id = await deletedJobWith(1200, 6);
    const metered: Env = { ...env, COST_METER: "true" };
    readMeter(true);
    await sweep(metered);
    const cost = readMeter(true);
    expect(await leftOf(id)).toEqual(nothing);
    // 7 200 log rows, 1 200 deliveries and runs deleted; reads stay within a few per row deleted.
    expect(cost.d1.rowsWritten).toBeGreaterThan(9_600);
    expect(cost.d1.rowsRead).toBeLessThan(20 * cost.d1.rowsWritten);
  });

  it("is not held up by deleted jobs whose webhooks are still owed: they go to the back of the line", async () => {
    // 25 deleted jobs, each keeping a run whose webhook retries tomorrow, then one with nothing owed.
    const waiting = [];
    for (let i = 0; i < 25; i++) waiting.push(await deletedJobWith(1, 1, "RETRYING", Date.now() + 86_400_000));
    const done = await deletedJobWith(3, 1);
    for (let pass = 0; pass < 4 && (await leftOf(done)).job > 0; pass++) await sweep();
    expect(await leftOf(done)).toEqual(nothing);
    // The ones still owed keep their run, delivery and attempt until it is delivered or gives up.
    expect(await leftOf(waiting[0]!)).toMatchObject({ job: 1, runs: 1, deliveries: 1, logs: 1 });
  });
});

