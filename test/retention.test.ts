/**
 * Retention on the real local D1: which runs, deliveries and log rows an hourly pass deletes and which
 * it keeps, in bounded batches, with a report that matches what went. Rows are made with a clock in
 * 2001 (so no other test's rows are old enough to be touched) and the pass is run with that clock.
 */
import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { inArray } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../src/db/client";
import { cursors, deliveries, idempotencyKeys, jobs, runs, webhookLogs, type DeliveryState, type RunStatus } from "../src/db/schema";
import type { Env } from "../src/env";
import { retention, RETENTION_CRON, RETENTION_LIMITS, type RetentionLimits } from "../src/background/retention";
import worker from "../src/index";
import { readMeter } from "../src/lib/meter";
import { call, SHARDS, uniqueWord } from "./support/helpers";

const DAY = 86_400_000;
const NOW = new Date(Date.UTC(2001, 5, 1, 12, 17));
const daysAgo = (days: number) => new Date(NOW.getTime() - days * DAY);
const db = getDb(env.DB);

interface SeedRun {
  status: RunStatus;
  /** When it finished (or, unfinished, was due), in days before NOW. */
  age: number;
  /** Its delivery's state; none: no delivery (a cancelled run, say). */
  delivery?: DeliveryState;
  /** Log rows of its delivery (one by default when it has one). */
  logs?: number;
}

const seeded: string[] = [];
afterEach(async () => {
  // Tidy up so each test starts with no aged rows and the walk at its start.
  const ids = seeded.splice(0);
  await db.batch([
    db.delete(webhookLogs).where(inArray(webhookLogs.jobId, ids)),
    db.delete(deliveries).where(inArray(deliveries.jobId, ids)),
    db.delete(runs).where(inArray(runs.jobId, ids)),
    db.delete(jobs).where(inArray(jobs.id, ids)),
    db.delete(cursors),
  ]);
});

/** A job with these runs (numbered in order); the job shows the last one unless `latest` says which. */
async function seedJob(list: SeedRun[], { latest = list.length - 1 }: { latest?: number | null } = {}) {
  const jobId = uniqueWord("ret");
  seeded.push(jobId);
  await db.insert(jobs).values({ id: jobId, taskName: jobId, payload: {}, createdAt: daysAgo(400), updatedAt: daysAgo(400) });
  const ids: number[] = [];
  for (const [i, r] of list.entries()) {
    const at = daysAgo(r.age);
    const finished = !["SCHEDULED", "IN_PROGRESS"].includes(r.status);
    const [run] = await db
      .insert(runs)
      .values({ jobId, number: i + 1, status: r.status, taskName: jobId, payload: {}, priority: "MEDIUM", dueAt: at, startedAt: at, completedAt: finished ? at : null })
      .returning({ id: runs.id });
    ids.push(run!.id);
    if (!r.delivery) continue;
    const webhookId = `whd_${jobId}_${i + 1}`;
    await db.insert(deliveries).values({ runId: run!.id, jobId, webhookId, event: "job.completed", url: "https://hooks.example/in", body: "{}", state: r.delivery, attempts: r.logs ?? 1, createdAt: at });
    const logs = Array.from({ length: r.logs ?? 1 }, (_, n) => ({ jobId, runId: run!.id, deliveryId: webhookId, attempt: n + 1, url: "https://hooks.example/in", durationMs: 5, sentAt: at }));
    if (logs.length > 0) await db.insert(webhookLogs).values(logs);
  }
  if (latest !== null) await db.update(jobs).set({ latestRunId: ids[latest] }).where(inArray(jobs.id, [jobId]));
  return { jobId, runIds: ids };
}

/** What is left of the job: its runs' numbers, deliveries' run ids and log rows' run ids. */
async function left(jobId: string) {
  const [r, d, l] = await db.batch([
    db.select({ id: runs.id, number: runs.number }).from(runs).where(inArray(runs.jobId, [jobId])).orderBy(runs.number),
    db.select({ runId: deliveries.runId }).from(deliveries).where(inArray(deliveries.jobId, [jobId])),
    db.select({ runId: webhookLogs.runId }).from(webhookLogs).where(inArray(webhookLogs.jobId, [jobId])),
  ]);
  return { runs: r.map((x) => x.number), deliveries: d.length, logs: l.length, runIds: r.map((x) => x.id), logRunIds: l.map((x) => x.runId) };
}

const limits = (overrides: Partial<RetentionLimits>): RetentionLimits => ({ ...RETENTION_LIMITS, ...overrides });

