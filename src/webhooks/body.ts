/**
 * A finished run's webhook: its webhook-id and body, built in SQL from the run's row in the statement
 * that creates the delivery (the same batch that finishes the run), then stored, so every attempt and
 * every redelivery sends the same bytes whatever later runs or edits do.
 */
import { sql } from "drizzle-orm";
import type { AnySQLiteColumn } from "drizzle-orm/sqlite-core";
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

const isoTime = (column: AnySQLiteColumn) => sql`strftime('%Y-%m-%dT%H:%M:%fZ', ${column} / 1000.0, 'unixepoch')`;

/**
 * The body: the original contract's fields (jobId, taskName, priority, payload, completedAt) plus the
 * event, the delivery's id, the run, its status, when it was due and why it failed or was cancelled. A payload that is not valid JSON (it
 * cannot come through the API) is sent as a string rather than stopping the delivery.
 */
export const webhookBodySql = sql`json_object(
  'event', ${webhookEventSql},
  'deliveryId', ${webhookIdSql},
  'jobId', ${runs.jobId},
  'runId', ${runs.id},
  'runNumber', ${runs.number},
  'taskName', ${runs.taskName},
  'priority', ${runs.priority},
  'payload', CASE WHEN json_valid(${runs.payload}) THEN json(${runs.payload}) ELSE ${runs.payload} END,
  'status', ${runs.status},
  'dueAt', ${isoTime(runs.dueAt)},
  'startedAt', ${isoTime(runs.startedAt)},
  'completedAt', ${isoTime(runs.completedAt)},
  'failureReason', ${runs.failureReason}
)`;

/** What a receiver gets (for readers of the code and the tests; the bytes come from webhookBodySql). */
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
