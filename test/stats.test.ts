/**
 * The overview's figures from the real local D1: rows are made with a clock in 2031 (so no other
 * test's runs fall in its 24-hour window) and the figures read with that clock.
 */
import { env } from "cloudflare:workers";
import { gte, inArray, like } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { getDb } from "../src/db/client";
import { deliveries, jobs, runHours, runs, type DeliveryState, type RunStatus } from "../src/db/schema";
import { meteredEnv, readMeter } from "../src/lib/meter";
import { COUNT_LIMIT, DELIVERY_SAMPLE } from "../src/stats/repository";
import { rollupHours } from "../src/stats/rollup";
import { getRecentStats, getStats } from "../src/stats/service";
import { SHARDS, uniqueWord } from "./support/helpers";

const HOUR = 3_600_000;
const NOW = new Date(Date.UTC(2031, 0, 1, 12, 30));
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * HOUR);
const db = getDb(env.DB);

interface SeedRun {
  status: RunStatus;
  /** Started this many hours before NOW (due then too, unless `dueHoursAgo` says otherwise). */
  startedHoursAgo: number | null;
  /** Finished this many hours before NOW. */
  finishedHoursAgo?: number;
  dueHoursAgo?: number;
  delivery?: DeliveryState;
  /** Its webhook was delivered this long after the run finished. */
  lagMs?: number;
}

const seeded: string[] = [];
afterEach(async () => {
  const ids = seeded.splice(0);
  await db.batch([
    db.delete(deliveries).where(inArray(deliveries.jobId, ids)),
    db.delete(runs).where(inArray(runs.jobId, ids)),
    db.delete(jobs).where(inArray(jobs.id, ids)),
    db.delete(jobs).where(like(jobs.id, "bulk-%")),
    db.delete(runHours).where(gte(runHours.hour, Date.UTC(2031, 0, 1) / HOUR)),
  ]);
});

