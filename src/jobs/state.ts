/**
 * Every write to `jobs`: create, edit, the schedule's state (cursor, occurrences, paused), what the job
 * shows of its runs (status, next run, latest run), delete and purge, and its Idempotency-Keys. Each is
 * a statement for a db.batch(), conditional where two writers may race. Reads are in repository.ts.
 */
import { type SQL, and, eq, getTableColumns, inArray, sql } from "drizzle-orm";
import { alias, type AnySQLiteColumn, integer, sqliteTable } from "drizzle-orm/sqlite-core";
import type { Db } from "../db/client";
import { field, jsonEach, jsonValues } from "../db/json-rows";
import { MAX_SHARDS, shardedKeyFloor } from "../db/shards";
import { idempotencyKeys, type Job, jobColumns, jobs, type JobStatus, type Priority, runs, type Schedule, webhookLogs } from "../db/schema";
import { afterRunHolds, runIn, scheduled } from "../runs/conditions";
import type { RunRef } from "../webhooks/body";
import type { NewRun } from "../runs/lifecycle";

export interface NewJob {
  id: string;
  taskName: string;
  payload: Record<string, unknown>;
  priority: Priority;
  webhookUrl: string | null;
  notifyOnCancel: boolean;
  schedule: Schedule | null;
  /** The first occurrence of the schedule, made a run with the job. */
  scheduleCursor: Date | null;
}

/**
 * createdAt never decreases from one job to the next: it is `now`, or the newest job's createdAt when
 * that is later (another Worker's clock ahead by a few ms). So creation time and insertion order agree,
 * and a list may read its page from whichever index is ordered that way (see listJobs). The newest job
 * is the last row by rowid (one row read), which for the same reason holds the latest createdAt.
 */
const createdAtOf = (now: Date) => sql`max(${now.getTime()}, coalesce((select ${jobs.createdAt} from ${jobs} order by ${jobs}.rowid desc limit 1), 0))`;

/**
 * Inserts the job. With an idempotency key, only if no live record of that key exists (checked in the
 * same statement, so two creates with one key at once make one job).
 */
/** `jobs` with its rowid as a column first, for the insert that sets it (not a table of the schema). */
const jobsByRowid = sqliteTable("jobs", { rowid: integer("rowid"), ...jobColumns });

export function insertJob(db: Db, job: NewJob, now: Date, { unlessKey }: { unlessKey?: { key: string; since: Date } } = {}) {
  const createdAt = createdAtOf(now);
  const guard = unlessKey
    ? sql`NOT EXISTS (SELECT 1 FROM ${idempotencyKeys} WHERE ${idempotencyKeys.key} = ${unlessKey.key} AND ${idempotencyKeys.createdAt} > ${unlessKey.since.getTime()})`
    : sql`1`;
  // With more than one shard the rowid is set (a key that sorts across shards, db/shards.ts): first column.
  const sharded = db.shard.count > 1;
  const rowid = sharded ? sql`max(${sql.raw(shardedKeyFloor(db.shard, now.getTime()))}, coalesce((SELECT max(rowid) FROM ${jobs}), 0) + ${sql.raw(String(MAX_SHARDS))}),` : sql``;
  return db
    .insert(sharded ? jobsByRowid : jobs)
    .select(
      // Every column of `jobs`, in table order.
      sql`SELECT ${rowid}
        ${job.id},
        ${job.taskName},
        ${JSON.stringify(job.payload)},
        ${job.priority},
        'PENDING',
        ${createdAt},
        ${createdAt},
        NULL,
        NULL,
        ${job.webhookUrl},
        ${job.notifyOnCancel ? 1 : 0},
        ${job.schedule ? JSON.stringify(job.schedule) : null},
        0,
        ${job.scheduleCursor?.getTime() ?? null},
        ${job.scheduleCursor ? 1 : 0}
      WHERE ${guard}`,
    )
    .returning(getTableColumns(jobs));
}

/**
 * Records an Idempotency-Key for the job just created (only if it was: the job must exist), or renews
 * a record older than `since` (an expired key may be used again).
 */
export function rememberKey(db: Db, record: { key: string; requestHash: string; jobId: string }, now: Date, since: Date) {
  return db
    .insert(idempotencyKeys)
    .select(sql`SELECT ${record.key}, ${record.requestHash}, ${record.jobId}, ${now.getTime()} WHERE EXISTS (SELECT 1 FROM ${jobs} WHERE ${jobs.id} = ${record.jobId})`)
    .onConflictDoUpdate({
      target: idempotencyKeys.key,
      set: { requestHash: record.requestHash, jobId: record.jobId, createdAt: now },
      setWhere: sql`${idempotencyKeys.createdAt} <= ${since.getTime()}`,
    });
}

