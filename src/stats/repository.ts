/**
 * The overview's figures in one D1 round trip, each read bounded: no counter is written on the
 * lifecycle's path (the overview adds no write to a job), and no read grows with the tables.
 * - Jobs by status: each status counted through jobs_status_idx (IN_PROGRESS through its runs in
 *   progress) up to COUNT_LIMIT ("10 000+").
 * - Runs per hour: the hours that are over from run_hours (24 rows, written by the rollup pass), the
 *   rest (the current hour, until it is rolled up) from runs_finished_idx and runs_in_progress_idx.
 * - Webhooks by state and their lag: the latest DELIVERY_SAMPLE runs finished in the window.
 * - Runs in progress, due runs waiting, deliveries under way: their partial indexes, up to COUNT_LIMIT.
 */
import { and, count, gte, lt, sql, type SQL } from "drizzle-orm";
import type { AnySQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db } from "../db/client";
import { deliveries, JOB_STATUSES, jobs, runHours, runs, type DeliveryState, type JobStatus, type RunHour, type RunStatus } from "../db/schema";
import { dueBy, finished, inProgress } from "../runs/conditions";
import { statusIs } from "../jobs/state";
import { firstAttemptsInFlight, leaseOf } from "../webhooks/deliveries";

export const HOUR_MS = 3_600_000;
/** Counts stop here: a figure of COUNT_LIMIT means that many or more. */
export const COUNT_LIMIT = 10_000;
/** The webhook figures cover the latest runs finished in the window, at most this many. */
export const DELIVERY_SAMPLE = 1_000;

/** A whole number written into the statement (D1 binds a JS number as REAL: a division by it would be a real one). */
const int = (n: number) => sql.raw(String(Math.trunc(n)));

/** The hour (ms since the epoch / 1 h) a time falls in. */
const hourOf = (column: AnySQLiteColumn) => sql<number>`${column} / ${int(HOUR_MS)}`;

const finishedSince = (since: SQL) => sql`${finished} AND ${runs.completedAt} >= ${since}`;
const before = (column: AnySQLiteColumn, until: SQL | null) => (until === null ? sql`1` : sql`${column} < ${until}`);

/**
 * Runs per hour from `from` until `until` (ms), for a db.batch(): finished by hour and status (from
 * runs_finished_idx); started, of those finished since `from` (until `finishedBy`; null: whenever) and
 * of those in progress (a run that started is one or the other).
 */
export function hourFigures(db: Db, from: SQL, until: SQL, finishedBy: SQL | null) {
  const finishedHour = hourOf(runs.completedAt);
  const startedHour = hourOf(runs.startedAt);
  const startedIn = sql`${runs.startedAt} >= ${from} AND ${before(runs.startedAt, until)}`;
  return [
    db
      .select({ hour: finishedHour, status: runs.status, n: count() })
      .from(runs)
      .where(sql`${finishedSince(from)} AND ${before(runs.completedAt, until)}`)
      .groupBy(finishedHour, runs.status),
    db
      .select({ hour: startedHour, n: count() })
      .from(runs)
      .where(sql`${finishedSince(from)} AND ${before(runs.completedAt, finishedBy)} AND ${startedIn}`)
      .groupBy(startedHour),
    db
      .select({ hour: startedHour, n: count() })
      .from(runs)
      .where(sql`${inProgress} AND ${startedIn}`)
      .groupBy(startedHour),
  ] as const;
}

export type HourFigureRows = readonly [
  { hour: number; status: RunStatus; n: number }[],
  { hour: number; n: number }[],
  { hour: number; n: number }[],
];

/** The latest hour rolled up (a probe of run_hours' primary key). */
export const latestRolledHour = (db: Db) => db.select({ hour: sql<number | null>`max(${runHours.hour})` }).from(runHours);

/**
 * Writes hours rolled up, for a db.batch() (16 rows a statement: D1 binds at most 100 parameters); an
 * hour already written (two sweeps at once) is left as it is.
 */
export function insertHours(db: Db, hours: RunHour[]) {
  const chunks = [];
  for (let i = 0; i < hours.length; i += 16) chunks.push(db.insert(runHours).values(hours.slice(i, i + 16)).onConflictDoNothing());
  return chunks;
}

/**
 * The overview's statements. The window: `windowHours` hours from `firstHour`. Hours from the one after
 * the latest rolled up are read from the runs themselves (live).
 */
