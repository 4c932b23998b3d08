/**
 * A job's page: its definition, and its runs newest first, each with its webhook delivery and every
 * attempt. The live part polls while the job is active and is morphed in place (see app.js), so what a
 * person opened, focused or scrolled stays as it was.
 */
import type { RunView } from "../runs/views";
import type { LogView } from "../webhooks/repository";
import { CopyId, DeliveryBadge, Pagination, poll, PriorityBadge, StatusBadge, Time, type PageInfo, type PageLink } from "./components";
import { exactTime, prettyJson } from "./format";
import { describeSchedule } from "../schedules/describe";
import { nextRunsOf } from "../schedules/occurrences";
import { announcement, deliveryActive, isActive, JobActions, pollEveryMs } from "./jobs";
import { AttemptList } from "./logs";
import type { JobView } from "../runs/views";

export interface JobDetail {
  job: JobView;
  runs: RunView[];
  runsInfo: PageInfo;
  /** The page of runs asked for (its cursor, if it was read by one): the live part re-reads that page. */
  runsPage: PageLink;
  /** The attempts of each listed run, newest first. */
  attempts: Map<number, LogView[]>;
  now: Date;
}

/** A job's page, or (`live`) its live part, showing the page of runs `to` names. */
export function jobPageUrl(id: string, to: PageLink = { page: 1 }, live = false): string {
  const params = new URLSearchParams();
  if (to.page > 1) params.set("page", String(to.page));
  if (to.cursor) params.set("cursor", to.cursor);
  const query = params.toString();
  return `/jobs/${id}${live ? "/live" : ""}${query ? `?${query}` : ""}`;
}

export function JobDetailPage(props: JobDetail) {
  const { job } = props;
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
      <JobLive {...props} />
      <section aria-labelledby="definition-heading">
        <h2 id="definition-heading">Payload</h2>
        <pre class="mono payload">{prettyJson(job.payload)}</pre>
        <p class="muted">An edit applies from the next run on: each run keeps the task name, priority and payload it ran with.</p>
      </section>
    </>
  );
}

/** Cancel the current run; pause or resume the schedule. Each a form that morphs the live section. */
function TimingActions({ job }: { job: JobView }) {
  const action = (verb: "cancel" | "pause" | "resume", label: string, danger = false) => (
    <form method="post" action={`/jobs/${job.id}/${verb}`} hx-post={`/jobs/${job.id}/${verb}`} hx-target="#job-live" hx-swap="morph">
      <button type="submit" class={`secondary outline${danger ? " danger" : ""}`} aria-label={`${label} ${job.taskName}`}>
        {label}
      </button>
    </form>
  );
  const hasCurrent = job.status === "IN_PROGRESS" || job.nextRunAt !== null;
  return (
    <div class="action-group">
      {hasCurrent ? action("cancel", job.status === "IN_PROGRESS" ? "Cancel run" : "Cancel next run", true) : null}
      {job.schedule && !job.paused ? action("pause", "Pause") : null}
      {job.schedule && job.paused ? action("resume", "Resume") : null}
    </div>
  );
}