export type JobFields = Partial<Pick<Job, "taskName" | "payload" | "priority" | "webhookUrl" | "notifyOnCancel" | "schedule" | "paused" | "scheduleCursor" | "occurrences">>;

/**
 * Edits a job's definition (for db.batch()). Runs keep the copy they started with, so an edit applies to
 * the next run and never to one under way or its webhook.
 */
export const updateJobFields = (db: Db, id: string, fields: JobFields, now: Date) =>
  db
    .update(jobs)
    .set({ ...fields, updatedAt: now })
    .where(and(eq(jobs.id, id), notDeleted))
    .returning({ id: jobs.id });

/**
 * A deleted job keeps its row, emptied (no task name or payload, so the search index holds nothing of
 * it) and hidden from every read by this status, until the purge has removed its runs, deliveries and
 * log rows in bounded batches (background/purge.ts). Never a status a job shows.
 */
export const DELETED = "DELETED";
export const notDeleted = sql`${jobs.status} != 'DELETED'`;

/**
 * Whether a run of the job `jobId` names is in progress: one probe of runs_in_progress_idx. A job's row
 * never says IN_PROGRESS (a run's start leaves it alone: one row fewer per run); reads say it from this.
 */
export const runningJob = (jobId: SQL | AnySQLiteColumn): SQL =>
  sql`EXISTS (SELECT 1 FROM ${runs} ip WHERE ip."jobId" = ${jobId} AND ip.status = 'IN_PROGRESS')`;

/** The status a job shows: IN_PROGRESS while a run of it is in progress, else its row's (see refreshJobs). */
export const shownStatus = sql<JobStatus>`CASE WHEN ${jobs.status} != 'DELETED' AND ${runningJob(jobs.id)} THEN 'IN_PROGRESS' ELSE ${jobs.status} END`;

/**
 * When a job's latest run (`latestRunId`, a column or expression) started: 0 for none, and for a run a
 * person cancelled before it started (any run that starts, or started, after it takes its place: a
 * cancel picks a run in progress before the run to come). A primary-key lookup.
 */
const latestStartedAt = (latestRunId: SQL | AnySQLiteColumn): SQL => sql`coalesce((SELECT l."startedAt" FROM ${runs} l WHERE l.id = ${latestRunId}), 0)`;

/**
 * The run a job shows: the one that started last, of those in progress and its row's latestRunId (the
 * run that started last of those finished, or that a person cancelled). Index lookups only.
 */
export const shownLatestRunId = sql<number | null>`coalesce((SELECT ip.id FROM ${runs} ip
    WHERE ip."jobId" = ${jobs.id} AND ip.status = 'IN_PROGRESS' AND ip."startedAt" >= ${latestStartedAt(jobs.latestRunId)}
    ORDER BY ip."startedAt" DESC, ip.id DESC LIMIT 1), ${jobs.latestRunId})`;

/**
 * Jobs in a status as they show it (DELETED included), written so that the planner can walk an index:
 * jobs in progress through their runs in progress (runs_in_progress_idx, then each job by its id), the
 * others through jobs_status_idx, each checked for a run in progress (one probe).
 */
export const statusIs = (status: JobStatus | typeof DELETED): SQL =>
  status === "IN_PROGRESS"
    ? sql`${jobs.status} != 'DELETED' AND ${jobs.id} IN (SELECT ${runs.jobId} FROM ${runs} WHERE ${runs.status} = 'IN_PROGRESS')`
    : status === DELETED
      ? sql`${jobs.status} = ${status} AND ${jobs.status} != 'IN_PROGRESS'`
      : sql`${jobs.status} = ${status} AND ${jobs.status} != 'IN_PROGRESS' AND NOT ${runningJob(jobs.id)}`;

/** Marks the listed jobs deleted (those that exist and are not already); returns their ids. */
export function markDeleted(db: Db, ids: string[], now: Date) {
  return db
    .update(jobs)
    .set({
      status: sql`${DELETED}`,
      taskName: "",
      payload: {},
      webhookUrl: null,
      notifyOnCancel: false,
      schedule: null,
      paused: false,
      nextRunAt: null,
      scheduleCursor: null,
      updatedAt: now,
    })
    .where(and(inArray(jobs.id, jsonValues(ids)), notDeleted))
    .returning({ id: jobs.id });
}

/** A deleted job's Idempotency-Keys go with it: the key may make a new job (idempotency_keys_job_idx). */
export const forgetKeysOf = (db: Db, ids: string[]) => db.delete(idempotencyKeys).where(inArray(idempotencyKeys.jobId, jsonValues(ids)));

