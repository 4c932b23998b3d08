/**
 * Correct under every interleaving: the races that production leaves to chance, made to happen (a start
 * message that arrives after another path started its run; a run that finishes between a cancel's read
 * and its write; a slot taken between a dispatcher's read and its write), and the faults the sweep and
 * the dispatcher must survive (a lost or slow queue, a failing phase, a schedule that no longer reads).
 */
import { createExecutionContext, createMessageBatch, createScheduledController, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Env, JobMessage } from "../src/env";
import worker from "../src/index";
import { runJob } from "../src/jobs/service";
import { dispatch } from "../src/runs/dispatch";
import { cancelJob } from "../src/runs/service";
import { COMPLETION_DEADLINE_MS } from "../src/background/sweep";
import { API_TOKEN, call, deliverRecorded, getJob, ORIGIN, received, runRows, sessionCookie } from "./support/helpers";
import { interleave } from "./support/interleave";

/** The queue binding keeping what the app sends, instead of delivering it: a test delivers it when it chooses. */
function capturingQueue() {
  const sent: { body: JobMessage; delaySeconds?: number }[] = [];
  const queue = {
    send: async (body: JobMessage, options?: QueueSendOptions) => void sent.push({ body, delaySeconds: options?.delaySeconds }),
    sendBatch: async (messages: Iterable<MessageSendRequest<JobMessage>>) => {
      for (const m of messages) sent.push({ body: m.body, delaySeconds: m.delaySeconds });
    },
  } as unknown as Env["JOB_QUEUE"];
  return { sent, queue };
}

/** Delivers messages to the real consumer as the queue would, and answers what it did with each. */
async function deliver(bodies: JobMessage[], withEnv: Env) {
  const messages = bodies.map((body) => ({ id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body }));
  const batch = createMessageBatch<unknown>("job-scheduler-runs", messages);
  await worker.queue(batch, withEnv);
  return getQueueResult(batch, createExecutionContext());
}

