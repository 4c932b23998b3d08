/**
 * The overview's figures, read from the records themselves in one D1 round trip: no counter is
 * written on the lifecycle's path (a job costs what it did before). Every read goes through an index:
 * jobs by status (jobs_status_idx, index only), runs finished in the window (runs_finished_idx, by
 * completion time), runs in progress and waiting (their partial indexes), unfinished deliveries
 * (deliveries_next_attempt_idx). So a read costs about three rows per run finished in the window.
 */
import { count, sql } from "drizzle-orm";
import type { AnySQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db } from "../db/client";
import { deliveries, jobs, runs } from "../db/schema";
import { notDeleted } from "../jobs/repository";
import { dueBy, finished, inProgress } from "../runs/transitions";

export const HOUR_MS = 3_600_000;

/** The hour (ms since the epoch / 1 h) a time falls in. */
// (A literal, not a bound parameter: D1 binds a JS number as REAL, which would make the division a real one.)
const hourOf = (column: AnySQLiteColumn) => sql<number>`${column} / ${sql.raw(String(HOUR_MS))}`;

/** The window's finished runs (from runs_finished_idx), joined to their deliveries. */
const finishedSince = (since: number) => sql`${finished} AND ${runs.completedAt} >= ${since}`;

export function statsQueries(db: Db, since: number, now: number) {
  const finishedHour = hourOf(runs.completedAt);
  const startedHour = hourOf(runs.startedAt);
  // Webhook lag (run finished -> webhook delivered) of the window's delivered webhooks, ranked.
  const ranked = sql`(
    SELECT
      d.deliveredAt - ${runs.completedAt} AS ms,
      row_number() OVER (ORDER BY d.deliveredAt - ${runs.completedAt}) AS rank,
      count(*) OVER () AS total
    FROM ${runs}
    JOIN ${deliveries} AS d ON d.runId = ${runs.id}
    WHERE ${finishedSince(since)}
      AND d.state = 'DELIVERED'
  ) AS ranked`;
  return [
    db.select({ status: jobs.status, n: count() }).from(jobs).where(notDeleted).groupBy(jobs.status),

    // Runs finished in the window, per hour and status.
    db.select({ hour: finishedHour, status: runs.status, n: count() }).from(runs).where(finishedSince(since)).groupBy(finishedHour, runs.status),

    // Runs started in the window, per hour: the finished ones among them finished in it too...
    db
      .select({ hour: startedHour, n: count() })
      .from(runs)
      .where(sql`${finishedSince(since)} AND ${runs.startedAt} >= ${since}`)
      .groupBy(startedHour),
    // ... and the others are in progress.
    db
      .select({ hour: startedHour, n: count() })
      .from(runs)
      .where(sql`${inProgress} AND ${runs.startedAt} >= ${since}`)
      .groupBy(startedHour),

    // The webhooks of the runs finished in the window, by state.
    db
      .select({ state: deliveries.state, n: count() })
      .from(runs)
      .innerJoin(deliveries, sql`${deliveries.runId} = ${runs.id}`)
      .where(finishedSince(since))
      .groupBy(deliveries.state),

    // p50 and p95: the smallest lag at or past each rank.
    db
      .select({
        p50: sql<number | null>`min(ms) FILTER (WHERE rank >= 0.50 * total)`,
        p95: sql<number | null>`min(ms) FILTER (WHERE rank >= 0.95 * total)`,
        samples: count(),
      })
      .from(ranked),

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

