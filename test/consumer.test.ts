/**
 * The queue() handler called directly with message batches, against the real D1 and the real test
 * receiver: duplicates, stale runs, deleted jobs, a receiver that is down, concurrency in a batch.
 * Runs are started with a one-hour duration so the real queue never delivers their own message here.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import type { Env, JobMessage } from "../src/env";
import { runJob } from "../src/jobs/service";
import { call, createJob, getJob, logRows, received, runRows } from "./support/helpers";

const quietEnv: Env = { ...env, JOB_DURATION_SECONDS: "3600" };

async function startLongRun(fields: Record<string, unknown> = {}): Promise<JobMessage> {
  const job = await createJob(fields);
  const started = await runJob(quietEnv, job.id);
  return { jobId: started.id, run: started.latestRun!.number } satisfies JobMessage;
}

async function deliver(bodies: unknown[], withEnv: Env = env) {
  const messages = bodies.map((body, i) => ({ id: `m${i}-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 1, body }));
  const batch = createMessageBatch<unknown>("job-scheduler-runs", messages);
  const ctx = createExecutionContext();
  await worker.queue(batch, withEnv);
  const result = await getQueueResult(batch, ctx);
  return { messages, result };
}

describe("queue consumer", () => {
  it("completes a job once when the same message arrives twice at the same time", async () => {
    // The receiver answers after 500 ms: the copy that loses the completion meets the winner's attempt
    // still in flight whatever the machine's load (with an instant answer it could find it delivered).
    const msg: JobMessage = await startLongRun({ payload: { receiver: { script: [{ status: 200, delayMs: 500 }] } } });
    const { messages, result } = await deliver([msg, msg]);

    const job = await getJob(msg.jobId);
    expect(job).toMatchObject({ status: "COMPLETED", latestRun: { delivery: { state: "DELIVERED", attempts: 1 } } });
    expect(await received(msg.jobId)).toHaveLength(1);
    expect(await logRows(msg.jobId)).toHaveLength(1);
    // One copy was acknowledged; the other lost the race and is retried later, not dropped.
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toHaveLength(1);
    expect(messages.map((m) => m.id)).toEqual(expect.arrayContaining([result.explicitAcks[0], result.retryMessages[0]!.msgId]));
  });

  it("acknowledges a later duplicate without a second COMPLETED transition or webhook", async () => {
    const msg = await startLongRun();
    await deliver([msg]);
    const first = await getJob(msg.jobId);

    const { result } = await deliver([msg]);
    expect(result.explicitAcks).toHaveLength(1);
    const after = await getJob(msg.jobId);
    expect(after.latestRun.completedAt).toBe(first.latestRun.completedAt);
    expect(after.updatedAt).toBe(first.updatedAt);
    expect(await runRows(msg.jobId)).toHaveLength(1);
    expect(await received(msg.jobId)).toHaveLength(1);
    expect(await logRows(msg.jobId)).toHaveLength(1);
  });

  it("acknowledges a duplicate message for an earlier, finished run and leaves the newer run alone", async () => {
    const stale = await startLongRun();
    await deliver([stale]);
    const newer = await runJob(quietEnv, stale.jobId);
    expect(newer.latestRun!.number).toBe(stale.run + 1);

    const { result } = await deliver([stale]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(await getJob(stale.jobId)).toMatchObject({ status: "IN_PROGRESS", latestRun: { number: newer.latestRun!.number, completedAt: null } });
    expect(await logRows(stale.jobId)).toHaveLength(1);
  });

  it("accepts a message queued before runs were records ({ jobId, runId: <number> })", async () => {
    const msg = await startLongRun();
    const { result } = await deliver([{ jobId: msg.jobId, runId: msg.run }]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(await getJob(msg.jobId)).toMatchObject({ status: "COMPLETED", latestRun: { delivery: { state: "DELIVERED" } } });
  });

  it("acknowledges a message for a deleted job and writes nothing", async () => {
    const msg = await startLongRun();
    await call("DELETE", `/api/jobs/${msg.jobId}`);
    const { result } = await deliver([msg]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(await received(msg.jobId)).toHaveLength(0);
    expect(await logRows(msg.jobId)).toHaveLength(0);
  });

  it("acknowledges a malformed message instead of retrying it forever", async () => {
    const { result } = await deliver([{ nonsense: true }, "text", null]);
    expect(result.explicitAcks).toHaveLength(3);
    expect(result.retryMessages).toEqual([]);
  });

  it("logs connection errors for a receiver that is down, retries, then marks the delivery failed with the job still COMPLETED", async () => {
    const downEnv: Env = { ...env, WEBHOOK_URL: env.DEAD_URL, WEBHOOK_RETRY_SCHEDULE: "0s" };
    const msg = await startLongRun();

    const first = await deliver([msg], downEnv);
    expect(first.result.retryMessages).toEqual([{ msgId: first.messages[0]!.id }]);
    expect(await getJob(msg.jobId)).toMatchObject({ status: "COMPLETED", latestRun: { delivery: { state: "RETRYING", attempts: 1 } } });

    await deliver([msg], downEnv);
    const last = await deliver([msg], downEnv);
    expect(last.result.explicitAcks).toHaveLength(1);

    const job = await getJob(msg.jobId);
    expect(job).toMatchObject({ status: "COMPLETED", latestRun: { delivery: { state: "FAILED", attempts: 3 } } });
    const logs = await logRows(msg.jobId);
    expect(logs.map((l) => l.attempt)).toEqual([1, 2, 3]);
    for (const log of logs) {
      expect(log.responseStatus).toBeNull();
      expect(log.error).toMatch(/connection refused|network error/);
      expect(log.url).toBe(env.DEAD_URL);
    }
  });

  it("schedules the retry after the backoff delay and does not send early for a copy that arrives sooner", async () => {
    const downEnv: Env = { ...env, WEBHOOK_URL: env.DEAD_URL, WEBHOOK_RETRY_SCHEDULE: "7s", WEBHOOK_MAX_ATTEMPTS: "5" };
    const msg = await startLongRun();
    const first = await deliver([msg], downEnv);
    expect(first.result.retryMessages).toHaveLength(1);
    const [log] = await logRows(msg.jobId);
    const job = await getJob(msg.jobId);
    expect(job.latestRun.delivery.state).toBe("RETRYING");
    expect(new Date(job.latestRun.delivery.nextAttemptAt).getTime()).toBe(log!.nextRetryAt);
    const waitMs = log!.nextRetryAt - (log!.sentAt + log!.durationMs);
    expect(waitMs).toBeGreaterThanOrEqual(6_900);
    expect(waitMs).toBeLessThanOrEqual(7_100);

    const early = await deliver([msg], downEnv);
    expect(early.result.retryMessages).toHaveLength(1);
    expect(await logRows(msg.jobId)).toHaveLength(1);
  });

  it("handles the messages of a batch concurrently", async () => {
    // Each answer takes 1 s (the tests' WEBHOOK_TIMEOUT_MS is 1.5 s): one at a time, the last request would
    // come 2 s after the first answer. The margin is for a loaded machine, where the work before a send can
    // take hundreds of ms.
    const slow = { receiver: { script: [{ status: 200, delayMs: 1000 }] } };
    const runs = [await startLongRun({ payload: slow }), await startLongRun({ payload: slow }), await startLongRun({ payload: slow })];
    await deliver(runs);
    const hooks = (await Promise.all(runs.map((r) => received(r.jobId)))).map((list) => list[0]!);
    // Every request arrived before any was answered: all three were in flight together.
    const lastArrival = Math.max(...hooks.map((h) => h.receivedAt));
    const firstAnswer = Math.min(...hooks.map((h) => h.respondedAt!));
    expect(lastArrival).toBeLessThan(firstAnswer);
  });

  it("retries only the failing message of a batch", async () => {
    const good = await startLongRun();
    const bad = await startLongRun({ payload: { receiver: { script: [500] } } });
    const { messages, result } = await deliver([good, bad]);
    expect(result.explicitAcks).toEqual([messages[0]!.id]);
    expect(result.retryMessages.map((m: { msgId: string }) => m.msgId)).toEqual([messages[1]!.id]);
  });

  it("records a failed attempt when no WEBHOOK_URL is configured, without retrying; a redelivery once it is set goes there", async () => {
    const msg = await startLongRun();
    const { result } = await deliver([msg], { ...env, WEBHOOK_URL: "" });
    expect(result.explicitAcks).toHaveLength(1);
    const job = await getJob(msg.jobId);
    expect(job).toMatchObject({ status: "COMPLETED", latestRun: { delivery: { state: "FAILED", url: null } } });
    expect((await logRows(msg.jobId))[0]).toMatchObject({ error: "WEBHOOK_URL is not configured", attempt: 1 });

    expect((await call("POST", `/api/runs/${job.latestRun.id}/redeliver`)).status).toBe(202);
    await deliver([msg]);
    expect(await getJob(msg.jobId)).toMatchObject({ latestRun: { delivery: { state: "DELIVERED", url: env.WEBHOOK_URL, series: 2 } } });
  });
});