describe("retention (RETENTION_DAYS, default 30)", () => {
  it("deletes finished runs older than 30 days with their deliveries and log rows, and keeps the recent ones", async () => {
    const { jobId } = await seedJob([
      { status: "COMPLETED", age: 90, delivery: "DELIVERED", logs: 3 },
      { status: "FAILED", age: 31, delivery: "FAILED", logs: 8 },
      { status: "CANCELLED", age: 45 },
      { status: "COMPLETED", age: 29, delivery: "DELIVERED" },
      { status: "COMPLETED", age: 1, delivery: "DELIVERED" },
    ]);
    const report = await retention(env, NOW);
    expect(report).toEqual({ runsDeleted: 3, deliveriesDeleted: 2, logsDeleted: 11, idempotencyKeysDeleted: 0, behind: 0 });
    expect(await left(jobId)).toMatchObject({ runs: [4, 5], deliveries: 2, logs: 2 });
  });

  it("always keeps a job's latest run (the one it shows), however old, with its delivery and log", async () => {
    const { jobId } = await seedJob([
      { status: "COMPLETED", age: 400, delivery: "DELIVERED" },
      { status: "FAILED", age: 300, delivery: "FAILED", logs: 2 },
    ]);
    expect(await retention(env, NOW)).toMatchObject({ runsDeleted: 1, deliveriesDeleted: 1, logsDeleted: 1 });
    expect(await left(jobId)).toMatchObject({ runs: [2], deliveries: 1, logs: 2 });
    // Through the API, the job still shows its last result.
    const job = (await call("GET", `/api/jobs/${jobId}`)).body.data;
    expect(job.latestRun).toMatchObject({ number: 2, status: "FAILED", delivery: { state: "FAILED" } });
  });

  it("keeps a run whose webhook is still under way (PENDING, SENDING, RETRYING), and the runs that have not finished", async () => {
    const { jobId } = await seedJob([
      { status: "COMPLETED", age: 60, delivery: "PENDING", logs: 0 },
      { status: "COMPLETED", age: 60, delivery: "SENDING" },
      { status: "FAILED", age: 60, delivery: "RETRYING", logs: 4 },
      { status: "IN_PROGRESS", age: 60 },
      { status: "SCHEDULED", age: 60 },
      { status: "COMPLETED", age: 60, delivery: "DELIVERED" },
      { status: "COMPLETED", age: 2, delivery: "DELIVERED" },
    ]);
    expect(await retention(env, NOW)).toMatchObject({ runsDeleted: 1, deliveriesDeleted: 1, logsDeleted: 1 });
    expect(await left(jobId)).toMatchObject({ runs: [1, 2, 3, 4, 5, 7], deliveries: 4, logs: 6 });
  });

  it("keeps an old run whose webhook was redelivered recently, with every attempt, until that attempt is old too", async () => {
    const { jobId, runIds } = await seedJob([
      { status: "COMPLETED", age: 90, delivery: "DELIVERED", logs: 1 },
      { status: "COMPLETED", age: 1, delivery: "DELIVERED" },
    ]);
    // Redelivered by hand yesterday: a second series, its attempt logged now.
    await db.insert(webhookLogs).values({ jobId, runId: runIds[0]!, deliveryId: `whd_${jobId}_1`, series: 2, attempt: 1, url: "https://hooks.example/in", durationMs: 5, sentAt: daysAgo(1) });
    expect(await retention(env, NOW)).toMatchObject({ runsDeleted: 0, logsDeleted: 0 });
    expect(await left(jobId)).toMatchObject({ runs: [1, 2], logs: 3 });
    // 30 days after that attempt, the run goes with both series.
    expect(await retention(env, new Date(NOW.getTime() + 31 * DAY))).toMatchObject({ runsDeleted: 1, logsDeleted: 2 });
  });

  it("keeps a job's highest-numbered run even when the job shows another, so no run number (webhook-id) is ever used twice", async () => {
    const { jobId } = await seedJob(
      [
        { status: "COMPLETED", age: 90, delivery: "DELIVERED" },
        { status: "COMPLETED", age: 80, delivery: "DELIVERED" },
        // An occurrence cancelled by a pause, with its job.cancelled webhook: whd_<job>_3 was delivered.
        { status: "CANCELLED", age: 70, delivery: "DELIVERED" },
      ],
      { latest: 1 },
    );
    expect(await retention(env, NOW)).toMatchObject({ runsDeleted: 1 });
    expect((await left(jobId)).runs).toEqual([2, 3]);
  });

  it("keeps everything with RETENTION_DAYS=0", async () => {
    const { jobId } = await seedJob([
      { status: "COMPLETED", age: 4000, delivery: "DELIVERED", logs: 2 },
      { status: "COMPLETED", age: 3000, delivery: "DELIVERED" },
    ]);
    const keepAll: Env = { ...env, RETENTION_DAYS: "0" };
    expect(await retention(keepAll, NOW)).toEqual({ runsDeleted: 0, deliveriesDeleted: 0, logsDeleted: 0, idempotencyKeysDeleted: 0, behind: 0 });
    expect(await left(jobId)).toMatchObject({ runs: [1, 2], deliveries: 2, logs: 3 });
  });

  it("reads RETENTION_DAYS: 7 deletes what is older than a week", async () => {
    const { jobId } = await seedJob([
      { status: "COMPLETED", age: 8, delivery: "DELIVERED" },
      { status: "COMPLETED", age: 6, delivery: "DELIVERED" },
      { status: "COMPLETED", age: 0, delivery: "DELIVERED" },
    ]);
    expect(await retention({ ...env, RETENTION_DAYS: "7" }, NOW)).toMatchObject({ runsDeleted: 1 });
    expect((await left(jobId)).runs).toEqual([2, 3]);
  });

  it("deletes expired Idempotency-Key records (older than 24 h) and keeps live ones", async () => {
    const { jobId } = await seedJob([{ status: "COMPLETED", age: 0, delivery: "DELIVERED" }]);
    const [old, live] = [uniqueWord("key"), uniqueWord("key")];
    await db.insert(idempotencyKeys).values([
      { key: old, requestHash: "x", jobId, createdAt: new Date(NOW.getTime() - 25 * 3600_000) },
      { key: live, requestHash: "x", jobId, createdAt: new Date(NOW.getTime() - 23 * 3600_000) },
    ]);
    expect(await retention(env, NOW)).toMatchObject({ idempotencyKeysDeleted: 1 });
    const keys = await db.select({ key: idempotencyKeys.key }).from(idempotencyKeys).where(inArray(idempotencyKeys.key, [old, live]));
    expect(keys.map((k) => k.key)).toEqual([live]);
  });
});

