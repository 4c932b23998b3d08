/**
 * Fault tests for webhook delivery: signatures a receiver can verify, the retry policy, fencing, the
 * dead-letter queue, the sweep, and redelivery by hand. Real local D1 and queue, real HTTP receiver.
 */
import { createExecutionContext, createMessageBatch, createScheduledController, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import type { Env, JobMessage } from "../src/env";
import { runJob } from "../src/jobs/service";
import worker from "../src/index";
import { parseRetryAfter } from "../src/webhooks/sender";
import { signatureHeader } from "../src/webhooks/signing";
import { API_TOKEN, call, createJob, delivered, deliveryState, failClaimsOf, getJob, logRows, received, runRows, waitForJob } from "./support/helpers";

const secret = env.WEBHOOK_SECRET!;
const quietEnv: Env = { ...env, JOB_DURATION_SECONDS: "3600" };

async function startLongRun(fields: Record<string, unknown> = {}): Promise<JobMessage> {
  const job = await createJob(fields);
  const started = await runJob(quietEnv, job.id);
  return { jobId: started.id, run: started.latestRun!.number };
}

/**
 * Delivers messages to the consumer as the queue would. The consumer runs with no run duration: the
 * hour-long runs of startLongRun count as having lasted it (a run completes only once it has).
 */
async function deliver(queue: string, bodies: unknown[], withEnv: Env = env) {
  const messages = bodies.map((body, i) => ({ id: `m${i}-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 1, body }));
  const batch = createMessageBatch<unknown>(queue, messages);
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...withEnv, JOB_DURATION_SECONDS: "0" });
  return { messages, result: await getQueueResult(batch, ctx) };
}

async function runSweep(at: Date, withEnv: Env = env) {
  await worker.scheduled(createScheduledController({ scheduledTime: at.getTime(), cron: "* * * * *" }), withEnv);
}

const headersOf = (h: Record<string, unknown>) =>
  Object.fromEntries(["webhook-id", "webhook-timestamp", "webhook-signature"].map((k) => [k, String(h[k])]));

describe("Standard Webhooks signatures", () => {
  it("signs every attempt so the standardwebhooks package verifies it, with one webhook-id across retries", async () => {
    const job = await createJob({ payload: { receiver: { script: [500, 200] } } });
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, delivered);
    const hooks = await received(job.id);
    expect(hooks).toHaveLength(2);
    const wh = new Webhook(secret);
    for (const hook of hooks) {
      expect(wh.verify(hook.rawBody, headersOf(hook.headers))).toEqual(hook.body);
      expect(hook.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+={0,2}$/);
      expect(Math.abs(Number(hook.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(60);
    }
    expect(new Set(hooks.map((h) => h.headers["webhook-id"]))).toEqual(new Set([`whd_${job.id}_1`]));
  });

  it("is rejected by a receiver when the body was tampered with", async () => {
    const job = await createJob({ payload: { amount: 10 } });
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, delivered);
    const [hook] = await received(job.id);
    const tampered = hook!.rawBody.replace('"amount":10', '"amount":10000');
    expect(tampered).not.toBe(hook!.rawBody);
    expect(() => new Webhook(secret).verify(tampered, headersOf(hook!.headers))).toThrow(/No matching signature/);
  });

  it("is rejected by a receiver when the timestamp is stale (a replay), even with a valid signature", async () => {
    const body = JSON.stringify({ event: "job.completed" });
    const old = Math.floor(Date.now() / 1000) - 600;
    const headers = { "webhook-id": "whd_x_1", "webhook-timestamp": String(old), "webhook-signature": await signatureHeader([secret], "whd_x_1", old, body) };
    expect(() => new Webhook(secret).verify(body, headers)).toThrow(/too old/);
    const now = Math.floor(Date.now() / 1000);
    const fresh = { ...headers, "webhook-timestamp": String(now), "webhook-signature": await signatureHeader([secret], "whd_x_1", now, body) };
    expect(new Webhook(secret).verify(body, fresh)).toEqual({ event: "job.completed" });
  });

  it("carries one signature per secret during a rotation, each verifiable", async () => {
    const next = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const body = '{"a":1}';
    const ts = Math.floor(Date.now() / 1000);
    const header = await signatureHeader([secret, next], "whd_y_1", ts, body);
    expect(header.split(" ")).toHaveLength(2);
    for (const s of [secret, next]) {
      expect(new Webhook(s).verify(body, { "webhook-id": "whd_y_1", "webhook-timestamp": String(ts), "webhook-signature": header })).toEqual({ a: 1 });
    }
  });
});

describe("retry policy", () => {
  it("stops retrying at once on 410 Gone and marks the delivery failed", async () => {
    const job = await createJob({ payload: { receiver: { script: [410] } } });
    await call("POST", `/api/jobs/${job.id}/run`);
    const done = await waitForJob(job.id, (j) => deliveryState(j) === "FAILED");
    expect(done).toMatchObject({ status: "COMPLETED", latestRun: { delivery: { attempts: 1, lastError: "receiver answered HTTP 410 Gone: no more retries" } } });
    expect(await received(job.id)).toHaveLength(1);
    expect((await logRows(job.id))[0]).toMatchObject({ responseStatus: 410, nextRetryAt: null });
  });

  it("waits as long as a 429's Retry-After asks before the next attempt", async () => {
    const job = await createJob({ payload: { receiver: { script: [{ status: 429, headers: { "retry-after": "3" } }, 200] } } });
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, delivered, 20_000);
    const [first, second] = await received(job.id);
    // The schedule alone would wait 1 s in tests; the receiver asked for 3.
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(2_900);
    const [log] = await logRows(job.id);
    expect(log).toMatchObject({ responseStatus: 429, error: "receiver answered HTTP 429 (Retry-After: 3)" });
    expect(log!.nextRetryAt - (log!.sentAt + log!.durationMs)).toBe(3_000);
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-11-28T12:00:00Z");
    expect(parseRetryAfter("120", now)).toBe(120);
    expect(parseRetryAfter("Sat, 28 Nov 2026 12:05:00 GMT", now)).toBe(300);
    expect(parseRetryAfter("Sat, 28 Nov 2026 11:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeNull();
    expect(parseRetryAfter("9999999", now)).toBe(86_400);
  });
});

describe("fencing", () => {
  it("lets an attempt that outlived its lease settle nothing after a newer attempt delivered", async () => {
    const slow = await startLongRun({ payload: { receiver: { script: [{ status: 500, delayMs: 1000 }, 200] } } });
    const first = deliver("job-scheduler-runs", [slow]);
    // While attempt 1 is in flight, its lease runs out (as if its worker stalled) ...
    await new Promise((r) => setTimeout(r, 300));
    await env.DB.prepare("UPDATE deliveries SET leaseUntil = 0 WHERE webhookId = ?").bind(`whd_${slow.jobId}_${slow.run}`).run();
    // ... and another copy of the message takes attempt 2, which is delivered.
    await deliver("job-scheduler-runs", [slow]);
    expect(await getJob(slow.jobId)).toMatchObject({ latestRun: { delivery: { state: "DELIVERED", attempts: 2 } } });

    await first; // attempt 1 ends with its 500 only now
    const job = await getJob(slow.jobId);
    expect(job).toMatchObject({ latestRun: { delivery: { state: "DELIVERED", attempts: 2, lastError: null } } });
    const logs = await logRows(slow.jobId);
    expect(logs.map((l) => [l.attempt, l.responseStatus]).sort()).toEqual([[1, 500], [2, 200]]);
    // The late attempt is among its run's on the run's page too.
    const run = (await call("GET", `/api/runs/${job.latestRun.id}`)).body.data;
    expect(run.attempts.map((a: any) => [a.attempt, a.responseStatus]).sort()).toEqual([[1, 500], [2, 200]]);
  });

  it("retries only the message that threw: the 8th of 10 in a batch", async () => {
    const runs: JobMessage[] = [];
    for (let i = 0; i < 10; i++) runs.push(await startLongRun({ payload: { receiver: { script: [500, 200] } } }));
    // Attempt 1 of every webhook fails (and is due again at once), so the next batch works on deliveries under way.
    await deliver("job-scheduler-runs", runs, { ...env, WEBHOOK_RETRY_SCHEDULE: "0s", WEBHOOK_MAX_ATTEMPTS: "5" });
    // D1 refuses every claim of the 8th run's delivery: handling its message throws.
    const undo = await failClaimsOf(`whd_${runs[7]!.jobId}_1`);
    const { messages, result } = await deliver("job-scheduler-runs", runs);
    await undo();
    expect(result.retryMessages.map((m: { msgId: string }) => m.msgId)).toEqual([messages[7]!.id]);
    expect(result.explicitAcks).toEqual(messages.filter((_, i) => i !== 7).map((m) => m.id));
    for (const [i, run] of runs.entries()) {
      if (i === 7) continue;
      expect((await runRows(run.jobId))[0]).toMatchObject({ state: "DELIVERED", attempts: 2 });
    }
    // The faulty delivery got no second attempt; its message goes back to the queue (and, if it keeps failing, to the dead letters).
    const [broken] = await runRows(runs[7]!.jobId);
    expect(broken).toMatchObject({ state: "RETRYING", attempts: 1 });
    expect(await received(runs[7]!.jobId)).toHaveLength(1);
    await env.DB.prepare("DELETE FROM jobs WHERE id = ?").bind(runs[7]!.jobId).run(); // keep other tests' sweeps clean
  });

  it("completes a run whose payload became unreadable and still sends its webhook (the payload as text)", async () => {
    const run = await startLongRun();
    await env.DB.prepare("UPDATE runs SET payload = '{broken' WHERE jobId = ?").bind(run.jobId).run();
    const { result } = await deliver("job-scheduler-runs", [run]);
    expect(result.explicitAcks).toHaveLength(1);
    const [hook] = await received(run.jobId);
    expect(hook!.body).toMatchObject({ event: "job.completed", payload: "{broken" });
    await env.DB.prepare("DELETE FROM jobs WHERE id = ?").bind(run.jobId).run();
  });
});

describe("nothing stuck, nothing lost", () => {
  it("answers 503 when Queue.send fails after the row was written, fails the run with the reason, and the sweep sends its job.failed webhook", async () => {
    const job = await createJob();
    // Fault injection: the real queue binding, with send() failing as in an outage.
    const down = () => Promise.reject(new Error("queue unavailable"));
    const outage: Env = { ...env, JOB_QUEUE: { send: down, sendBatch: down } as unknown as Env["JOB_QUEUE"] };
    const res = await worker.fetch(new Request(`http://scheduler.test/api/jobs/${job.id}/run`, { method: "POST", headers: { authorization: `Bearer ${API_TOKEN}` } }), outage);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { message: string }).message).toMatch(/could not be started \(could not enqueue the run: queue unavailable\)/);
    expect(await getJob(job.id)).toMatchObject({
      status: "FAILED",
      latestRun: { status: "FAILED", failureReason: "could not enqueue the run: queue unavailable", delivery: { event: "job.failed", state: "PENDING" } },
    });

    await runSweep(new Date(Date.now() + 120_000));
    const done = await waitForJob(job.id, delivered);
    expect(done.status).toBe("FAILED");
    const [hook] = await received(job.id);
    expect(hook!.body).toMatchObject({ event: "job.failed", status: "FAILED", jobId: job.id, failureReason: "could not enqueue the run: queue unavailable" });
  });

  it("recovers a run whose message never arrives: the sweep queues it again and it completes", async () => {
    const lost = await startLongRun();
    await runSweep(new Date(Date.now() + 30_000), quietEnv); // not overdue yet: nothing happens
    expect((await getJob(lost.jobId)).latestRun.recoveries).toBe(0);

    await runSweep(new Date(Date.now() + 3_600_000 + 120_000), quietEnv);
    const done = await waitForJob(lost.jobId, delivered);
    expect(done).toMatchObject({ status: "COMPLETED", latestRun: { recoveries: 1, number: lost.run } });
    expect(await received(lost.jobId)).toHaveLength(1);
  });

  it("fails a run whose completion was not recorded within an hour of its expected end, with the reason, and tells the receiver", async () => {
    const lost = await startLongRun();
    await env.DB.prepare("UPDATE runs SET recoveries = 5 WHERE jobId = ?").bind(lost.jobId).run();
    // Its hour of work, then the hour the sweep waits for its completion, then a sweep.
    await runSweep(new Date(Date.now() + 2 * 3_600_000 + 120_000), quietEnv);
    const done = await waitForJob(lost.jobId, delivered);
    expect(done).toMatchObject({
      status: "FAILED",
      latestRun: { failureReason: "execution could not be completed: no completion was recorded within 60 min of its expected end (its message was sent again 5 times and never processed)" },
    });
    expect((await received(lost.jobId))[0]!.body.event).toBe("job.failed");
  });

  it("resends a delivery whose retry message was lost", async () => {
    const run = await startLongRun({ payload: { receiver: { script: [500, 200] } } });
    await deliver("job-scheduler-runs", [run]); // attempt 1 fails; the retry we are handed is never requeued here
    expect(await getJob(run.jobId)).toMatchObject({ latestRun: { delivery: { state: "RETRYING", attempts: 1 } } });
    await runSweep(new Date(Date.now() + 120_000));
    const done = await waitForJob(run.jobId, delivered);
    expect(done.latestRun.delivery.attempts).toBe(2);
  });

  it("dead letters: a run the queue gave up on becomes FAILED with the reason and its job.failed webhook is sent", async () => {
    const run = await startLongRun();
    const { result } = await deliver("job-scheduler-dlq", [run]);
    expect(result.explicitAcks).toHaveLength(1);
    const done = await waitForJob(run.jobId, delivered);
    expect(done).toMatchObject({ status: "FAILED", latestRun: { failureReason: "execution could not be completed: the queue gave up on this message after repeated failures" } });
    expect((await received(run.jobId))[0]!.body).toMatchObject({ event: "job.failed", status: "FAILED" });
  });

  it("dead letters: a delivery still under way becomes a failed delivery, the job stays COMPLETED", async () => {
    const run = await startLongRun();
    const down: Env = { ...env, WEBHOOK_URL: env.DEAD_URL, WEBHOOK_RETRY_SCHEDULE: "1h" };
    await deliver("job-scheduler-runs", [run], down);
    expect(await getJob(run.jobId)).toMatchObject({ status: "COMPLETED", latestRun: { delivery: { state: "RETRYING" } } });
    await deliver("job-scheduler-dlq", [run]);
    expect(await getJob(run.jobId)).toMatchObject({
      status: "COMPLETED",
      latestRun: { delivery: { state: "FAILED", lastError: "delivery stopped: the queue gave up on this message after repeated failures" } },
    });
  });

  it("dead letters: the staging environment's dead-letter queue is handled as one, its runs queue is not", async () => {
    const run = await startLongRun();
    await deliver("job-scheduler-dlq-staging", [run]);
    expect(await getJob(run.jobId)).toMatchObject({ status: "FAILED" });

    const other = await startLongRun();
    await deliver("job-scheduler-runs-staging", [other]);
    expect(await getJob(other.jobId)).toMatchObject({ status: "COMPLETED" });
  });

  it("acknowledges a dead letter for a deleted job or a newer run without changing anything", async () => {
    const run = await startLongRun();
    await call("DELETE", `/api/jobs/${run.jobId}`);
    const { result } = await deliver("job-scheduler-dlq", [run, { jobId: run.jobId, run: 99 }]);
    expect(result.explicitAcks).toHaveLength(2);
  });
});

describe("POST /api/jobs/:id/redeliver", () => {
  it("redelivers a failed delivery as a new series of attempts with the same webhook-id", async () => {
    const job = await createJob({ payload: { receiver: { script: [500, 500, 500, 200] } } });
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, (j) => deliveryState(j) === "FAILED", 20_000);

    const res = await call("POST", `/api/jobs/${job.id}/redeliver`);
    expect(res.status).toBe(202);
    expect(res.body.data).toMatchObject({ delivery: { state: "PENDING", attempts: 0, series: 2 } });
    const done = await waitForJob(job.id, delivered);
    expect(done).toMatchObject({ status: "COMPLETED", latestRun: { delivery: { series: 2, attempts: 1 } } });

    const logs = await logRows(job.id);
    expect(logs.map((l) => [l.series, l.attempt, l.responseStatus])).toEqual([[1, 1, 500], [1, 2, 500], [1, 3, 500], [2, 1, 200]]);
    const hooks = await received(job.id);
    expect(new Set(hooks.map((h) => h.headers["webhook-id"]))).toEqual(new Set([`whd_${job.id}_1`]));
    // The same bytes on all four POSTs, built from the run's row each time, and logged as sent.
    expect(hooks).toHaveLength(4);
    expect(new Set(hooks.map((h) => h.rawBody)).size).toBe(1);
    expect(logs.map((l) => l.requestBody)).toEqual(hooks.map((h) => h.rawBody));
  });

  it("answers 409 while a delivery is under way or before any run finished, and 404 for an unknown job", async () => {
    const fresh = await createJob();
    expect((await call("POST", `/api/jobs/${fresh.id}/redeliver`)).body.message).toBe(`Job '${fresh.id}' has no finished run to deliver`);
    const run = await startLongRun();
    await deliver("job-scheduler-runs", [run], { ...env, WEBHOOK_URL: env.DEAD_URL, WEBHOOK_RETRY_SCHEDULE: "1h" });
    const busy = await call("POST", `/api/jobs/${run.jobId}/redeliver`);
    expect(busy.status).toBe(409);
    expect(busy.body.message).toMatch(/delivery in progress \(RETRYING\)/);
    expect((await call("POST", `/api/runs/${(await getJob(run.jobId)).latestRun.id}/redeliver`)).status).toBe(409);
    expect((await call("POST", "/api/jobs/nope/redeliver")).status).toBe(404);
  });
});