/** `count` COMPLETED runs of one new job, started and finished at the times given, each with a delivered webhook (50 ms later). */
async function seedRuns(count: number, startedAt: Date, completedAt: Date) {
  const jobId = uniqueWord("many");
  seeded.push(jobId);
  await db.insert(jobs).values({ id: jobId, taskName: jobId, payload: {}, status: "COMPLETED" });
  await env.DB.batch([
    env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
       INSERT INTO runs (jobId, number, status, taskName, payload, priority, dueAt, rank, startedAt, completedAt)
       SELECT ?1, i, 'COMPLETED', ?1, '{}', 'MEDIUM', ?3, ?3, ?3, ?4 FROM n`,
    ).bind(jobId, count, startedAt.getTime(), completedAt.getTime()),
    env.DB.prepare(
      `INSERT INTO deliveries (runId, jobId, webhookId, event, body, state, attempts, createdAt, deliveredAt)
       SELECT id, jobId, 'whd_' || id, 'job.completed', '{}', 'DELIVERED', 1, completedAt, completedAt + 50 FROM runs WHERE jobId = ?1`,
    ).bind(jobId),
  ]);
}

/** `count` jobs of one status, inserted in one statement. */
async function seedJobs(count: number, status: string) {
  const prefix = `bulk-${uniqueWord()}-`;
  await env.DB.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
     INSERT INTO jobs (id, taskName, payload, status) SELECT ?1 || i, 'bulk', '{}', ?3 FROM n`,
  )
    .bind(prefix, count, status)
    .run();
}

async function seed(list: SeedRun[]) {
  const jobId = uniqueWord("stats");
  seeded.push(jobId);
  await db.insert(jobs).values({ id: jobId, taskName: jobId, payload: {}, status: list.at(-1)?.status === "SCHEDULED" ? "SCHEDULED" : "COMPLETED" });
  for (const [i, r] of list.entries()) {
    const startedAt = r.startedHoursAgo === null ? null : hoursAgo(r.startedHoursAgo);
    const completedAt = r.finishedHoursAgo === undefined ? null : hoursAgo(r.finishedHoursAgo);
    const dueAt = hoursAgo(r.dueHoursAgo ?? r.startedHoursAgo ?? 0);
    const [run] = await db
      .insert(runs)
      .values({ jobId, number: i + 1, status: r.status, taskName: jobId, payload: {}, priority: "MEDIUM", dueAt, rank: dueAt.getTime(), startedAt, completedAt, expectedAt: r.status === "IN_PROGRESS" ? NOW : null })
      .returning({ id: runs.id });
    if (!r.delivery) continue;
    const deliveredAt = r.delivery === "DELIVERED" ? new Date(completedAt!.getTime() + (r.lagMs ?? 0)) : null;
    const nextAttemptAt = ["PENDING", "SENDING", "RETRYING"].includes(r.delivery) ? new Date(NOW.getTime() + 60_000) : null;
    await db.insert(deliveries).values({ runId: run!.id, jobId, webhookId: `whd_${jobId}_${i + 1}`, event: "job.completed", url: null, body: "{}", state: r.delivery, attempts: 1, createdAt: completedAt ?? NOW, deliveredAt, nextAttemptAt });
  }
  return jobId;
}

describe("getStats (the figures of /overview and /api/stats)", () => {
  it("counts the runs started and finished in each hour of the last 24, their webhooks by state, and the webhook lag", async () => {
    const before = await getStats(env, NOW);
    await seed([
      { status: "COMPLETED", startedHoursAgo: 3.1, finishedHoursAgo: 3, delivery: "DELIVERED", lagMs: 100 },
      { status: "COMPLETED", startedHoursAgo: 3.2, finishedHoursAgo: 3.1, delivery: "DELIVERED", lagMs: 200 },
      { status: "COMPLETED", startedHoursAgo: 0.5, finishedHoursAgo: 0.25, delivery: "DELIVERED", lagMs: 300 },
      { status: "COMPLETED", startedHoursAgo: 0.4, finishedHoursAgo: 0.2, delivery: "DELIVERED", lagMs: 5000 },
      { status: "FAILED", startedHoursAgo: 1.5, finishedHoursAgo: 1.2, delivery: "RETRYING" },
      { status: "CANCELLED", startedHoursAgo: null, dueHoursAgo: 2, finishedHoursAgo: 2 },
      // Finished before the window: not counted in it.
      { status: "COMPLETED", startedHoursAgo: 30, finishedHoursAgo: 30, delivery: "FAILED" },
      // Started in the window, still running.
      { status: "IN_PROGRESS", startedHoursAgo: 0.1 },
      // Due 40 minutes ago, still waiting for a slot.
      { status: "SCHEDULED", startedHoursAgo: null, dueHoursAgo: 2 / 3 },
    ]);
    const stats = await getStats(env, NOW);

    expect(stats.windowHours).toBe(24);
    expect(stats.since).toEqual(new Date(Date.UTC(2030, 11, 31, 13)));
    expect(stats.runs.hourly).toHaveLength(24);
    const hour = (h: number) => stats.runs.hourly.find((b) => b.hour.getTime() === Date.UTC(2031, 0, 1, h))!;
    expect(hour(9)).toEqual({ hour: new Date(Date.UTC(2031, 0, 1, 9)), started: 2, completed: 2, failed: 0, cancelled: 0 });
    expect(hour(10)).toMatchObject({ started: 0, cancelled: 1 });
    expect(hour(11)).toMatchObject({ started: 1, failed: 1 });
    expect(hour(12)).toMatchObject({ started: 3, completed: 2 });
    expect(stats.runs.totals).toEqual({ started: 6, completed: 4, failed: 1, cancelled: 1 });
    expect(stats.deliveries.byState).toEqual({ PENDING: 0, SENDING: 0, RETRYING: 1, DELIVERED: 4, FAILED: 0 });
    // Lags 100, 200, 300, 5000 ms: p50 is the 2nd smallest, p95 the largest.
    expect(stats.deliveries.lagMs).toEqual({ p50: 200, p95: 5000, samples: 4 });
    expect(stats.deliveries.backlog.retrying - before.deliveries.backlog.retrying).toBe(1);
    expect(stats.runs.inProgress - before.runs.inProgress).toBe(1);
    expect(stats.runs.waiting.count - before.runs.waiting.count).toBe(1);
    expect(stats.runs.waiting.oldestWaitMs).toBeGreaterThanOrEqual(40 * 60_000);
    expect(stats.jobs.total - before.jobs.total).toBe(1);
    // Its row says SCHEDULED (a run waits), and a run of it is in progress: it shows, and counts, IN_PROGRESS.
    expect(stats.jobs.byStatus.IN_PROGRESS - before.jobs.byStatus.IN_PROGRESS).toBe(1);
    expect(stats.jobs.byStatus.SCHEDULED - before.jobs.byStatus.SCHEDULED).toBe(0);
  });

  it("reuses the figures for 10 s, so many open overviews cost one read", async () => {
    const metered = meteredEnv({ ...env, COST_METER: "true" }, "fetch");
    readMeter(true);
    const first = await getRecentStats(metered);
    expect(readMeter(true).d1.roundTrips).toBe(SHARDS);
    expect(await getRecentStats(metered)).toBe(first);
    expect(readMeter(true).d1.roundTrips).toBe(0);
  });

  it("answers zeros and nulls for an empty window", async () => {
    const stats = await getStats(env, new Date(Date.UTC(2040, 0, 1)));
    expect(stats.runs.totals).toEqual({ started: 0, completed: 0, failed: 0, cancelled: 0 });
    expect(stats.deliveries.lagMs).toEqual({ p50: null, p95: null, samples: 0 });
  });

  it("reads in one D1 round trip per shard and writes nothing", async () => {
    const metered = meteredEnv({ ...env, COST_METER: "true" }, "fetch");
    readMeter(true);
    await getStats(metered, new Date(Date.UTC(2040, 0, 1)));
    expect(readMeter(true).d1).toMatchObject({ roundTrips: SHARDS, statements: 10 * SHARDS, rowsWritten: 0 });
  });

  it("shows the same figures once the hours that are over are rolled up, and rolls each hour up once", async () => {
    const at = new Date(Date.UTC(2032, 2, 1, 12, 30));
    const ago = (h: number) => new Date(at.getTime() - h * HOUR);
    await seedRuns(3, ago(3.2), ago(3.1)); // started and finished 3 h ago
    await seedRuns(2, ago(26), ago(2.5)); // started before the window, finished in it
    await seedRuns(4, ago(0.2), ago(0.1)); // in the current hour: never rolled up yet
    const live = await getStats(env, at);
    expect(live.runs.totals).toEqual({ started: 7, completed: 9, failed: 0, cancelled: 0 });

    const metered = meteredEnv({ ...env, COST_METER: "true" }, "scheduled");
    readMeter(true);
    // The 23 hours of the window that are over: one row each (in each shard).
    expect(await rollupHours(metered, at)).toBe(23 * SHARDS);
    expect(readMeter(true).d1.rowsWritten).toBe(23 * SHARDS);
    expect(await getStats(env, at)).toEqual(live);
    // A minute later nothing is due: one row read, nothing written.
    expect(await rollupHours(metered, new Date(at.getTime() + 60_000))).toBe(0);
    expect(readMeter(true).d1).toMatchObject({ rowsRead: SHARDS, rowsWritten: 0 });
    // The current hour is rolled up once it is over (and 5 minutes more).
    expect(await rollupHours(metered, new Date(at.getTime() + 30 * 60_000))).toBe(0);
    expect(await rollupHours(metered, new Date(at.getTime() + 35 * 60_000))).toBe(SHARDS);
    const next = await getStats(env, new Date(at.getTime() + 35 * 60_000));
    expect(next.runs.totals).toEqual(live.runs.totals);
    // A day in which nothing ran: its hours are written too (zeros), so the next pass has nothing to look at.
    const idle = new Date(Date.UTC(2035, 0, 1, 12, 30));
    expect(await rollupHours(metered, idle)).toBe(23 * SHARDS);
    readMeter(true);
    expect(await rollupHours(metered, new Date(idle.getTime() + 60_000))).toBe(0);
    expect(readMeter(true).d1).toMatchObject({ rowsRead: SHARDS, rowsWritten: 0 });
  });

  it("reads as many rows for a window of 1 200 runs as for one of 3 600 once their hours are rolled up", async () => {
    const windowA = new Date(Date.UTC(2032, 5, 1, 12, 30));
    const windowB = new Date(Date.UTC(2032, 6, 1, 12, 30));
    for (const [at, hours] of [[windowA, 3], [windowB, 9]] as const) {
      for (let h = 1; h <= hours; h++) await seedRuns(400, new Date(at.getTime() - (h + 0.5) * HOUR), new Date(at.getTime() - h * HOUR));
    }
    const metered = meteredEnv({ ...env, COST_METER: "true" }, "fetch");
    const rowsRead = async (at: Date) => {
      readMeter(true);
      const stats = await getStats(metered, at);
      return { rows: readMeter(true).d1.rowsRead, completed: stats.runs.totals.completed, sampled: stats.deliveries.sample.runs };
    };
    // Read from the runs themselves, the figures cost in proportion to the window's runs...
    const liveA = await rowsRead(windowA);
    const liveB = await rowsRead(windowB);
    expect([liveA.completed, liveB.completed]).toEqual([1200, 3600]);
    expect(liveB.rows - liveA.rows).toBeGreaterThan(2400);
    // ... and once rolled up, the same: 24 hour rows and the latest 1 000 runs with their webhooks.
    await rollupHours(env, windowA);
    await rollupHours(env, windowB);
    const rolledA = await rowsRead(windowA);
    const rolledB = await rowsRead(windowB);
    expect([rolledA.completed, rolledB.completed]).toEqual([1200, 3600]);
    expect([rolledA.sampled, rolledB.sampled]).toEqual([DELIVERY_SAMPLE, DELIVERY_SAMPLE]);
    // (Within a row or two: a range scan reads the entry past its end, when there is one.)
    expect(Math.abs(rolledB.rows - rolledA.rows)).toBeLessThanOrEqual(2 * SHARDS);
  });

  it("counts jobs by status up to 10 000 each: the count reads no more with twice as many jobs", async () => {
    const metered = meteredEnv({ ...env, COST_METER: "true" }, "fetch");
    const read = async () => {
      readMeter(true);
      const stats = await getStats(metered, new Date(Date.UTC(2040, 0, 1)));
      return { rows: readMeter(true).d1.rowsRead, stats };
    };
    await seedJobs(COUNT_LIMIT, "CANCELLED");
    const first = await read();
    await seedJobs(COUNT_LIMIT, "CANCELLED");
    const second = await read();
    expect(second.stats.jobs.byStatus.CANCELLED).toBe(COUNT_LIMIT);
    expect(second.stats.jobs.totalExact).toBe(false);
    expect(second.rows).toBe(first.rows);
  });
});
