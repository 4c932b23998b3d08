/**
 * D1 tables (Drizzle). Names follow the original Prisma schema: `jobs` and `webhook_logs`.
 * Times are stored as integer milliseconds and surface as Date objects.
 */
import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const PRIORITIES = ["HIGH", "MEDIUM", "LOW"] as const;
export const JOB_STATUSES = ["PENDING", "IN_PROGRESS", "COMPLETED", "FAILED"] as const;
/**
 * Delivery state of the webhook for the job's current run.
 * NONE: the run has not finished; PENDING: finished, first attempt not made yet;
 * SENDING: an attempt holds the lease; RETRYING: the last attempt failed, another is queued;
 * DELIVERED: a 2xx was received; FAILED: attempts ran out.
 */
export const DELIVERY_STATUSES = ["NONE", "PENDING", "SENDING", "RETRYING", "DELIVERED", "FAILED"] as const;

export type Priority = (typeof PRIORITIES)[number];
export type JobStatus = (typeof JOB_STATUSES)[number];
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

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
    /** Incremented by every run; queue messages carry it so a stale message cannot touch a newer run. */
    runId: integer("runId").notNull().default(0),
    startedAt: integer("startedAt", { mode: "timestamp_ms" }),
    /** When the run's queue message is expected (startedAt + duration); the sweep looks for runs long past it. */
    dueAt: integer("dueAt", { mode: "timestamp_ms" }),
    /** How many times the sweep re-queued this run because its message never came. */
    recoveries: integer("recoveries").notNull().default(0),
    completedAt: integer("completedAt", { mode: "timestamp_ms" }),
    failureReason: text("failureReason"),
    deliveryStatus: text("deliveryStatus", { enum: DELIVERY_STATUSES }).notNull().default("NONE"),
    deliveryAttempts: integer("deliveryAttempts").notNull().default(0),
    /** 1 for the automatic attempts of a run; each redelivery by hand starts a new series (same webhook-id). */
    deliverySeries: integer("deliverySeries").notNull().default(1),
    /** While an attempt is in flight, other copies of its message wait until this time passes. */
    deliveryLeaseUntil: integer("deliveryLeaseUntil", { mode: "timestamp_ms" }),
    nextDeliveryAt: integer("nextDeliveryAt", { mode: "timestamp_ms" }),
    lastDeliveryError: text("lastDeliveryError"),
  },
  (t) => [
    // Lists are in creation (rowid) order, and each index ends in the implicit rowid: a list reads its
    // page from an index in order, without sorting (createdAt never decreases; see listJobs).
    index("jobs_created_idx").on(t.createdAt),
    index("jobs_status_idx").on(t.status),
    index("jobs_priority_idx").on(t.priority),
    index("jobs_due_idx").on(t.status, t.dueAt),
    index("jobs_delivery_idx").on(t.deliveryStatus, t.nextDeliveryAt),
  ],
);

export const webhookLogs = sqliteTable(
  "webhook_logs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    jobId: text("jobId")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    runId: integer("runId").notNull(),
    /** Stable across the attempts of one delivery: the receiver's de-duplication key. */
    deliveryId: text("deliveryId").notNull(),
    series: integer("series").notNull().default(1),
    attempt: integer("attempt").notNull(),
    url: text("url").notNull(),
    requestBody: text("requestBody", { mode: "json" }).$type<Record<string, unknown>>(),
    responseStatus: integer("responseStatus"),
    /** JSON when the (truncated) body parses, else the text. */
    responseBody: text("responseBody", { mode: "json" }).$type<unknown>(),
    error: text("error"),
    durationMs: integer("durationMs").notNull(),
    sentAt: integer("sentAt", { mode: "timestamp_ms" }).notNull(),
    nextRetryAt: integer("nextRetryAt", { mode: "timestamp_ms" }),
  },
  (t) => [index("webhook_logs_job_idx").on(t.jobId, t.id)],
);

/** What the built-in webhook inbox received: lets the whole loop run offline. */
export const inboxEntries = sqliteTable("inbox_entries", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  receivedAt: integer("receivedAt", { mode: "timestamp_ms" }).notNull(),
  headers: text("headers", { mode: "json" }).$type<Record<string, string>>().notNull(),
  body: text("body", { mode: "json" }).$type<unknown>(),
});

export type Job = typeof jobs.$inferSelect;
export type WebhookLog = typeof webhookLogs.$inferSelect;
export type InboxEntry = typeof inboxEntries.$inferSelect;