/** Pauses (or resumes) the listed jobs' schedules, those that have one and are not already; returns their ids. */
export function setPaused(db: Db, ids: string[], paused: boolean, now: Date) {
  return db
    .update(jobs)
    .set({ paused, updatedAt: now })
    .where(and(inArray(jobs.id, jsonValues(ids)), notDeleted, sql`${jobs.schedule} IS NOT NULL`, eq(jobs.paused, !paused)))
    .returning({ id: jobs.id });
}

/** A deleted job the purge could not finish (a webhook of it is still owed) goes to the back of its line. */
export const purgeLater = (db: Db, id: string, now: Date) =>
  db.update(jobs).set({ updatedAt: now }).where(sql`${jobs.id} = ${id} AND ${jobs.status} = ${DELETED}`);

/** The purge's last step: a deleted job's row, once it has no run and no log row left. */
export function deletePurgedJob(db: Db, id: string) {
  return db.delete(jobs).where(sql`${jobs.id} = ${id} AND ${jobs.status} = ${DELETED}
    AND NOT EXISTS (SELECT 1 FROM ${runs} r WHERE r."jobId" = ${id})
    AND NOT EXISTS (SELECT 1 FROM ${webhookLogs} l WHERE l."jobId" = ${id})`);
}

/** Retention: deletes at most `limit` Idempotency-Key records created before `since` (expired), oldest first. */
export function deleteExpiredKeys(db: Db, since: Date, limit: number) {
  return db.delete(idempotencyKeys).where(sql`${idempotencyKeys.key} IN (
    SELECT k.key
    FROM ${idempotencyKeys} k
    WHERE k."createdAt" <= ${since.getTime()}
    ORDER BY k."createdAt"
    LIMIT ${limit}
  )`);
}

/**
 * The job's latest run becomes each of these runs (a run a person cancels is what the job shows; an
 * occurrence skipped by a policy or an edit is not). Runs that start take their place through
 * refreshJobs' `started`.
 */
export function pointLatest(db: Db, runIds: number[], { onlyCancelledAt }: { onlyCancelledAt?: Date } = {}) {
  const latest = alias(runs, "latest");
  // After a person's cancel: only the runs that the cancel earlier in the same batch cancelled.
  const onlyIf = onlyCancelledAt ? sql`${latest.status} = 'CANCELLED' AND ${latest.completedAt} = ${onlyCancelledAt.getTime()}` : sql`1`;
  return db
    .update(jobs)
    .set({ latestRunId: sql`${latest.id}` })
    .from(latest)
    .where(sql`${latest.id} IN ${jsonValues(runIds.length > 0 ? runIds : [-1])} AND ${jobs.id} = ${latest.jobId} AND ${onlyIf}`);
}

/**
 * What each listed job's row keeps of its runs: SCHEDULED while a run is to come (nextRunAt: the
 * earliest), else the status of its latest run once that has finished, else PENDING. Never IN_PROGRESS:
 * a job shows that while a run of it is in progress (shownStatus), so a run's start writes the row only
 * when something else changes (its next run, its schedule's cursor), and a run call's start not at all.
 * Index lookups only (runs_job_scheduled_idx, runs_job_number_idx, the primary key).
 *
 * The latest run: with `started`, a run of the job that started at `now` (only when the row is written
 * anyway); with `finished` (runs this batch finished at `now`), the one of them that started last, if it
 * started at or after the job's latest run did (a run a person cancelled before it started gives way).
 *
 * With `waitingOnly`, only jobs with a run to come are looked at: after a run call, whose run either
 * started (which changes nothing of the row) or waits for a slot (SCHEDULED: the row's next run and
 * status change), the others are passed by with one index probe each.
 *
 * With `advance` (occurrences made earlier in the same batch), the jobs' schedule cursors and occurrence
 * counts follow them in the same write: once each, whoever made them, and only for the schedule they were
 * made from (see insertRuns' `schedule`). One UPDATE of the job row, not two: each counts a row written.
 */
