/**
 * D1 tables (Drizzle). Names follow the original Prisma schema: `jobs` and `webhook_logs`, plus the
 * records a job's executions leave: `runs` (one per execution) and `deliveries` (one per finished run).
 * Times are stored as integer milliseconds and surface as Date objects.
 */
import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const PRIORITIES = ["HIGH", "MEDIUM", "LOW"] as const;
/**
 * A job's status as it shows it: IN_PROGRESS while a run of it is in progress, else SCHEDULED while it
 * has a run to come, else the status of its latest run (PENDING before any run). Its row keeps all but
 * IN_PROGRESS, which reads find through its runs (jobs/state.ts shownStatus): a run's start leaves the
 * row alone.
 */
export const JOB_STATUSES = ["PENDING", "SCHEDULED", "IN_PROGRESS", "COMPLETED", "FAILED", "CANCELLED"] as const;
/** SCHEDULED: waiting for its time (or, once due, for a free slot); then IN_PROGRESS, then finished or CANCELLED. */
export const RUN_STATUSES = ["SCHEDULED", "IN_PROGRESS", "COMPLETED", "FAILED", "CANCELLED"] as const;
/**
 * A finished run's webhook. PENDING: first attempt not made yet; SENDING: an attempt holds the lease;
 * RETRYING: the last attempt failed, another is queued; DELIVERED: a 2xx was received; FAILED: attempts ran out.
 */
export const DELIVERY_STATES = ["PENDING", "SENDING", "RETRYING", "DELIVERED", "FAILED"] as const;
export const WEBHOOK_EVENTS = ["job.completed", "job.failed", "job.cancelled"] as const;
export const MISSED_POLICIES = ["skip", "once"] as const;
export const OVERLAP_POLICIES = ["skip", "allow"] as const;

/** A recurring schedule, as stored on its job (validated on the way in: see schedules/schemas.ts). */
export interface Schedule {
  /** Standard five-field cron. */
  cron: string;
  /** IANA time zone the cron is read in. */
  timezone: string;
  startAt?: string;
  endAt?: string;
  /** Most occurrences it will ever start. */
  limit?: number;
  missed: (typeof MISSED_POLICIES)[number];
  overlap: (typeof OVERLAP_POLICIES)[number];
}

export type Priority = (typeof PRIORITIES)[number];
export type JobStatus = (typeof JOB_STATUSES)[number];
export type RunStatus = (typeof RUN_STATUSES)[number];
export type DeliveryState = (typeof DELIVERY_STATES)[number];
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

const nowMs = sql`(cast(unixepoch('subsec') * 1000 as integer))`;