/** Creates a job through the API with `withEnv`'s bindings (its queue: a capturing one, so nothing runs behind the test's back). */
async function createWith(withEnv: Env, fields: Record<string, unknown> = {}): Promise<{ id: string }> {
  const res = await worker.fetch(
    new Request(`${ORIGIN}/api/jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ taskName: `interleaving ${crypto.randomUUID()}`, payload: {}, ...fields }),
    }),
    withEnv,
  );
  const body = (await res.json()) as any;
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(body)}`);
  return body.data;
}

const sweepAt = (at: Date, withEnv: Env) => worker.scheduled(createScheduledController({ scheduledTime: at.getTime(), cron: "* * * * *" }), withEnv);

afterEach(() => void vi.restoreAllMocks());

describe("a run lasts its duration, whoever starts it", () => {
  it("a start message that arrives after the dispatcher started its run does not complete it early: it comes back for the rest", async () => {
    const { sent, queue } = capturingQueue();
    const e: Env = { ...env, JOB_DURATION_SECONDS: "3", JOB_QUEUE: queue };
    const job = await createWith(e, { runAt: new Date(Date.now() + 1000).toISOString() });
    await new Promise((r) => setTimeout(r, 1100));
    // Another path (a create due at once, the sweep, a completion's dispatch) starts every due run first...
    const { started } = await dispatch(e);
    expect(started.map((run) => run.jobId)).toContain(job.id);
    // ... then the run's own start message arrives.
    const [settled] = await deliverRecorded("job-scheduler-runs", [{ jobId: job.id, run: 1 }], e, 1);

    const [run] = await runRows(job.id);
    expect(run).toMatchObject({ status: "IN_PROGRESS", completedAt: null, state: null });
    expect(await received(job.id)).toEqual([]);
    // Back in the queue for the rest of its 3 s (rounded down: it comes up to a second early and waits).
    expect(settled).toMatchObject({ how: "retry" });
    expect(settled!.delaySeconds).toBeGreaterThanOrEqual(1);
    expect(settled!.delaySeconds).toBeLessThanOrEqual(2);

    // When it comes back at the end of the run, it completes it; the webhook says the run lasted its duration.
    await new Promise((r) => setTimeout(r, 3000 - (Date.now() - run!.startedAt) + 50));
    await deliver([{ jobId: job.id, run: 1 }], e);
    const [hook] = await received(job.id);
    expect(hook!.body.status).toBe("COMPLETED");
    expect(Date.parse(hook!.body.completedAt) - Date.parse(hook!.body.startedAt)).toBeGreaterThanOrEqual(3000);
    expect(sent.length).toBeGreaterThan(0);
  });

  it("a message that comes less than 1.5 s before its run's end waits for it here and completes it then", async () => {
    const { queue } = capturingQueue();
    const e: Env = { ...env, JOB_DURATION_SECONDS: "1", JOB_QUEUE: queue };
    const job = await createWith(e);
    await runJob(e, job.id);
    const result = await deliver([{ jobId: job.id, run: 1 }], e);
    expect(result.retryMessages).toEqual([]);
    const [run] = await runRows(job.id);
    expect(run).toMatchObject({ status: "COMPLETED", state: "DELIVERED" });
    expect(run!.completedAt - run!.startedAt).toBeGreaterThanOrEqual(1000);
  });
});

describe("a catch-up run takes its occurrence's time only if it starts", () => {
  it("a dispatcher that read it first but writes second moves nothing: the run in line first gets the last slot, once, at its catch-up time", async () => {
    const { queue } = capturingQueue();
    // One slot; a schedule whose occurrence was missed 10 minutes ago (policy: run it once), and another job's run due now.
    const e: Env = { ...env, MAX_CONCURRENT_RUNS: "1", JOB_DURATION_SECONDS: "3600", JOB_QUEUE: queue };
    const recurring = await createWith(e, { schedule: { cron: "* * * * *", missed: "once", overlap: "allow" } });
    const other = await createWith(e, { runAt: new Date(Date.now() + 60_000).toISOString() });
    const missedAt = Math.floor((Date.now() - 10 * 60_000) / 60_000) * 60_000;
    await env.DB.prepare("UPDATE runs SET dueAt = ?1, occurrenceAt = ?1, occurrenceKey = ?1, rank = ?1 + 30000, expectedAt = NULL WHERE jobId = ?2").bind(missedAt, recurring.id).run();
    // The other run is due just after the missed one's catch-up time would put it (so, retimed, it would go second).
    await env.DB.prepare("UPDATE runs SET dueAt = ?1, rank = ?1 + 30000, expectedAt = NULL WHERE jobId = ?2").bind(Date.now() - 90_000, other.id).run();
    const [before] = await runRows(recurring.id);

    // Dispatcher A reads both due runs and picks the catch-up run for the one slot; just before its
    // write, dispatcher B (another Worker) reads and dispatches.
    const b = () => dispatch(e);
    const raced = interleave(env.DB, `"IN_PROGRESS"`, b);
    await dispatch({ ...e, DB: raced.db });
    expect(raced.fired()).toBe(true);

    const [catchUp] = await runRows(recurring.id);
    const [otherRun] = await runRows(other.id);
    // B found the catch-up run first in line (A had not moved it) and started it at its catch-up time; A,
    // whose start lost, changed nothing. (Had A moved it before its start, B would have started the
    // other run and left the catch-up run waiting at a time that is not its own.)
    expect(catchUp).toMatchObject({ status: "IN_PROGRESS" });
    expect(catchUp!.occurrenceAt).toBeGreaterThan(before!.occurrenceAt);
    expect(catchUp!.dueAt).toBe(catchUp!.occurrenceAt);
    expect(otherRun).toMatchObject({ status: "SCHEDULED", dueAt: otherRun!.dueAt });
  });
});

describe("cancel is all or nothing", () => {
  it("a run that finishes between the cancel's read and its write: 409, and nothing of the cancel is written", async () => {
    const { queue } = capturingQueue();
    const e: Env = { ...env, JOB_DURATION_SECONDS: "0", JOB_QUEUE: queue, WEBHOOK_URL: env.WEBHOOK_URL };
    const job = await createWith(e, { notifyOnCancel: true });
    await runJob(e, job.id);
    const runningBefore = await getJob(job.id);
    expect(runningBefore.status).toBe("IN_PROGRESS");

    // Just before the cancel's write, the run's message completes it (and a person runs the job again).
    const raced = interleave(env.DB, "cancelled by request", async () => {
      await deliver([{ jobId: job.id, run: 1 }], e);
      await runJob({ ...e, JOB_DURATION_SECONDS: "3600" }, job.id);
    });
    await expect(cancelJob({ ...e, DB: raced.db }, job.id)).rejects.toMatchObject({ kind: "conflict" });
    expect(raced.fired()).toBe(true);

    const runs = await runRows(job.id);
    expect(runs.map((r) => [r.number, r.status])).toEqual([
      [1, "COMPLETED"],
      [2, "IN_PROGRESS"],
    ]);
    // The job shows its newest run (not the one the cancel had read), and run 1 has its completion webhook only.
    const after = await getJob(job.id);
    expect(after).toMatchObject({ status: "IN_PROGRESS", latestRun: { number: 2 } });
    expect(runs[0]!.body).toContain('"event":"job.completed"');
    expect((await received(job.id)).map((h) => h.body.event)).toEqual(["job.completed"]);
  });

  it("a scheduled occurrence that starts between the cancel's read and its write is cancelled as it runs, and the schedule makes one next occurrence, not two", async () => {
    const { queue } = capturingQueue();
    const e: Env = { ...env, JOB_DURATION_SECONDS: "3600", JOB_QUEUE: queue };
    const job = await createWith(e, { schedule: { cron: "* * * * *" } });
    const [planned] = await runRows(job.id);
    await env.DB.prepare("UPDATE runs SET dueAt = ?1, occurrenceAt = ?1, occurrenceKey = ?1, rank = ?1 + 30000 WHERE id = ?2").bind(Math.floor(Date.now() / 60_000) * 60_000, planned!.id).run();
    await env.DB.prepare("UPDATE jobs SET scheduleCursor = ?1 WHERE id = ?2").bind(Math.floor(Date.now() / 60_000) * 60_000, job.id).run();

    const raced = interleave(env.DB, "cancelled by request", () => dispatch(e));
    const cancelled = await cancelJob({ ...e, DB: raced.db }, job.id);
    expect(raced.fired()).toBe(true);
    const runs = await runRows(job.id);
    // The occurrence started (the dispatcher made the next one), then the cancel stopped it; the
    // occurrence the cancel would have made is that same next one, made once.
    expect(runs.map((r) => [r.number, r.status])).toEqual([
      [1, "CANCELLED"],
      [2, "SCHEDULED"],
    ]);
    expect(cancelled).toMatchObject({ status: "SCHEDULED", occurrences: 2, latestRun: { number: 1, status: "CANCELLED" } });
  });
});

describe("the sweep never fails a healthy run, and each phase stands alone", () => {
  it("keeps sending a slow run's message with a growing pause, never failing it within the hour, then fails it with the reason", async () => {
    const { sent, queue } = capturingQueue();
    const e: Env = { ...env, JOB_DURATION_SECONDS: "1", JOB_QUEUE: queue };
    const job = await createWith(e);
    await runJob(e, job.id);
    const [run] = await runRows(job.id);
    sent.splice(0);
    // Its message never comes (the queue is slow or lost it): sweeps at 2, 4, 8, 16, 32 and 59 minutes.
    const requeuedAt: number[] = [];
    for (const minutes of [2, 4, 8, 16, 32, 59]) {
      await sweepAt(new Date(run!.startedAt + minutes * 60_000), e);
      if (sent.some((m) => m.body.jobId === job.id)) requeuedAt.push(minutes);
      sent.splice(0);
    }
    expect((await runRows(job.id))[0]).toMatchObject({ status: "IN_PROGRESS" });
    // More than three copies (the old limit failed it after three), spaced out rather than one a minute.
    expect(requeuedAt.length).toBeGreaterThan(3);
    expect(requeuedAt.length).toBeLessThan(6);

    // An hour past its expected end: FAILED, with the reason in the run, and its job.failed webhook queued.
    await sweepAt(new Date(run!.startedAt + 1000 + COMPLETION_DEADLINE_MS + 61_000), e);
    const [failed] = await runRows(job.id);
    expect(failed).toMatchObject({ status: "FAILED", state: "PENDING" });
    expect(failed!.failureReason).toMatch(/no completion was recorded within 60 min of its expected end/);
    expect(sent.map((m) => m.body)).toContainEqual({ jobId: job.id, run: 1 });
  });

  it("a slow message that arrives after several re-sends still completes the run, once", async () => {
    const { queue } = capturingQueue();
    const e: Env = { ...env, JOB_DURATION_SECONDS: "1", JOB_QUEUE: queue };
    const job = await createWith(e);
    await runJob(e, job.id);
    const [run] = await runRows(job.id);
    for (const minutes of [2, 4, 8, 16]) await sweepAt(new Date(run!.startedAt + minutes * 60_000), e);
    await deliver([{ jobId: job.id, run: 1 }, { jobId: job.id, run: 1 }], e);
    expect((await runRows(job.id))[0]).toMatchObject({ status: "COMPLETED", state: "DELIVERED" });
    expect(await received(job.id)).toHaveLength(1);
  });

  it("a phase that fails (the queue refuses every send) is logged, and the later phases still run", async () => {
    const { queue } = capturingQueue();
    const e: Env = { ...env, JOB_DURATION_SECONDS: "3600", JOB_QUEUE: queue };
    const failing = { send: async () => Promise.reject(new Error("queue unavailable")), sendBatch: async () => Promise.reject(new Error("queue unavailable")) } as unknown as Env["JOB_QUEUE"];
    // A run in progress whose message was lost (the overdue phase's send fails) and a run due now (the dispatch phase).
    const lost = await createWith(e);
    await runJob(e, lost.id);
    await env.DB.prepare("UPDATE runs SET startedAt = ?1, expectedAt = ?1 WHERE jobId = ?2").bind(Date.now() - 10 * 60_000, lost.id).run();
    const due = await createWith(e, { runAt: new Date(Date.now() + 60_000).toISOString() });
    await env.DB.prepare("UPDATE runs SET dueAt = ?1, rank = ?1, expectedAt = NULL WHERE jobId = ?2").bind(Date.now() - 1000, due.id).run();

    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    await sweepAt(new Date(), { ...e, JOB_QUEUE: failing });
    expect((await runRows(due.id))[0]).toMatchObject({ status: "IN_PROGRESS" });
    const lines = errors.mock.calls.map((args) => String(args[0]));
    expect(lines.some((line) => line.includes('"event":"sweep.phase_failed"') && line.includes('"phase":"overdue-runs"'))).toBe(true);
    // The dispatch phase logged its lost completion send (the sweep re-sends it later) with the run's job.
    expect(lines.some((line) => line.includes('"event":"queue.send_failed"') && line.includes(due.id))).toBe(true);
  });
});

describe("one bad schedule never stalls dispatching", () => {
  it("cancels the occurrence of a schedule that no longer evaluates, says why on its page, and starts every other due run", async () => {
    const { queue } = capturingQueue();
    const e: Env = { ...env, JOB_DURATION_SECONDS: "3600", JOB_QUEUE: queue };
    const bad = await createWith(e, { schedule: { cron: "* * * * *", missed: "once", limit: 1 } });
    const healthy = [await createWith(e, { runAt: new Date(Date.now() + 60_000).toISOString() }), await createWith(e, { runAt: new Date(Date.now() + 60_000).toISOString() })];
    // Its stored schedule no longer reads (a zone gone from the time zone database), its limit is reached,
    // and its one occurrence was missed: the dispatcher must work out a catch-up time for it.
    const missedAt = Date.now() - 10 * 60_000;
    await env.DB.prepare(`UPDATE jobs SET schedule = json_set(schedule, '$.timezone', 'Mars/Olympus'), nextRunAt = ?1 WHERE id = ?2`).bind(missedAt, bad.id).run();
    await env.DB.prepare("UPDATE runs SET dueAt = ?1, occurrenceAt = ?1, occurrenceKey = ?1, rank = ?1, expectedAt = NULL WHERE jobId = ?2").bind(missedAt, bad.id).run();
    // Before the dispatcher comes, its page still answers (its run to come, without the times after it).
    expect((await call("GET", `/api/jobs/${bad.id}`)).status).toBe(200);
    const before = await worker.fetch(new Request(`${ORIGIN}/jobs/${bad.id}`, { headers: { cookie: await sessionCookie(), accept: "text/html" } }), env);
    expect(before.status).toBe(200);
    for (const job of healthy) await env.DB.prepare("UPDATE runs SET dueAt = ?1, rank = ?1 + 30000, expectedAt = NULL WHERE jobId = ?2").bind(Date.now() - 1000, job.id).run();

    await dispatch(e);
    for (const job of healthy) expect((await runRows(job.id))[0]).toMatchObject({ status: "IN_PROGRESS" });
    const [cancelled] = await runRows(bad.id);
    expect(cancelled).toMatchObject({ status: "CANCELLED" });
    expect(cancelled!.failureReason).toMatch(/^the schedule cannot be evaluated: /);

    // Its page and its API answer, and say why.
    expect((await call("GET", `/api/jobs/${bad.id}/runs`)).body.data[0].failureReason).toMatch(/schedule cannot be evaluated/);
    const page = await worker.fetch(new Request(`${ORIGIN}/jobs/${bad.id}`, { headers: { cookie: await sessionCookie(), accept: "text/html" } }), env);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("the schedule cannot be evaluated");
  });
});