export function refreshJobs(
  db: Db,
  jobIds: string[],
  now: Date,
  { started = false, finished = [], advance = [], waitingOnly = false }: { started?: boolean; finished?: RunRef[]; advance?: NewRun[]; waitingOnly?: boolean } = {},
) {
  const startedNow = started
    ? sql`(SELECT r.id FROM ${runs} r WHERE r."jobId" = j.id AND r.status = 'IN_PROGRESS' AND r."startedAt" = ${now.getTime()} ORDER BY r.id DESC LIMIT 1)`
    : sql`NULL`;
  const done = alias(runs, "f");
  const finishedNow =
    finished.length > 0
      ? sql`(SELECT f.id FROM ${runs} f
          WHERE ${runIn(finished, done)} AND f."jobId" = j.id
            AND f.status IN ('COMPLETED', 'FAILED') AND f."completedAt" = ${now.getTime()}
            AND f."startedAt" >= ${latestStartedAt(sql`j."latestRunId"`)}
          ORDER BY f."startedAt" DESC, f.id DESC LIMIT 1)`
      : sql`NULL`;
  const status = sql`CASE
    WHEN s.nextAt IS NOT NULL THEN 'SCHEDULED'
    WHEN s.latestStatus IN ('COMPLETED', 'FAILED', 'CANCELLED') THEN s.latestStatus
    WHEN s.latest IS NULL OR s.was = 'IN_PROGRESS' THEN 'PENDING'
    ELSE s.was
  END`;
  const from = sql`(
    SELECT t.*, coalesce(t.finishedNow, t.startedNow, t.latestRunId) AS latest,
           (SELECT r.status FROM ${runs} r WHERE r.id = coalesce(t.finishedNow, t.startedNow, t.latestRunId)) AS latestStatus
    FROM (
      SELECT j.id,
             j.status AS was,
             j."latestRunId" AS latestRunId,
             (SELECT min(r."dueAt") FROM ${runs} r WHERE r."jobId" = j.id AND r.status = 'SCHEDULED') AS nextAt,
             ${finishedNow} AS finishedNow,
             ${startedNow} AS startedNow,
             ${advanceTo(advance)} AS advanceTo
      FROM ${jobs} j
      WHERE j.id IN ${jsonValues([...new Set(jobIds)])}
        AND j.status != 'DELETED'
        ${waitingOnly ? sql`AND EXISTS (SELECT 1 FROM ${runs} r WHERE r."jobId" = j.id AND r.status = 'SCHEDULED')` : sql``}
      LIMIT -1
    ) AS t
    -- (Not flattened into the UPDATE: each job's row of it is worked out once, not at each use of a column.)
    LIMIT -1
  ) AS s`;
  const kept = {
    nextRunAt: sql`s.nextAt`,
    latestRunId: sql`s.latest`,
    scheduleCursor: sql`coalesce(s.advanceTo, ${jobs.scheduleCursor})`,
    occurrences: sql`${jobs.occurrences} + (s.advanceTo IS NOT NULL)`,
    updatedAt: now,
  };
  const others = sql`(${jobs.nextRunAt} IS NOT s.nextAt OR (s.finishedNow IS NOT NULL AND ${jobs.latestRunId} IS NOT s.finishedNow) OR s.advanceTo IS NOT NULL)`;
  // Two statements, each row written by one of them at most: SQLite rewrites an index entry of every
  // column an UPDATE sets, changed or not, so the status (jobs_status_idx) is set only where it changes.
  // Written only when what the row keeps changes: a run's start alone changes nothing of it.
  return [
    db
      .update(jobs)
      .set({ ...kept, status: sql`${status}` })
      .from(from)
      .where(sql`${jobs.id} = s.id AND ${jobs.status} != ${status}`),
    db
      .update(jobs)
      .set(kept)
      .from(from)
      .where(sql`${jobs.id} = s.id AND ${jobs.status} = ${status} AND ${others}`),
  ] as const;
}

/**
 * The occurrence job `j` (refreshJobs' row, as it is before that write) advances its cursor to: one of
 * `nexts` for it that was made (one already planned for the job wins: runs_planned_occurrence_idx), past
 * its cursor, after the run it follows left SCHEDULED, from the schedule the job still has (not paused),
 * and, with jobWrittenAt, only if the job row was written then (by the resume earlier in the batch).
 */
function advanceTo(nexts: NewRun[]): SQL {
  if (nexts.length === 0) return sql`NULL`;
  const m = (i: number) => field(i, "m.value");
  const rows = nexts.map((n) => [n.jobId, n.occurrenceAt!.getTime(), n.afterRunId ?? null, n.schedule ?? null, n.afterCancelAt?.getTime() ?? null, n.jobWrittenAt?.getTime() ?? null]);
  return sql`(SELECT ${m(1)} FROM ${jsonEach(rows)} AS m
    WHERE ${m(0)} = j.id
      AND ${afterRunHolds(m(2), m(4))}
      AND (${m(5)} IS NULL OR j."updatedAt" = ${m(5)})
      AND (${m(3)} IS NULL OR (j.schedule = ${m(3)} AND j.paused = 0))
      AND (j."scheduleCursor" IS NULL OR j."scheduleCursor" < ${m(1)})
      AND EXISTS (SELECT 1 FROM ${runs} WHERE ${runs.jobId} = ${m(0)} AND ${runs.occurrenceAt} = ${m(1)} AND ${scheduled})
    LIMIT 1)`;
}