describe("retention in bounded batches", () => {
  const oldRuns = (n: number): SeedRun[] => Array.from({ length: n }, (_, i) => ({ status: "COMPLETED", age: 100 - i, delivery: "DELIVERED", logs: 2 }));

  it("deletes at most a batch per pass: the next pass deletes the rest, then there is nothing left to do", async () => {
    const { jobId } = await seedJob([...oldRuns(7), { status: "COMPLETED", age: 1, delivery: "DELIVERED" }]);
    const onePerPass = limits({ runBatch: 3, maxBatches: 1 });
    const reports = [];
    for (let pass = 0; pass < 4; pass++) reports.push(await retention(env, NOW, onePerPass));
    expect(reports.map((r) => [r.runsDeleted, r.deliveriesDeleted, r.logsDeleted])).toEqual([
      [3, 3, 6],
      [3, 3, 6],
      [1, 1, 2],
      [0, 0, 0],
    ]);
    expect(await left(jobId)).toMatchObject({ runs: [8], deliveries: 1, logs: 1 });
  });

  it("runs several batches in one pass, up to maxBatches", async () => {
    const { jobId } = await seedJob([...oldRuns(7), { status: "COMPLETED", age: 1, delivery: "DELIVERED" }]);
    expect(await retention(env, NOW, limits({ runBatch: 3, maxBatches: 2 }))).toMatchObject({ runsDeleted: 6 });
    expect(await retention(env, NOW, limits({ runBatch: 3, maxBatches: 2 }))).toMatchObject({ runsDeleted: 1 });
    expect((await left(jobId)).runs).toEqual([8]);
  });

  it("goes on past the runs it keeps (jobs' latest runs) instead of reading them again at the head of every pass", async () => {
    // Four jobs whose only (so latest) run is older than everything else (all finished at the same
    // millisecond: the walk's position is (completedAt, id)), then a job with three old runs.
    for (let i = 0; i < 4; i++) await seedJob([{ status: "COMPLETED", age: 200, delivery: "DELIVERED" }]);
    const { jobId } = await seedJob([...oldRuns(3), { status: "COMPLETED", age: 1, delivery: "DELIVERED" }]);
    const twoPerPass = limits({ runBatch: 2, maxBatches: 1 });
    const deleted = [];
    for (let pass = 0; pass < 4; pass++) deleted.push((await retention(env, NOW, twoPerPass)).runsDeleted);
    expect(deleted).toEqual([0, 0, 2, 1]);
    expect((await left(jobId)).runs).toEqual([4]);
  });

  it("starts again from the oldest at the end of a walk: a run kept then goes once its job has run again", async () => {
    const { jobId, runIds } = await seedJob([{ status: "COMPLETED", age: 200, delivery: "DELIVERED" }]);
    expect((await retention(env, NOW)).runsDeleted).toBe(0);
    // The job runs again: the old run is no longer what it shows.
    const [next] = await db.insert(runs).values({ jobId, number: 2, status: "COMPLETED", taskName: jobId, payload: {}, priority: "MEDIUM", dueAt: NOW, completedAt: NOW }).returning({ id: runs.id });
    await db.update(jobs).set({ latestRunId: next!.id }).where(inArray(jobs.id, [jobId]));
    expect(await retention(env, NOW)).toMatchObject({ runsDeleted: 1, deliveriesDeleted: 1, logsDeleted: 1 });
    expect((await left(jobId)).runIds).toEqual([next!.id]);
    expect(runIds).toHaveLength(1);
  });

  it("caps the log rows per batch: a run with a longer log goes in a later pass, and no log row outlives its run", async () => {
    const { jobId, runIds } = await seedJob([{ status: "FAILED", age: 90, delivery: "FAILED", logs: 5 }, { status: "COMPLETED", age: 1, delivery: "DELIVERED" }]);
    const twoLogs = limits({ logBatch: 2, maxBatches: 1 });
    const reports = [];
    for (let pass = 0; pass < 4; pass++) {
      reports.push(await retention(env, NOW, twoLogs));
      const now = await left(jobId);
      // Its log rows go first; the run and its delivery stay until the last of them is gone.
      if (now.logRunIds.includes(runIds[0]!)) expect(now.runIds).toContain(runIds[0]);
    }
    expect(reports.map((r) => [r.runsDeleted, r.deliveriesDeleted, r.logsDeleted])).toEqual([
      [0, 0, 2],
      [0, 0, 2],
      [1, 1, 1],
      [0, 0, 0],
    ]);
    expect(await left(jobId)).toMatchObject({ runs: [2], deliveries: 1, logs: 1 });
  });
});