/** The columns of `jobs`, shared with the insert that sets a sharded rowid (jobs/state.ts). */
export const jobColumns = {
  id: text("id").primaryKey(),
  taskName: text("taskName").notNull(),
  payload: text("payload", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
  priority: text("priority", { enum: PRIORITIES }).notNull().default("MEDIUM"),
  status: text("status", { enum: JOB_STATUSES }).notNull().default("PENDING"),
  createdAt: integer("createdAt", { mode: "timestamp_ms" }).notNull().default(nowMs),
  updatedAt: integer("updatedAt", { mode: "timestamp_ms" }).notNull().default(nowMs),
  /**
   * Its latest run (runs.id): the one that started last of those that finished, or that a person
   * cancelled, or one in progress when its start wrote the row anyway (an occurrence's); null before
   * the first. A run in progress that started later is shown in its place (shownLatestRunId).
   */
  latestRunId: integer("latestRunId"),
  /** When its next run is due (the earliest of its SCHEDULED runs); null when none is. */
  nextRunAt: integer("nextRunAt", { mode: "timestamp_ms" }),
  /** Where its runs' webhooks go; null: WEBHOOK_URL. Frozen into each delivery. */
  webhookUrl: text("webhookUrl"),
  /** Send a job.cancelled webhook when one of its runs is cancelled. */
  notifyOnCancel: integer("notifyOnCancel", { mode: "boolean" }).notNull().default(false),
  schedule: text("schedule", { mode: "json" }).$type<Schedule>(),
  paused: integer("paused", { mode: "boolean" }).notNull().default(false),
  /** The latest occurrence of the schedule that was made a run: the next one comes after it. */
  scheduleCursor: integer("scheduleCursor", { mode: "timestamp_ms" }),
  /** Occurrences of the schedule made runs so far (for its limit). */
  occurrences: integer("occurrences").notNull().default(0),
};

export const jobs = sqliteTable(
  "jobs",
  jobColumns,
  (t) => [
    // Lists are in creation (rowid) order, and each index ends in the implicit rowid: a list reads its
    // page from an index (or the table) in order, without sorting (see listJobs).
    // No row says IN_PROGRESS since migration 0015 (a job shows it through its runs in progress: statusIs);
    // the condition stays so that the index need not be rebuilt, and queries state it to use the index.
    index("jobs_status_idx")
      .on(t.status)
      .where(sql`${t.status} != 'IN_PROGRESS'`),
    // No index on priority: a create would write an entry for a filter the dashboard seldom uses. A list
    // by priority walks the table (or the status index) and checks each row (see jobsList).
  ],
);

export const runs = sqliteTable(
  "runs",
  {
    // Never reused, so a run id kept by a receiver never names another run: an insert takes the next id
    // after every id the table holds or held (db/ids.ts), without AUTOINCREMENT's sequence row per insert.
    id: integer("id").primaryKey(),
    jobId: text("jobId")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    /** 1, 2, ... per job; queue messages name a run by (jobId, number). */
    number: integer("number").notNull(),
    status: text("status", { enum: RUN_STATUSES }).notNull(),
    /** What ran, frozen when the run started: later edits of the job never change it. */
    taskName: text("taskName").notNull(),
    payload: text("payload", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    priority: text("priority", { enum: PRIORITIES }).notNull(),
    /** When the run is due to start. */
    dueAt: integer("dueAt", { mode: "timestamp_ms" }).notNull(),
    /** For a recurring job: the occurrence of its schedule this run is (one run per occurrence). */
    occurrenceAt: integer("occurrenceAt", { mode: "timestamp_ms" }),
    /**
     * Its place in line for a free slot: due time plus its priority's offset (ms), so HIGH goes before
     * MEDIUM before LOW, and a LOW run is never passed by runs due more than its offset after it.
     */
    rank: integer("rank").notNull().default(0),
    startedAt: integer("startedAt", { mode: "timestamp_ms" }),
    /**
     * When the queue message that moves this run on is expected: the start of a SCHEDULED run whose
     * message is queued (null while none is), the end of the work of one IN_PROGRESS; null once finished.
     * The sweep looks for runs long past it: their message was lost.
     */
    expectedAt: integer("expectedAt", { mode: "timestamp_ms" }),
    completedAt: integer("completedAt", { mode: "timestamp_ms" }),
    failureReason: text("failureReason"),
    /** How many times the sweep re-queued this run because its message never came. */
    recoveries: integer("recoveries").notNull().default(0),
    /**
     * The occurrence this run holds: occurrenceAt until the run is cancelled, then null (a cancelled
     * occurrence may be made again). Its own column so that starting and finishing a run, which change
     * its status, leave runs_occurrence_idx alone: an index whose condition named the status was written
     * again at each change (two index rows per occurrence).
     */
    occurrenceKey: integer("occurrenceKey"),
  },
  (t) => [
    uniqueIndex("runs_job_number_idx").on(t.jobId, t.number),
    // Each occurrence of a schedule is one run: a sweep running twice, a restart or a concurrent edit
    // cannot make it twice. (An occurrence cancelled by an edit of the schedule may be made again.)
    uniqueIndex("runs_occurrence_idx")
      .on(t.jobId, t.occurrenceKey)
      .where(sql`${t.occurrenceKey} IS NOT NULL`),
    // A schedule plans one occurrence at a time: two dispatchers that both make "the next one" (each
    // from its own clock) cannot leave a job with two planned occurrences that then run side by side.
    uniqueIndex("runs_planned_occurrence_idx")
      .on(t.jobId)
      .where(sql`${t.occurrenceAt} IS NOT NULL AND ${t.status} = 'SCHEDULED'`),
    // Partial indexes hold only unfinished runs: the sweep, the dispatcher and the concurrency count read
    // a few entries, however many runs the table holds.
    // One index of the runs in progress, by job: "is this job running" is one lookup, and the sweep and the
    // concurrency count walk its entries (as many as runs in progress: one entry written per start).
    index("runs_in_progress_idx")
      .on(t.jobId)
      .where(sql`${t.status} = 'IN_PROGRESS'`),
    index("runs_dispatch_idx")
      .on(t.rank)
      .where(sql`${t.status} = 'SCHEDULED'`),
    index("runs_job_scheduled_idx")
      .on(t.jobId, t.dueAt)
      .where(sql`${t.status} = 'SCHEDULED'`),
    // Finished runs in the order they finished: retention walks it from the oldest (one more index row
    // written per finished run; a pass reads only the entries it examines).
    index("runs_finished_idx")
      .on(t.completedAt, t.id)
      .where(sql`${t.status} IN ('COMPLETED', 'FAILED', 'CANCELLED')`),
  ],
);

export const deliveries = sqliteTable(
  "deliveries",
  {
    /** One delivery per run: keyed by its run. */
    runId: integer("runId")
      .primaryKey()
      .references(() => runs.id, { onDelete: "cascade" }),
    jobId: text("jobId").notNull(),
    /** Sent as `webhook-id` on every attempt and every redelivery: the receiver's de-duplication key. */
    webhookId: text("webhookId").notNull(),
    event: text("event", { enum: WEBHOOK_EVENTS }).notNull(),
    /** The target, frozen when the run finished; null when none was configured then (the first attempt takes WEBHOOK_URL). */
    url: text("url"),
    /**
     * The exact request body where it is not its run's (rows from before migration 0011 whose bytes
     * differ); null: the body built from its run's row (webhooks/body.ts), the same bytes on every attempt.
     */
    body: text("body"),
    state: text("state", { enum: DELIVERY_STATES }).notNull(),
    /** Attempts made in the current series. */
    attempts: integer("attempts").notNull().default(0),
    /** 1 for the automatic attempts; each redelivery by hand starts a new series (same webhook-id). */
    series: integer("series").notNull().default(1),
    /**
     * When the next attempt may be made: PENDING and RETRYING, when it is due; SENDING, when the attempt
     * in flight loses its lease (another copy of the message may then take over); null once finished,
     * and null for the first attempt claimed by the batch that finished the run (its lease is
     * `leaseUntil`): that attempt writes no entry in deliveries_next_attempt_idx, and the sweep finds
     * one whose worker died through its run (background/sweep.ts, "unsettled first attempts").
     */
    nextAttemptAt: integer("nextAttemptAt", { mode: "timestamp_ms" }),
    lastError: text("lastError"),
    createdAt: integer("createdAt", { mode: "timestamp_ms" }).notNull(),
    deliveredAt: integer("deliveredAt", { mode: "timestamp_ms" }),
    /** SENDING: when the attempt in flight loses its lease (the API shows it as nextAttemptAt). */
    leaseUntil: integer("leaseUntil", { mode: "timestamp_ms" }),
  },
  (t) => [
    // Only deliveries under way are in it (see runs_in_progress_idx).
    index("deliveries_next_attempt_idx")
      .on(t.nextAttemptAt)
      .where(sql`${t.nextAttemptAt} IS NOT NULL`),
  ],
);

export const webhookLogs = sqliteTable(
  "webhook_logs",
  {
    // Never given twice, even after the newest rows are deleted (a deleted job's purge), so a list's cursor
    // or a client that follows new attempts by id never misses one (db/ids.ts; no AUTOINCREMENT sequence).
    id: integer("id").primaryKey(),
    jobId: text("jobId")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    /** The run (runs.id) whose delivery this attempt belongs to. */
    runId: integer("runId").notNull(),
    /**
     * The delivery's webhook-id where it is not its delivery's (rows from before migration 0012 whose id
     * differs); null: its delivery's webhookId, the same on every attempt (read through webhooks/repository).
     */
    deliveryId: text("deliveryId"),
    series: integer("series").notNull().default(1),
    attempt: integer("attempt").notNull(),
    url: text("url").notNull(),
    /**
     * The exact bytes sent when they are not the delivery's body; null: its delivery's body (every attempt
     * sends those bytes, so they are stored once, on the delivery).
     */
    requestBody: text("requestBody"),
    responseStatus: integer("responseStatus"),
    /** JSON when the (truncated) body parses, else the text. */
    responseBody: text("responseBody", { mode: "json" }).$type<unknown>(),
    error: text("error"),
    durationMs: integer("durationMs").notNull(),
    sentAt: integer("sentAt", { mode: "timestamp_ms" }).notNull(),
    nextRetryAt: integer("nextRetryAt", { mode: "timestamp_ms" }),
  },
  (t) => [
    index("webhook_logs_job_idx").on(t.jobId, t.id),
    index("webhook_logs_run_idx").on(t.runId, t.id),
    // Failed attempts only (no response, or not 2xx), newest last: the logs' failure filter reads its page
    // from here however rare failures are. A successful attempt writes no entry in it.
    index("webhook_logs_failed_idx")
      .on(t.id)
      .where(sql`${t.responseStatus} IS NULL OR ${t.responseStatus} < 200 OR ${t.responseStatus} >= 300`),
  ],
);

/**
 * The highest id each table without AUTOINCREMENT has given, written only when its newest rows are deleted
 * (a trigger per table, migration 0012): an insert's next id is past both this and the table's own
 * largest (db/ids.ts), so an id is never given twice and a plain insert writes no sequence row.
 */
export const highWater = sqliteTable("high_water", {
  name: text("name").primaryKey(),
  id: integer("id").notNull(),
});

/**
 * Idempotency-Key of a create: the same key and body within 24 h return the job first created, the same
 * key with another body is refused.
 */
export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    key: text("key").primaryKey(),
    /** SHA-256 of the request body, hex. */
    requestHash: text("requestHash").notNull(),
    jobId: text("jobId")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    createdAt: integer("createdAt", { mode: "timestamp_ms" }).notNull(),
  },
  // Oldest first: retention removes expired keys from its head. By job: a delete frees its job's keys.
  (t) => [index("idempotency_keys_created_idx").on(t.createdAt), index("idempotency_keys_job_idx").on(t.jobId)],
);

