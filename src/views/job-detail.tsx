/** A job's page: fields, payload, timeline and every delivery attempt; the live part polls while active. */
import type { Job, WebhookLog } from "../db/schema";
import { CopyId, DeliveryBadge, PriorityBadge, StatusBadge, Time } from "./components";
import { prettyJson } from "./format";
import { JobActions, isActive, pollDelay } from "./jobs";
import { AttemptList } from "./logs";

export function JobDetailPage({ job, logs, now }: { job: Job; logs: WebhookLog[]; now: Date }) {
  return (
    <>
      <nav aria-label="Breadcrumb" class="breadcrumb">
        <a href="/">Jobs</a> / <span>{job.taskName}</span>
      </nav>
      <div class="page-head">
        <h1 class="task-name">{job.taskName}</h1>
      </div>
      <p>
        <CopyId id={job.id} label="job id" />
      </p>
      <JobLive job={job} logs={logs} now={now} />
      <section>
        <h2>Payload</h2>
        <pre class="mono payload">{prettyJson(job.payload)}</pre>
      </section>
    </>
  );
}

export function JobLive({ job, logs, now }: { job: Job; logs: WebhookLog[]; now: Date }) {
  const poll = isActive(job) ? { "hx-get": `/jobs/${job.id}/live`, "hx-trigger": `load delay:${pollDelay(job)}`, "hx-swap": "outerHTML" } : {};
  const step = (label: string, at: Date | null) => (
    <li class={at ? "done" : "todo"}>
      <span>{label}</span> <Time at={at} now={now} />
    </li>
  );
  const delivered = logs.find((l) => l.runId === job.runId && l.responseStatus !== null && l.responseStatus >= 200 && l.responseStatus < 300);
  return (
    <div id="job-live" {...poll}>
      <div class="detail-grid">
        <section>
          <h2>Status</h2>
          <p class="status-cell">
            <StatusBadge status={job.status} /> <PriorityBadge priority={job.priority} />{" "}
            <DeliveryBadge status={job.deliveryStatus} attempts={job.deliveryAttempts} />
          </p>
          {job.failureReason ? <p class="attempt-error">Failed: {job.failureReason}</p> : null}
          {job.deliveryStatus === "RETRYING" && job.nextDeliveryAt ? (
            <p>
              Next webhook attempt <Time at={job.nextDeliveryAt} now={now} />. Last error: {job.lastDeliveryError}
            </p>
          ) : null}
          {job.deliveryStatus === "FAILED" ? <p class="attempt-error">Webhook gave up: {job.lastDeliveryError}</p> : null}
          <JobActions job={job} target="detail" />
          {job.deliveryStatus === "DELIVERED" || job.deliveryStatus === "FAILED" ? (
            <form method="post" action={`/jobs/${job.id}/redeliver`} hx-post={`/jobs/${job.id}/redeliver`} hx-target="#job-live" hx-swap="outerHTML" class="redeliver">
              <button type="submit" class="secondary">
                Redeliver webhook
              </button>
              <small class="muted"> New series of attempts, same webhook-id.</small>
            </form>
          ) : null}
        </section>
        <section>
          <h2>Timeline</h2>
          <ol class="timeline">
            {step("Created", job.createdAt)}
            {step(job.runId > 1 ? `Started (run ${job.runId})` : "Started", job.startedAt)}
            {step(job.status === "FAILED" ? "Failed" : "Completed", job.completedAt)}
            {step("Webhook delivered", delivered?.sentAt ?? null)}
          </ol>
          <p class="muted">
            Updated <Time at={job.updatedAt} now={now} />
          </p>
        </section>
      </div>
      <section>
        <h2>Webhook attempts</h2>
        <AttemptList logs={logs} now={now} />
      </section>
    </div>
  );
}