export function JobLive({ job, runs, runsInfo, runsPage, attempts, now }: JobDetail) {
  const nextRuns = nextRunsOf(job, 5);
  const url = jobPageUrl(job.id, runsInfo.page > 1 ? runsPage : { page: 1 }, true);
  // Live while what it shows can change: the job runs (any of its runs: its status says so), or a run on
  // this page has its webhook under way (an older run's may still retry, or be redelivered).
  const active = isActive(job) || runs.some((run) => deliveryActive(run.delivery));
  // Every second while something moves; every 5 s while only a retry waits.
  const moving = isActive(job) || runs.some((run) => deliveryActive(run.delivery) && run.delivery?.state !== "RETRYING");
  const everyMs = moving ? pollEveryMs(job) : 5000;
  const live = active ? poll(url, everyMs) : {};
  return (
    <div id="job-live" data-announce={announcement(job)} {...live}>
      <section class="job-summary" aria-label="Status and actions">
        {/* Where keyboard focus goes when the control that held it is gone (Cancel run, once cancelled): see app.js. */}
        <p class="status-cell" id="job-status" tabindex={-1} data-focus-fallback>
          <StatusBadge status={job.status} /> <PriorityBadge priority={job.priority} /> <DeliveryBadge delivery={job.latestRun?.delivery} />{" "}
          <span class="muted">
            created <Time at={job.createdAt} now={now} />, updated <Time at={job.updatedAt} now={now} />
          </span>
        </p>
        <JobActions job={job} target="detail" />
        <TimingActions job={job} />
      </section>
      {job.nextRunAt || job.schedule ? (
        <section aria-labelledby="upcoming-heading" class="upcoming">
          <h2 id="upcoming-heading">Upcoming</h2>
          {job.schedule ? (
            <p>
              {job.paused ? <strong>Paused. </strong> : null}
              {describeSchedule(job.schedule)} · <code>{job.schedule.cron}</code> · missed occurrences: {job.schedule.missed === "skip" ? "skipped" : "caught up once"} · while a run
              still runs: {job.schedule.overlap === "skip" ? "skip" : "run anyway"}
              {job.schedule.limit ? ` · at most ${job.schedule.limit} runs (${job.occurrences} so far)` : ""}
            </p>
          ) : null}
          {nextRuns.length > 0 ? (
            <ol class="next-runs" aria-label="Next run times">
              {nextRuns.map((at) => (
                <li>
                  <Time at={at} now={now} /> <small class="muted">{exactTime(at)}</small>
                </li>
              ))}
            </ol>
          ) : (
            <p class="muted">No run to come.</p>
          )}
        </section>
      ) : null}
      <section aria-labelledby="runs-heading">
        <h2 id="runs-heading">
          Runs <span class="muted">({runsInfo.totalExact ? runsInfo.total : `${runsInfo.total}+`})</span>
        </h2>
        {runs.length === 0 ? (
          <p class="muted">{runsInfo.total === 0 ? "Not run yet. Run it: each run and its webhook appear here." : "No runs on this page."}</p>
        ) : (
          <ol class="runs">
            {runs.map((run, i) => (
              <RunItem run={run} attempts={attempts.get(run.id) ?? []} open={i === 0 && runsInfo.page === 1} now={now} />
            ))}
          </ol>
        )}
        <Pagination info={runsInfo} hrefFor={(to) => jobPageUrl(job.id, to)} target="#job-live" swap="morph" />
      </section>
    </div>
  );
}

/** What a run's summary line says of its time: due (not started), cancelled (when), else started. */
function RunWhen({ run, now }: { run: RunView; now: Date }) {
  if (run.status === "CANCELLED" && run.completedAt) return <>cancelled <Time at={run.completedAt} now={now} /></>;
  if (!run.startedAt) return <>due <Time at={run.dueAt} now={now} /></>;
  return <>started <Time at={run.startedAt} now={now} /></>;
}

/** A run not started (and owing no webhook): when it is due, or when it was cancelled; nothing more to show. */
function NotStarted({ run, now }: { run: RunView; now: Date }) {
  if (run.status === "CANCELLED") {
    return (
      <p class="run-when">
        Cancelled <Time at={run.completedAt} now={now} />, before it started{run.failureReason ? ` (${run.failureReason})` : ""}. It was due {exactTime(run.dueAt)}.
      </p>
    );
  }
  return (
    <p class="run-when">
      Due <Time at={run.dueAt} now={now} /> <small class="muted">{exactTime(run.dueAt)}</small>
    </p>
  );
}

const ENDED: Partial<Record<RunView["status"], string>> = { COMPLETED: "Completed", FAILED: "Failed", CANCELLED: "Cancelled" };

