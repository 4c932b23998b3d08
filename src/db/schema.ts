/**
 * D1 tables (Drizzle). Names follow the original Prisma schema: `jobs` and `webhook_logs`, plus the
 * records a job's executions leave: `runs` (one per execution) and `deliveries` (one per finished run).
 * Times are stored as integer milliseconds and surface as Date objects.
 */
import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const PRIORITIES = ["HIGH", "MEDIUM", "LOW"] as const;
/** A job's status is the status of its latest run (PENDING before any run). */
export const JOB_STATUSES = ["PENDING", "IN_PROGRESS", "COMPLETED", "FAILED"] as const;
export const RUN_STATUSES = ["IN_PROGRESS", "COMPLETED", "FAILED"] as const;
/**
 * A finished run's webhook. PENDING: first attempt not made yet; SENDING: an attempt holds the lease;
 * RETRYING: the last attempt failed, another is queued; DELIVERED: a 2xx was received; FAILED: attempts ran out.
 */
export const DELIVERY_STATES = ["PENDING", "SENDING", "RETRYING", "DELIVERED", "FAILED"] as const;
export const WEBHOOK_EVENTS = ["job.completed", "job.failed"] as const;

export type Priority = (typeof PRIORITIES)[number];
export type JobStatus = (typeof JOB_STATUSES)[number];
export type RunStatus = (typeof RUN_STATUSES)[number];
export type DeliveryState = (typeof DELIVERY_STATES)[number];
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

const nowMs = sql`(cast(unixepoch('subsec') * 1000 as integer))`;

export const jobs = sqliteTable(
  "jobs",
  {
    id: text("id").primaryKey(),
    taskName: text("taskName").notNull(),
    payload: text("payload", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    priority: text("priority", { enum: PRIORITIES }).notNull().default("MEDIUM"),
    status: text("status", { enum: JOB_STATUSES }).notNull().default("PENDING"),
    createdAt: integer("createdAt", { mode: "timestamp_ms" }).notNull().default(nowMs),
    updatedAt: integer("updatedAt", { mode: "timestamp_ms" }).notNull().default(nowMs),
    /** The newest run (runs.id); null before the first run. */
    latestRunId: integer("latestRunId"),
  },
  (t) => [
    // Lists are in creation (rowid) order, and each index ends in the implicit rowid: a list reads its
    // page from an index in order, without sorting (createdAt never decreases; see listJobs).
    index("jobs_created_idx").on(t.createdAt),
    index("jobs_status_idx").on(t.status),
    index("jobs_priority_idx").on(t.priority),
  ],
);

export const runs = sqliteTable(
  "runs",
  {
    // AUTOINCREMENT: an id is never reused, so a run id kept by a receiver never names another run.
    id: integer("id").primaryKey({ autoIncrement: true }),
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
    /** When the run was due to start. */
    dueAt: integer("dueAt", { mode: "timestamp_ms" }).notNull(),
    startedAt: integer("startedAt", { mode: "timestamp_ms" }),
    /**
     * When the queue message that moves this run on is expected (the end of its work while in progress);
     * null once it is finished. The sweep looks for runs long past it: their message was lost.
     */
    expectedAt: integer("expectedAt", { mode: "timestamp_ms" }),
    completedAt: integer("completedAt", { mode: "timestamp_ms" }),
    failureReason: text("failureReason"),
    /** How many times the sweep re-queued this run because its message never came. */
    recoveries: integer("recoveries").notNull().default(0),
  },
  (t) => [
    uniqueIndex("runs_job_number_idx").on(t.jobId, t.number),
    // Only unfinished runs are in it: the sweep reads a few entries, however many runs the table holds.
    index("runs_expected_idx")
      .on(t.expectedAt)
      .where(sql`${t.expectedAt} IS NOT NULL`),
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
    /** The exact request body, frozen when the run finished: every attempt sends these bytes. */
    body: text("body").notNull(),
    state: text("state", { enum: DELIVERY_STATES }).notNull(),
    /** Attempts made in the current series. */
    attempts: integer("attempts").notNull().default(0),
    /** 1 for the automatic attempts; each redelivery by hand starts a new series (same webhook-id). */
    series: integer("series").notNull().default(1),
    /**
     * When the next attempt may be made: PENDING and RETRYING, when it is due; SENDING, when the attempt
     * in flight loses its lease (another copy of the message may then take over); null once finished.
     */
    nextAttemptAt: integer("nextAttemptAt", { mode: "timestamp_ms" }),
    lastError: text("lastError"),
    createdAt: integer("createdAt", { mode: "timestamp_ms" }).notNull(),
    deliveredAt: integer("deliveredAt", { mode: "timestamp_ms" }),
  },
  (t) => [
    // Only deliveries under way are in it (see runs_expected_idx).
    index("deliveries_next_attempt_idx")
      .on(t.nextAttemptAt)
      .where(sql`${t.nextAttemptAt} IS NOT NULL`),
  ],
);

export const webhookLogs = sqliteTable(
  "webhook_logs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    jobId: text("jobId")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    /** The run (runs.id) whose delivery this attempt belongs to. */
    runId: integer("runId").notNull(),
    /** The delivery's webhook-id, stable across its attempts. */
    deliveryId: text("deliveryId").notNull(),
    series: integer("series").notNull().default(1),
    attempt: integer("attempt").notNull(),
    url: text("url").notNull(),
    /** The exact bytes sent (the delivery's body). */
    requestBody: text("requestBody"),
    responseStatus: integer("responseStatus"),
    /** JSON when the (truncated) body parses, else the text. */
    responseBody: text("responseBody", { mode: "json" }).$type<unknown>(),
    error: text("error"),
    durationMs: integer("durationMs").notNull(),
    sentAt: integer("sentAt", { mode: "timestamp_ms" }).notNull(),
    nextRetryAt: integer("nextRetryAt", { mode: "timestamp_ms" }),
  },
  (t) => [index("webhook_logs_job_idx").on(t.jobId, t.id), index("webhook_logs_run_idx").on(t.runId, t.id)],
);

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
