/**
 * A finished run's webhook: its webhook-id and body. The body is a function of the run's row, which does
 * not change once the run has finished, so it is not stored: every attempt and every redelivery builds
 * the same bytes from the row again, whatever later runs or edits of the job do. A delivery keeps bytes
 * of its own only where they are not its run's (rows written before migration 0011 that differ).
 * Changing webhookBodyFrom changes the bytes of every delivery whose body is not stored, finished ones
 * included (a redelivery sends them again, and their log rows show them as sent): a migration must first
 * store the old bytes of every delivery.
 */
import { type SQL, sql } from "drizzle-orm";
import type { Delivery } from "../db/schema";
import { runs } from "../db/schema";

export interface RunRef {
  jobId: string;
  /** The run's number within its job (1, 2, ...). */
  number: number;
}

/** Stable across every attempt of one run's delivery, and different for each run: receivers de-duplicate on it. */
export const webhookIdOf = (run: RunRef) => `whd_${run.jobId}_${run.number}`;

export const webhookIdSql = sql`'whd_' || ${runs.jobId} || '_' || ${runs.number}`;

export const webhookEventSql = sql`CASE ${runs.status} WHEN 'FAILED' THEN 'job.failed' WHEN 'CANCELLED' THEN 'job.cancelled' ELSE 'job.completed' END`;

/** A column of the table or alias `from`, qualified by hand (Drizzle leaves columns bare in one-table selects). */
const column = (from: string, name: string) => sql.raw(`"${from}"."${name}"`);

/**
 * The body, built from the run row `run` (a table name or alias in scope): the original contract's fields
 * (jobId, taskName, priority, payload, completedAt) plus the event, the delivery's id, the run, its status,
 * when it was due and why it failed or was cancelled. A payload that is not valid JSON (it cannot come
 * through the API) is sent as a string rather than stopping the delivery.
 */
export function webhookBodyFrom(run: string): SQL {
  const c = (name: keyof typeof runs.$inferSelect) => column(run, name);
  const isoTime = (name: "dueAt" | "startedAt" | "completedAt") => sql`strftime('%Y-%m-%dT%H:%M:%fZ', ${c(name)} / 1000.0, 'unixepoch')`;
  return sql`json_object(
  'event', CASE ${c("status")} WHEN 'FAILED' THEN 'job.failed' WHEN 'CANCELLED' THEN 'job.cancelled' ELSE 'job.completed' END,
  'deliveryId', 'whd_' || ${c("jobId")} || '_' || ${c("number")},
  'jobId', ${c("jobId")},
  'runId', ${c("id")},
  'runNumber', ${c("number")},
  'taskName', ${c("taskName")},
  'priority', ${c("priority")},
  'payload', CASE WHEN json_valid(${c("payload")}) THEN json(${c("payload")}) ELSE ${c("payload")} END,
  'status', ${c("status")},
  'dueAt', ${isoTime("dueAt")},
  'startedAt', ${isoTime("startedAt")},
  'completedAt', ${isoTime("completedAt")},
  'failureReason', ${c("failureReason")}
)`;
}

/** The bytes a delivery sends: its own where it keeps them, else its run's body (a primary-key lookup). */
export const deliveryBodyOf = (delivery: string): SQL<string> =>
  sql<string>`coalesce(${column(delivery, "body")}, (SELECT ${webhookBodyFrom("wb")} FROM ${runs} AS "wb" WHERE "wb"."id" = ${column(delivery, "runId")}))`;

/** A delivery as read to be sent or shown: with the bytes it sends. */
export type DeliveryWithBody = Omit<Delivery, "body"> & { body: string };

/** What a receiver gets (for readers of the code and the tests; the bytes come from webhookBodyFrom). */
export interface WebhookBody {
  event: "job.completed" | "job.failed" | "job.cancelled";
  deliveryId: string;
  jobId: string;
  runId: number;
  runNumber: number;
  taskName: string;
  priority: string;
  payload: Record<string, unknown>;
  status: "COMPLETED" | "FAILED" | "CANCELLED";
  dueAt: string;
  startedAt: string | null;
  completedAt: string | null;
  failureReason: string | null;
}