function RunItem({ run, attempts, open, now }: { run: RunView; attempts: LogView[]; open: boolean; now: Date }) {
  const delivery = run.delivery;
  const step = (label: string, at: Date | null) => (
    <li class={at ? "done" : "todo"}>
      <span>{label}</span> <Time at={at} now={now} />
    </li>
  );
  // A cancelled run sends a webhook only when the job asked for one (notifyOnCancel): then it has a delivery.
  const owesWebhook = run.status !== "CANCELLED" || delivery !== null;
  return (
    <li id={`run-${run.id}`} class="run" data-run-id={run.id} data-status={run.status}>
      <details id={`run-${run.id}-details`} open={open}>
        <summary>
          <strong>Run {run.number}</strong> <StatusBadge status={run.status} /> <DeliveryBadge delivery={delivery} />{" "}
          <span class="muted">
            <RunWhen run={run} now={now} />
          </span>
        </summary>
        {run.startedAt || delivery ? (
          <div class="run-body">
            <ol class="timeline" aria-label={`Timeline of run ${run.number}`}>
              {run.startedAt || run.status !== "CANCELLED" ? step("Started", run.startedAt) : null}
              {step(ENDED[run.status] ?? "Completed", run.completedAt)}
              {owesWebhook ? step("Webhook delivered", delivery?.deliveredAt ?? null) : null}
            </ol>
            {run.failureReason && run.status === "FAILED" ? <p class="attempt-error">Failed: {run.failureReason}</p> : null}
            {run.failureReason && run.status === "CANCELLED" ? <p class="muted">Reason: {run.failureReason}</p> : null}
            {delivery ? (
              <dl class="delivery">
                <dt>Webhook id</dt>
                <dd>
                  <CopyId id={delivery.id} label="webhook id" />
                </dd>
                <dt>Target</dt>
                <dd>
                  <code>{delivery.url ?? "WEBHOOK_URL (at the first attempt)"}</code>
                </dd>
                <dt>Event</dt>
                <dd>{delivery.event}</dd>
                {delivery.state === "RETRYING" && delivery.nextAttemptAt ? (
                  <>
                    <dt>Next attempt</dt>
                    <dd>
                      <Time at={delivery.nextAttemptAt} now={now} /> (last error: {delivery.lastError})
                    </dd>
                  </>
                ) : null}
                {delivery.state === "FAILED" ? (
                  <>
                    <dt>Gave up</dt>
                    <dd class="attempt-error">{delivery.lastError}</dd>
                  </>
                ) : null}
              </dl>
            ) : owesWebhook ? (
              <p class="muted">Its webhook is sent when the run finishes.</p>
            ) : (
              <p class="muted">No webhook: this job does not notify on cancel.</p>
            )}
            {delivery ? (
              <form method="post" action={`/runs/${run.id}/redeliver`} hx-post={`/runs/${run.id}/redeliver`} hx-target="#job-live" hx-swap="morph" class="redeliver">
                {/* Kept while its webhook is under way, aria-disabled (as Run is): pressed, it keeps the keyboard focus. */}
                <button type="submit" class="secondary" aria-disabled={deliveryActive(delivery) ? "true" : undefined} aria-label={`Redeliver webhook of run ${run.number}`}>
                  Redeliver webhook
                </button>
                <small class="muted"> A new series of attempts: same webhook-id, same body.</small>
              </form>
            ) : null}
            <details id={`run-${run.id}-ran`} class="ran">
              <summary>What ran</summary>
              <p>
                <span class="task-name">{run.taskName}</span> <PriorityBadge priority={run.priority} />
              </p>
              <pre class="mono">{prettyJson(run.payload)}</pre>
            </details>
            {owesWebhook ? (
              <>
                <h3>Webhook attempts</h3>
                <AttemptList logs={attempts} now={now} />
              </>
            ) : null}
          </div>
        ) : (
          <div class="run-body">
            <NotStarted run={run} now={now} />
          </div>
        )}
      </details>
    </li>
  );
}
