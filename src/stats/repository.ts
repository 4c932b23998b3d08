/**
 * The overview's figures, read from the records themselves in one D1 round trip: no counter is
 * written on the lifecycle's path (a job costs what it did before). Every read goes through an index:
 * jobs by status (jobs_status_idx, index only), runs finished in the window (runs_finished_idx, by
 * completion time), runs in progress and waiting (their partial indexes), unfinished deliveries
 * (deliveries_next_attempt_idx). So a read costs about three rows per run finished in the window.
 */
import { count, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { deliveries, jobs, runs, type DeliveryState, type JobStatus, type RunStatus } from "../db/schema";
import { dueBy, inProgress } from "../runs/transitions";

export const HOUR_MS = 3_600_000;

/** Finished, as runs_finished_idx's condition says it (the planner uses the index only when it is repeated). */
const finished = sql`${runs.status} IN ('COMPLETED', 'FAILED', 'CANCELLED')`;

export interface HourRow {
  hour: number;
  status: RunStatus;
  n: number;
}

export function statsQueries(db: Db, since: number, now: number) {
  return [
    db.select({ status: jobs.status, n: count() }).from(jobs).groupBy(jobs.status),

    // Runs finished in the window, per hour and status.
    db.all<{ hour: number; status: RunStatus; n: number }>(sql`
      SELECT ${runs.completedAt} / ${HOUR_MS} AS hour, ${runs.status} AS status, count(*) AS n
      FROM ${runs}
      WHERE ${finished}
        AND ${runs.completedAt} >= ${since}
      GROUP BY hour, status`),

    // Runs started in the window, per hour: the finished ones among them finished in it too, and the
    // others are in progress.
    db.all<{ hour: number; n: number }>(sql`
      WITH started AS (
        SELECT ${runs.startedAt} AS at
        FROM ${runs}
        WHERE ${finished}
          AND ${runs.completedAt} >= ${since}
          AND ${runs.startedAt} >= ${since}
        UNION ALL
        SELECT ${runs.startedAt}
        FROM ${runs}
        WHERE ${inProgress}
          AND ${runs.startedAt} >= ${since}
      )
      SELECT at / ${HOUR_MS} AS hour, count(*) AS n
      FROM started
      GROUP BY hour`),

    // The webhooks of the runs finished in the window, by state.
    db.all<{ state: DeliveryState; n: number }>(sql`
      SELECT d.state AS state, count(*) AS n
      FROM ${runs}
      JOIN ${deliveries} AS d ON d.runId = ${runs.id}
      WHERE ${finished}
        AND ${runs.completedAt} >= ${since}
      GROUP BY d.state`),

    // Webhook lag (run finished -> webhook delivered) of the window's delivered webhooks: p50 and p95
    // as the smallest lag at or past each rank.
    db.all<{ p50: number | null; p95: number | null; samples: number }>(sql`
      WITH lags AS (
        SELECT d.deliveredAt - ${runs.completedAt} AS ms
        FROM ${runs}
        JOIN ${deliveries} AS d ON d.runId = ${runs.id}
        WHERE ${finished}
          AND ${runs.completedAt} >= ${since}
          AND d.state = 'DELIVERED'
      ),
      ranked AS (
        SELECT ms, row_number() OVER (ORDER BY ms) AS rank, count(*) OVER () AS total
        FROM lags
      )
      SELECT
        min(ms) FILTER (WHERE rank >= 0.50 * total) AS p50,
        min(ms) FILTER (WHERE rank >= 0.95 * total) AS p95,
        count(*) AS samples
      FROM ranked`),

    // Deliveries not finished (whatever their age): waiting for a first attempt, under way, to retry.
    db
      .select({ state: deliveries.state, n: count(), oldest: sql<number | null>`min(${deliveries.nextAttemptAt})` })
      .from(deliveries)
      .where(sql`${deliveries.nextAttemptAt} IS NOT NULL`)
      .groupBy(deliveries.state),

    // Runs in progress, and due runs waiting for a slot or their start: how many, the oldest due time.
    db.select({ n: count() }).from(runs).where(inProgress),
    db.select({ n: count(), oldest: sql<number | null>`min(${runs.dueAt})` }).from(runs).where(dueBy(now)),
  ] as const;
}

export type JobCounts = { status: JobStatus; n: number }[];