/**
 * Where a pass that walks a table in order stopped, so the next one goes on from there (retention walks
 * runs_finished_idx by (completedAt, id)). No row: start from the beginning.
 */
export const cursors = sqliteTable("cursors", {
  name: text("name").primaryKey(),
  at: integer("at").notNull(),
  id: integer("id").notNull(),
});

/**
 * The overview's runs per hour, for hours that are over: written once per hour by the rollup pass
 * (stats/rollup.ts), so the overview reads 24 of these rows instead of every run of the last 24 h.
 * An hour's figures do not change once it is over: a run is counted in the hour it started and in the
 * hour it finished.
 */
export const runHours = sqliteTable("run_hours", {
  /** The hour: ms since the epoch / 3 600 000. */
  hour: integer("hour").primaryKey(),
  /** Runs that started in the hour (finished since, or still in progress when it was rolled up). */
  started: integer("started").notNull(),
  completed: integer("completed").notNull(),
  failed: integer("failed").notNull(),
  cancelled: integer("cancelled").notNull(),
  rolledAt: integer("rolledAt", { mode: "timestamp_ms" }).notNull(),
});

/** What the built-in webhook inbox received: lets the whole loop run offline. */
export const inboxEntries = sqliteTable("inbox_entries", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  receivedAt: integer("receivedAt", { mode: "timestamp_ms" }).notNull(),
  headers: text("headers", { mode: "json" }).$type<Record<string, string>>().notNull(),
  body: text("body", { mode: "json" }).$type<unknown>(),
});

export type Job = typeof jobs.$inferSelect;
export type Run = typeof runs.$inferSelect;
export type Delivery = typeof deliveries.$inferSelect;
export type WebhookLog = typeof webhookLogs.$inferSelect;
export type InboxEntry = typeof inboxEntries.$inferSelect;
export type RunHour = typeof runHours.$inferSelect;
