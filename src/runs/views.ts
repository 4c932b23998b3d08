/**
 * The JSON shapes of runs and deliveries, shared by the API and the dashboard: a delivery is named by
 * its webhook-id, its body is shown parsed, and a job carries a summary of its latest run.
 */
import type { Delivery, Job, Run } from "../db/schema";
import { leaseUntilOf } from "../webhooks/deliveries";

export type DeliveryView = Omit<Delivery, "webhookId" | "body" | "leaseUntil"> & { id: string };
export type DeliveryDetail = DeliveryView & { body: unknown };

/** With an attempt in flight (SENDING), nextAttemptAt is when its lease runs out, wherever the row keeps it. */
export function deliveryView(delivery: Delivery): DeliveryView {
  const { webhookId, body: _body, leaseUntil: _lease, ...rest } = delivery;
  return { id: webhookId, ...rest, nextAttemptAt: delivery.state === "SENDING" ? leaseUntilOf(delivery) : delivery.nextAttemptAt };
}

/** With the exact body (parsed for reading; the bytes sent are what it was parsed from). */
export function deliveryDetail(delivery: Delivery): DeliveryDetail {
  return { ...deliveryView(delivery), body: parseStored(delivery.body) };
}

/** Stored JSON text, parsed; text that does not parse is returned as it is. */
export function parseStored(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A run as the API and the dashboard show it: without occurrenceKey, the index's copy of occurrenceAt. */
export type ShownRun = Omit<Run, "occurrenceKey">;

export function shownRun(run: Run): ShownRun {
  const { occurrenceKey: _key, ...shown } = run;
  return shown;
}

/** A run as listed under its job: what ran, its times and status, and its delivery's state. */
export type RunView = ShownRun & { delivery: DeliveryView | null };

export const runView = (run: Run, delivery: Delivery | null): RunView => ({ ...shownRun(run), delivery: delivery ? deliveryView(delivery) : null });

/** The latest run as a job shows it: no copy of what ran (the job's own fields are beside it). */
export type RunSummary = Omit<RunView, "taskName" | "payload" | "priority">;

export function runSummary(run: Run, delivery: Delivery | null): RunSummary {
  const { taskName: _t, payload: _p, priority: _pr, ...rest } = shownRun(run);
  return { ...rest, delivery: delivery ? deliveryView(delivery) : null };
}

/** A job and its latest run (null before the first run). */
export type JobView = Job & { latestRun: RunSummary | null };

export const jobView = (job: Job, run: Run | null, delivery: Delivery | null): JobView => ({ ...job, latestRun: run ? runSummary(run, delivery) : null });
