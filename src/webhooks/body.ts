import type { Job } from "../db/schema";

/** Stable across every attempt of one run's delivery: receivers de-duplicate on it. */
export const deliveryIdOf = (job: Pick<Job, "id" | "runId">) => `whd_${job.id}_${job.runId}`;

/** The webhook body: the original contract's fields plus event, status, run and delivery ids. */
export function webhookBodyOf(job: Job) {
  return {
    event: job.status === "FAILED" ? "job.failed" : "job.completed",
    deliveryId: deliveryIdOf(job),
    jobId: job.id,
    taskName: job.taskName,
    priority: job.priority,
    payload: job.payload,
    status: job.status,
    runId: job.runId,
    startedAt: job.startedAt?.toISOString() ?? null,
    completedAt: job.completedAt?.toISOString() ?? null,
  };
}

export type WebhookBody = ReturnType<typeof webhookBodyOf>;