describe("the retention Cron Trigger", () => {
  const fire = (cron: string, withEnv: Env = env) => worker.scheduled(createScheduledController({ scheduledTime: NOW.getTime(), cron }), withEnv);

  it("keeps going while it is behind: a pass cut short by its limits has every sweep run another until it has caught up", async () => {
    // More aged runs than one hourly pass deletes (60 batches of 500), each with its webhook and one attempt.
    const { jobId } = await seedJob([{ status: "COMPLETED", age: 1, delivery: "DELIVERED" }]);
    const aged = RETENTION_LIMITS.maxBatches * RETENTION_LIMITS.runBatch + 1000;
    await env.DB.batch([
      env.DB.prepare(
        `INSERT INTO runs (jobId, number, status, taskName, payload, priority, dueAt, startedAt, completedAt)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
         SELECT ?1, 1 + i, 'COMPLETED', 'aged', '{}', 'MEDIUM', ?3 + i, ?3 + i, ?3 + i FROM n`,
      ).bind(jobId, aged, daysAgo(90).getTime()),
      env.DB.prepare(
        `INSERT INTO deliveries (runId, jobId, webhookId, event, url, body, state, attempts, createdAt)
         SELECT id, jobId, 'whd_' || jobId || '_' || number, 'job.completed', 'https://hooks.example/in', '{}', 'DELIVERED', 1, completedAt FROM runs WHERE jobId = ?1 AND number > 1`,
      ).bind(jobId),
      env.DB.prepare(
        `INSERT INTO webhook_logs (jobId, runId, deliveryId, attempt, url, durationMs, sentAt)
         SELECT jobId, id, 'whd_' || jobId || '_' || number, 1, 'https://hooks.example/in', 5, completedAt FROM runs WHERE jobId = ?1 AND number > 1`,
      ).bind(jobId),
    ]);
    const runsLeft = async () => (await env.DB.prepare("SELECT count(*) AS n FROM runs WHERE jobId = ?").bind(jobId).first<{ n: number }>())!.n;
    const behind = async () => (await env.DB.prepare("SELECT count(*) AS n FROM cursors WHERE name = 'retention.behind'").first<{ n: number }>())!.n;

    // Before: the per-minute sweep leaves retention to its hourly pass.
    await fire("* * * * *");
    expect(await runsLeft()).toBe(aged + 1);
    await fire(RETENTION_CRON);
    expect(await behind()).toBe(1);
    const afterHourly = await runsLeft();
    expect(afterHourly).toBeLessThan(aged + 1);
    expect(afterHourly).toBeGreaterThan(1);
    // Then each sweep takes another pass, until only the job's latest run (and its highest number) is left.
    for (let sweep = 0; sweep < 5 && (await behind()) === 1; sweep++) await fire("* * * * *");
    expect(await behind()).toBe(0);
    expect(await runsLeft()).toBe(2);
    // Caught up: the sweep leaves retention to its hourly pass again (a run that ages meanwhile waits for it).
    await db.insert(runs).values({ jobId, number: aged + 5, status: "COMPLETED", taskName: jobId, payload: {}, priority: "MEDIUM", dueAt: daysAgo(90), completedAt: daysAgo(90) });
    await fire("* * * * *");
    expect(await runsLeft()).toBe(3);
  }, 60_000);

  it("runs retention on its own cron and logs one line with what it removed; the per-minute sweep deletes nothing", async () => {
    const { jobId } = await seedJob([{ status: "COMPLETED", age: 90, delivery: "DELIVERED", logs: 2 }, { status: "COMPLETED", age: 1, delivery: "DELIVERED" }]);
    const log = vi.spyOn(console, "log");
    const retentionLines = () => log.mock.calls.map((c) => c[0]).filter((line) => typeof line === "string" && line.startsWith('{"event":"retention"'));
    try {
      await fire("* * * * *");
      expect((await left(jobId)).runs).toEqual([1, 2]);
      expect(retentionLines()).toEqual([]);
      await fire(RETENTION_CRON);
      expect((await left(jobId)).runs).toEqual([2]);
      expect(retentionLines()).toEqual([JSON.stringify({ event: "retention", runsDeleted: 1, deliveriesDeleted: 1, logsDeleted: 2, idempotencyKeysDeleted: 0, behind: 0 })]);
      // Nothing left to do: no line.
      await fire(RETENTION_CRON);
      expect(retentionLines()).toHaveLength(1);
    } finally {
      log.mockRestore();
    }
  });

  it("under a bad RETENTION_DAYS deletes nothing and says why", async () => {
    const { jobId } = await seedJob([{ status: "COMPLETED", age: 90, delivery: "DELIVERED" }, { status: "COMPLETED", age: 1 }]);
    const error = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      await fire(RETENTION_CRON, { ...env, RETENTION_DAYS: "-3" });
      expect(error.mock.calls.flat().join(" ")).toMatch(/retention skipped until the configuration is fixed: .*RETENTION_DAYS/);
    } finally {
      error.mockRestore();
    }
    expect((await left(jobId)).runs).toEqual([1, 2]);
  });

  it("costs an index probe or two when there is nothing to delete, and rows in proportion to what it deletes", async () => {
    const metered: Env = { ...env, COST_METER: "true" };
    readMeter(true);
    await fire(RETENTION_CRON, metered);
    const idle = readMeter(true).d1;
    expect(idle.rowsWritten).toBe(0);
    expect(idle.rowsRead).toBeLessThan(5 * SHARDS);
    expect(idle.roundTrips).toBe(2 * SHARDS);

    await seedJob([...Array.from({ length: 50 }, (): SeedRun => ({ status: "COMPLETED", age: 60, delivery: "DELIVERED" })), { status: "COMPLETED", age: 1 }]);
    readMeter(true);
    await fire(RETENTION_CRON, metered);
    const busy = readMeter(true).d1;
    console.log(`retention cost: idle pass ${JSON.stringify(idle)}; 50 runs with a delivery and a log row each ${JSON.stringify(busy)}`);
    // The walk's position and expired keys, the window of aged runs, one batch of deletions (and the other
    // shards' idle passes, when there are several).
    expect(busy.roundTrips).toBe(3 + 2 * (SHARDS - 1));
    // Each row deleted is one row written (none of them the newest run or log row: no high-water mark is
    // written, db/ids.ts); reads are index lookups, a few dozen per run at most (the high-water triggers
    // probe two entries per row deleted).
    expect(busy.rowsWritten).toBe(150);
    expect(busy.rowsRead).toBeLessThan(50 * 45);
  });
});
