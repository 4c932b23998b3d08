/**
 * The overview's figures from the real local D1: rows are made with a clock in 2031 (so no other
 * test's runs fall in its 24-hour window) and the figures read with that clock.
 */
import { env } from "cloudflare:workers";
import { inArray } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { getDb } from "../src/db/client";
import { deliveries, jobs, runs, type DeliveryState, type RunStatus } from "../src/db/schema";
import { meteredEnv, readMeter } from "../src/lib/meter";
import { getRecentStats, getStats } from "../src/stats/service";
import { uniqueWord } from "./support/helpers";

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
  await db.batch([db.delete(deliveries).where(inArray(deliveries.jobId, ids)), db.delete(runs).where(inArray(runs.jobId, ids)), db.delete(jobs).where(inArray(jobs.id, ids))]);
});

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
    expect(stats.jobs.byStatus.SCHEDULED - before.jobs.byStatus.SCHEDULED).toBe(1);
  });

  it("reuses the figures for 10 s, so many open overviews cost one read", async () => {
    const metered = meteredEnv({ ...env, COST_METER: "true" }, "fetch");
    readMeter(true);
    const first = await getRecentStats(metered);
    expect(readMeter(true).d1.roundTrips).toBe(1);
    expect(await getRecentStats(metered)).toBe(first);
    expect(readMeter(true).d1.roundTrips).toBe(0);
  });

  it("answers zeros and nulls for an empty window", async () => {
    const stats = await getStats(env, new Date(Date.UTC(2040, 0, 1)));
    expect(stats.runs.totals).toEqual({ started: 0, completed: 0, failed: 0, cancelled: 0 });
    expect(stats.deliveries.lagMs).toEqual({ p50: null, p95: null, samples: 0 });
  });

  it("reads in one D1 round trip, writes nothing, and reads rows in proportion to the window's runs, not the tables", async () => {
    const metered = meteredEnv({ ...env, COST_METER: "true" }, "fetch");
    readMeter(true);
    await getStats(metered, new Date(Date.UTC(2040, 0, 1)));
    const empty = readMeter(true).d1;
    expect(empty).toMatchObject({ roundTrips: 1, statements: 9, rowsWritten: 0 });
    await seed(Array.from({ length: 20 }, (_, i) => ({ status: "COMPLETED" as const, startedHoursAgo: 2, finishedHoursAgo: 1 + i / 100, delivery: "DELIVERED" as const, lagMs: 50 })));
    readMeter(true);
    await getStats(metered, NOW);
    const busy = readMeter(true).d1;
    expect(busy.roundTrips).toBe(1);
    // Each of the window's 20 runs is read by the four window queries, its delivery by two, and the
    // lag's ranking reads its rows again: about 14 rows per run; none of the runs outside the window.
    expect(busy.rowsRead - empty.rowsRead).toBeGreaterThanOrEqual(20 * 4);
    expect(busy.rowsRead - empty.rowsRead).toBeLessThanOrEqual(20 * 15);
  });
});