export function statsQueries(db: Db, firstHour: number, windowHours: number, now: number) {
  const since = sql`${int(firstHour * HOUR_MS)}`;
  // The window's end: the end of its last hour (no run finishes later, but a clock may be ahead).
  const until = sql`${int((firstHour + windowHours) * HOUR_MS)}`;
  // The first hour not rolled up: the window's first, or the one after the latest rolled up in it.
  const liveFrom = sql`(max(${int(firstHour)}, coalesce((SELECT max(${runHours.hour}) + 1 FROM ${runHours} WHERE ${runHours.hour} >= ${int(firstHour)} AND ${runHours.hour} < ${int(firstHour + windowHours)}), 0)) * ${int(HOUR_MS)})`;
  const capped = (where: SQL) => sql`(SELECT count(*) FROM (SELECT 1 FROM ${jobs} WHERE ${where} LIMIT ${int(COUNT_LIMIT)}))`;
  // One row, a column per status (D1 refuses a compound SELECT of six terms).
  // (Each aliased: D1 keys a batch's rows by column name, and the six expressions read alike.)
  // Jobs in progress: through their runs in progress (runs_in_progress_idx, in job order: one group a
  // job, however many of its runs run), each job's status checked, up to COUNT_LIMIT.
  const inProgressJobs = sql`(SELECT count(*) FROM (
    SELECT 1 FROM ${runs} r JOIN ${jobs} j ON j.id = r."jobId"
    WHERE r.status = 'IN_PROGRESS' AND j.status != 'DELETED'
    GROUP BY r."jobId"
    LIMIT ${int(COUNT_LIMIT)}))`;
  const byStatus = Object.fromEntries(
    JOB_STATUSES.map((status) => [status, sql<number>`${status === "IN_PROGRESS" ? inProgressJobs : capped(statusIs(status))}`.as(status)]),
  ) as Record<JobStatus, SQL.Aliased<number>>;
  // The latest runs finished in the window (runs_finished_idx from its end), with their deliveries.
  const sample = sql`(
    SELECT ${runs.id} AS id, ${runs.completedAt} AS completedAt
    FROM ${runs}
    WHERE ${finishedSince(since)}
      AND ${runs.completedAt} < ${until}
    ORDER BY ${runs.completedAt} DESC
    LIMIT ${int(DELIVERY_SAMPLE)}
  ) AS r
  LEFT JOIN ${deliveries} AS d ON d.runId = r.id`;
  // Webhook lag (run finished -> webhook delivered) of the sample's delivered webhooks, ranked.
  const ranked = sql`(
    SELECT
      d.deliveredAt - r.completedAt AS ms,
      row_number() OVER (ORDER BY d.deliveredAt - r.completedAt) AS rank,
      count(*) OVER () AS total
    FROM ${sample}
    WHERE d.state = 'DELIVERED'
  ) AS ranked`;
  // The deliveries under way that are next (deliveries_next_attempt_idx, in the order they are due), and
  // the first attempts in flight, which no index holds (those of the runs completed since the sweep's walk).
  const underWay = sql`(
    SELECT state, at FROM (
      SELECT ${deliveries.state} AS state, CASE WHEN ${deliveries.state} = 'SENDING' THEN ${leaseOf} ELSE ${deliveries.nextAttemptAt} END AS at
      FROM ${deliveries}
      WHERE ${deliveries.nextAttemptAt} IS NOT NULL
      ORDER BY ${deliveries.nextAttemptAt}
      LIMIT ${int(COUNT_LIMIT)}
    )
    UNION ALL
    ${firstAttemptsInFlight(db, COUNT_LIMIT)}
  )`;
  // Due runs waiting, first in line first (runs_dispatch_idx).
  const waiting = sql`(
    SELECT ${runs.dueAt} AS dueAt
    FROM ${runs}
    WHERE ${dueBy(now)}
    ORDER BY ${runs.rank}
    LIMIT ${int(COUNT_LIMIT)}
  )`;
  return [
    db.select(byStatus).from(sql`(SELECT 1)`),
    db.select().from(runHours).where(and(gte(runHours.hour, firstHour), lt(runHours.hour, firstHour + windowHours))),
    ...hourFigures(db, liveFrom, until, until),
    db.select({ state: sql<DeliveryState | null>`d.state`, n: count() }).from(sample).groupBy(sql`d.state`),
    // p50 and p95: the smallest lag at or past each rank.
    db
      .select({
        p50: sql<number | null>`min(ms) FILTER (WHERE rank >= 0.50 * total)`,
        p95: sql<number | null>`min(ms) FILTER (WHERE rank >= 0.95 * total)`,
        samples: count(),
      })
      .from(ranked),
    db
      .select({ state: sql<DeliveryState>`state`, n: count(), oldest: sql<number | null>`min(at)` })
      .from(underWay)
      .groupBy(sql`state`),
    db.select({ n: count() }).from(sql`(SELECT 1 FROM ${runs} WHERE ${inProgress} LIMIT ${int(COUNT_LIMIT)})`),
    db.select({ n: count(), oldest: sql<number | null>`min(dueAt)` }).from(waiting),
  ] as const;
}
