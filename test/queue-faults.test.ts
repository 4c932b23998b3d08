/**
 * Faults the queue itself carries: a configuration that goes bad while runs are in flight (every
 * message waits, nothing fails, and all of it completes once the configuration is fixed), and a
 * message that keeps failing, driven through the real local queue's retries into its dead-letter queue.
 */
import { createExecutionContext, createMessageBatch, createScheduledController, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { Env, JobMessage } from "../src/env";
import worker from "../src/index";
import { sweep } from "../src/background/sweep";
import { runJob } from "../src/jobs/service";
import { getStats } from "../src/stats/service";
import { backdateRun, createJob, deliverAt, deliverRecorded, failClaimsOf, received, runRows } from "./support/helpers";

const quietEnv: Env = { ...env, JOB_DURATION_SECONDS: "3600" };
/** A deployment mistake: a variable with a value the configuration refuses. */
const badEnv: Env = { ...env, WEBHOOK_TIMEOUT_MS: "fifteen seconds" };

async function startLongRun(fields: Record<string, unknown> = {}): Promise<JobMessage> {
  const job = await createJob(fields);
  const started = await runJob(quietEnv, job.id);
  return { jobId: started.id, run: started.latestRun!.number };
}

async function deliver(queue: string, bodies: unknown[], withEnv: Env) {
  const messages = bodies.map((body, i) => ({ id: `m${i}-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 1, body }));
  const batch = createMessageBatch<unknown>(queue, messages);
  const ctx = createExecutionContext();
  await worker.queue(batch, withEnv);
  return getQueueResult(batch, ctx);
}

/**
 * A batch whose messages record how they were settled, with the delay of each retry (which
 * getQueueResult does not report). `attempts` is how many times the queue has delivered them.
 */
describe("a bad configuration", () => {
  it("makes every message wait with a backoff, fails nothing, and once fixed every run completes and every webhook goes out", async () => {
    const runs = [await startLongRun(), await startLongRun(), await startLongRun()];

    // The run messages arrive under the bad configuration: each is retried later, nothing is touched.
    const first = await deliverRecorded("job-scheduler-runs", runs, badEnv, 1);
    expect(first.map((m) => [m.how, m.delaySeconds])).toEqual([["retry", 30], ["retry", 30], ["retry", 30]]);
    // Each later retry waits longer, up to 10 minutes.
    expect((await deliverRecorded("job-scheduler-runs", runs, badEnv, 3)).map((m) => m.delaySeconds)).toEqual([120, 120, 120]);
    expect((await deliverRecorded("job-scheduler-runs", runs, badEnv, 9)).map((m) => m.delaySeconds)).toEqual([600, 600, 600]);
    // Even the dead-letter queue and the sweep wait instead of failing the runs.
    const dead = await deliverRecorded("job-scheduler-dlq", runs, badEnv, 1);
    expect(dead.map((m) => m.how)).toEqual(["retry", "retry", "retry"]);
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now() + 7_200_000, cron: "* * * * *" }), badEnv);
    for (const run of runs) {
      expect((await runRows(run.jobId))[0]).toMatchObject({ status: "IN_PROGRESS", recoveries: 0, state: null });
      expect(await received(run.jobId)).toEqual([]);
    }

    // Fixed: the same messages complete every run and send every webhook.
    const fixed = await deliver("job-scheduler-runs", runs, env);
    expect(fixed.explicitAcks).toHaveLength(3);
    for (const run of runs) {
      expect((await runRows(run.jobId))[0]).toMatchObject({ status: "COMPLETED", state: "DELIVERED" });
      expect(await received(run.jobId)).toHaveLength(1);
    }
  });

  it("outlasting the queue's retries, drops its messages before the dead-letter queue could fail them; the sweep brings the runs back once fixed", async () => {
    const run = await startLongRun();
    // The 90th delivery of its message under the bad configuration: acknowledged, not retried into the dead letters.
    expect((await deliverRecorded("job-scheduler-runs", [run], badEnv, 90)).map((m) => m.how)).toEqual(["ack"]);
    expect((await deliverRecorded("job-scheduler-dlq", [run], badEnv, 90)).map((m) => m.how)).toEqual(["ack"]);
    expect((await runRows(run.jobId))[0]).toMatchObject({ status: "IN_PROGRESS", state: null });

    // Once fixed, the sweep finds the run in D1 and queues it again; the real queue completes it.
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now() + 3_600_000 + 120_000, cron: "* * * * *" }), quietEnv);
    const done = await vi.waitUntil(
      async () => {
        const [row] = await runRows(run.jobId);
        return row?.state === "DELIVERED" ? row : undefined;
      },
      { timeout: 10_000, interval: 100 },
    );
    expect(done).toMatchObject({ status: "COMPLETED", recoveries: 1 });
    expect(await received(run.jobId)).toHaveLength(1);
  });
});

describe("a queue that refuses the completions the dispatcher sends", () => {
  it("leaves the runs it started IN_PROGRESS (not failed); the sweep queues them and they complete", async () => {
    const limited: Env = { ...env, MAX_CONCURRENT_RUNS: "1", JOB_DURATION_SECONDS: "0" };
    const first = await createJob();
    const waiting = await createJob();
    await runJob(limited, first.id);
    expect((await runJob(limited, waiting.id)).status).toBe("SCHEDULED");
    // The first run's completion frees the slot; the dispatcher starts the waiting run, but its message cannot be queued.
    const refusing: Env = { ...limited, JOB_QUEUE: { send: () => Promise.reject(new Error("queue unavailable")), sendBatch: () => Promise.reject(new Error("queue unavailable")) } as unknown as Env["JOB_QUEUE"] };
    await backdateRun(first.id, 1, 3_600_000);
    await deliver("job-scheduler-runs", [{ jobId: first.id, run: 1 }], { ...refusing, JOB_DURATION_SECONDS: "3600" });
    expect((await runRows(waiting.id))[0]).toMatchObject({ status: "IN_PROGRESS", failureReason: null });
    // The sweep finds it past its expected time and queues its message again: the real queue completes it.
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now() + 3_600_000 + 120_000, cron: "* * * * *" }), quietEnv);
    await vi.waitUntil(async () => (await runRows(waiting.id))[0]?.state === "DELIVERED", { timeout: 10_000, interval: 100 });
    expect((await runRows(waiting.id))[0]).toMatchObject({ status: "COMPLETED", recoveries: 1 });
    expect(await received(waiting.id)).toHaveLength(1);
  });
});

describe("dead letters", () => {
  it("never give up a delivery that was not attempted in its series (a failed run's, a redelivery's): the sweep keeps it moving", async () => {
    const run = await startLongRun({ payload: { receiver: { script: [200] } } });
    // The queue gave up on the run's message: the run fails, its job.failed delivery is created (0 attempts).
    const noQueue: Env = { ...env, JOB_QUEUE: { send: () => Promise.reject(new Error("queue unavailable")) } as unknown as Env["JOB_QUEUE"] };
    expect((await deliver("job-scheduler-dlq", [run], noQueue)).explicitAcks).toHaveLength(1);
    expect((await runRows(run.jobId))[0]).toMatchObject({ status: "FAILED", state: "PENDING", attempts: 0 });
    // Another copy reaching the dead letters must not give that delivery up before its first attempt.
    await deliver("job-scheduler-dlq", [run], env);
    expect((await runRows(run.jobId))[0]).toMatchObject({ status: "FAILED", state: "PENDING", attempts: 0 });
    // The sweep sends it.
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now() + 120_000, cron: "* * * * *" }), env);
    await vi.waitUntil(async () => (await runRows(run.jobId))[0]?.state === "DELIVERED", { timeout: 10_000, interval: 100 });
    expect((await received(run.jobId))[0]!.body).toMatchObject({ event: "job.failed" });
  });
});

describe("the real queue's retries and dead-letter queue", () => {
  it("retries a message that keeps failing, then the dead-letter queue fails its delivery with the reason", async () => {
    // A run whose webhook waits for a retry, then D1 refuses every claim of its next attempt: every message for it throws.
    const run = await startLongRun({ payload: { receiver: { script: [500] } } });
    await deliver("job-scheduler-runs", [run], { ...env, WEBHOOK_RETRY_SCHEDULE: "1h" });
    expect((await runRows(run.jobId))[0]).toMatchObject({ state: "RETRYING", attempts: 1 });
    const undo = await failClaimsOf(`whd_${run.jobId}_${run.run}`);
    await env.DB.prepare("UPDATE deliveries SET nextAttemptAt = 0 WHERE webhookId = ?").bind(`whd_${run.jobId}_${run.run}`).run();

    // Through the real queue (2 retries, 2 s and 4 s apart, then its dead-letter queue).
    await env.TEST_QUEUE.send(run);
    const failed = await vi.waitUntil(
      async () => {
        const [row] = await runRows(run.jobId);
        return row?.state === "FAILED" ? row : undefined;
      },
      { timeout: 20_000, interval: 200 },
    );
    expect(failed).toMatchObject({ status: "COMPLETED", lastError: "delivery stopped: the queue gave up on this message after repeated failures" });
    // The three tries of the message made no attempt (each threw before sending).
    expect(await received(run.jobId)).toHaveLength(1);
    await undo();
    await env.DB.prepare("DELETE FROM jobs WHERE id = ?").bind(run.jobId).run();
  });
});

describe("a worker that dies during a webhook's first attempt, its message lost too", () => {
  it("leaves the attempt out of every index while it is in flight; the sweep finds it through its run and it is delivered, same bytes", async () => {
    // The shortest lease and grace the configuration allows: the sweep's walk stays 10.1 s behind the clock.
    const brief: Env = { ...quietEnv, WEBHOOK_TIMEOUT_MS: "100", SWEEP_GRACE_SECONDS: "5" };
    // Two workers complete a run each, send attempt 1, then die before they record how it went: here, D1
    // refuses the write that settles it (the whole batch, log row included), and the message is never
    // delivered again. The second attempt was claimed under a 2-minute timeout, since lowered.
    const sending = async () => (await getStats(env)).deliveries.backlog.sending;
    const sendingBefore = await sending();
    const dead: { run: JobMessage; webhookId: string }[] = [];
    for (const timeout of ["100", "120000"]) {
      const run = await startLongRun();
      await backdateRun(run.jobId, run.run, 3_600_000);
      const webhookId = `whd_${run.jobId}_${run.run}`;
      const name = `die_${run.jobId}`;
      await env.DB.prepare(
        `CREATE TRIGGER ${name} BEFORE UPDATE ON deliveries WHEN old.webhookId = '${webhookId}' AND old.state = 'SENDING' AND new.state != 'SENDING' BEGIN SELECT RAISE(ABORT, 'worker died'); END`,
      ).run();
      await deliver("job-scheduler-runs", [run], { ...brief, WEBHOOK_TIMEOUT_MS: timeout });
      await env.DB.prepare(`DROP TRIGGER ${name}`).run();
      expect(await received(run.jobId)).toHaveLength(1);
      dead.push({ run, webhookId });
    }
    const delivery = (webhookId: string) =>
      env.DB.prepare("SELECT state, attempts, nextAttemptAt, leaseUntil FROM deliveries WHERE webhookId = ?").bind(webhookId).first<Record<string, any>>();
    // In flight as far as D1 knows, and in no index: nextAttemptAt (deliveries_next_attempt_idx) is null.
    for (const { webhookId } of dead) expect(await delivery(webhookId)).toMatchObject({ state: "SENDING", attempts: 1, nextAttemptAt: null });
    // The overview counts them among the webhooks under way all the same.
    expect((await sending()) - sendingBefore).toBe(2);

    // A sweep now leaves them: their runs completed less than a lease and the grace ago.
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), brief);
    for (const { webhookId } of dead) expect(await delivery(webhookId)).toMatchObject({ nextAttemptAt: null });
    // Past both (on the real clock: a sweep's clock ahead of it does not carry the walk past runs), the walk
    // from where the sweep stopped finds both unsettled; the first is queued, and the real queue sends attempt 2.
    await new Promise((r) => setTimeout(r, 10_300));
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now() + 3_600_000, cron: "* * * * *" }), brief);
    const [short, long] = dead;
    await vi.waitUntil(async () => (await delivery(short!.webhookId))?.state === "DELIVERED", { timeout: 20_000, interval: 200 });
    expect(await delivery(short!.webhookId)).toMatchObject({ state: "DELIVERED", attempts: 2, nextAttemptAt: null, leaseUntil: null });
    const hooks = await received(short!.run.jobId);
    expect(hooks).toHaveLength(2);
    expect(hooks[1]!.rawBody).toBe(hooks[0]!.rawBody);
    expect(hooks[1]!.headers["webhook-id"]).toBe(short!.webhookId);
    // The other's lease still runs: it is not passed by, but put in the index, due when its lease runs out.
    const waiting = await delivery(long!.webhookId);
    expect(waiting).toMatchObject({ state: "SENDING", attempts: 1 });
    expect(waiting!.nextAttemptAt).toBe(waiting!.leaseUntil);
    expect(waiting!.leaseUntil).toBeGreaterThan(Date.now() + 60_000);
    // Counted once, from the index now.
    expect((await sending()) - sendingBefore).toBe(1);
    await env.DB.prepare("DELETE FROM jobs WHERE id = ?").bind(long!.run.jobId).run();
  }, 45_000);
});

describe("a worker that dies during a webhook's retry, its message lost too", () => {
  it("keeps the delivery at its retry's due time while the lease runs, and the sweep sends it again once the lease and the grace are past", async () => {
    const brief: Env = { ...quietEnv, WEBHOOK_TIMEOUT_MS: "100", SWEEP_GRACE_SECONDS: "5", WEBHOOK_RETRY_SCHEDULE: "1s", WEBHOOK_RETRY_JITTER: "0" };
    const run = await startLongRun({ payload: { receiver: { script: [500, 200] } } });
    await backdateRun(run.jobId, run.run, 3_600_000);
    const webhookId = `whd_${run.jobId}_${run.run}`;
    const delivery = () => env.DB.prepare("SELECT state, attempts, nextAttemptAt, leaseUntil FROM deliveries WHERE webhookId = ?").bind(webhookId).first<Record<string, any>>();
    // Attempt 1 fails: the retry is due in a second.
    await deliver("job-scheduler-runs", [run], brief);
    const due = (await delivery())!.nextAttemptAt as number;
    expect(await delivery()).toMatchObject({ state: "RETRYING", attempts: 1 });
    await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now()) + 50));
    // Attempt 2 is claimed and sent, then its worker dies before it records how it went (D1 refuses the
    // write that settles it), and the message is never delivered again.
    const name = `die_retry_${run.jobId}`;
    await env.DB.prepare(
      `CREATE TRIGGER ${name} BEFORE UPDATE ON deliveries WHEN old.webhookId = '${webhookId}' AND old.state = 'SENDING' AND new.state != 'SENDING' BEGIN SELECT RAISE(ABORT, 'worker died'); END`,
    ).run();
    await deliver("job-scheduler-runs", [run], brief);
    await env.DB.prepare(`DROP TRIGGER ${name}`).run();
    expect(await received(run.jobId)).toHaveLength(2);
    // The claim wrote its lease to leaseUntil alone: the delivery's index entry stays at the retry's due time.
    const inFlight = await delivery();
    expect(inFlight).toMatchObject({ state: "SENDING", attempts: 2, nextAttemptAt: due });
    expect(inFlight!.leaseUntil).toBeGreaterThan(due);
    // A sweep while the lease runs leaves it: on a clock 7 s past the retry's due time, its entry is past
    // the 5 s grace, but its lease (claimed at about that due time, for 5.1 s) is not. No message sent.
    expect((await sweep(brief, new Date(due + 7_000))).requeuedDeliveries).toBe(0);
    expect(await delivery()).toMatchObject({ state: "SENDING", attempts: 2 });
    expect(await received(run.jobId)).toHaveLength(2);
    // Past the lease and the grace (on a clock that far ahead), a sweep queues it again, and its message
    // makes attempt 3 with the same bytes.
    const leaseEnd = inFlight!.leaseUntil as number;
    expect((await sweep(brief, new Date(leaseEnd + 5_100))).requeuedDeliveries).toBe(1);
    await deliverAt(new Date(leaseEnd + 5_200), [run], brief);
    expect(await delivery()).toMatchObject({ state: "DELIVERED", attempts: 3, nextAttemptAt: null, leaseUntil: null });
    const hooks = await received(run.jobId);
    expect(hooks).toHaveLength(3);
    expect(hooks[2]!.rawBody).toBe(hooks[0]!.rawBody);
  });
});
