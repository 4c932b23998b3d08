/**
 * The whole lifecycle through the real local queue: run -> IN_PROGRESS -> (1 s later, the consumer)
 * COMPLETED -> webhook POSTed to the real test receiver -> one log row per attempt.
 */
import { describe, expect, it } from "vitest";
import { call, createJob, logRows, received, waitForJob } from "./support/helpers";

describe("POST /api/jobs/:id/run through the queue", () => {
  it("completes the job after its duration, POSTs the webhook and logs the attempt", async () => {
    const job = await createJob({ taskName: "Send Email", payload: { email: "test@test.com" }, priority: "HIGH" });

    const run = await call("POST", `/api/jobs/${job.id}/run`);
    expect(run.status).toBe(202);
    expect(run.body).toMatchObject({ success: true, message: "Job started", status: "IN_PROGRESS" });
    expect(run.body.data.startedAt).not.toBeNull();
    expect((await call("GET", `/api/jobs/${job.id}`)).body.data.status).toBe("IN_PROGRESS");

    const done = await waitForJob(job.id, (j) => j.deliveryStatus === "DELIVERED");
    expect(done.status).toBe("COMPLETED");
    // The consumer runs after the job's duration (1 s in tests), not before.
    expect(new Date(done.completedAt).getTime() - new Date(done.startedAt).getTime()).toBeGreaterThanOrEqual(900);

    const [hook, ...more] = await received(job.id);
    expect(more).toEqual([]);
    expect(hook!.headers["content-type"]).toBe("application/json");
    expect(hook!.headers["webhook-id"]).toBe(`whd_${job.id}_1`);
    expect(hook!.body).toMatchObject({
      event: "job.completed",
      jobId: job.id,
      taskName: "Send Email",
      priority: "HIGH",
      payload: { email: "test@test.com" },
      status: "COMPLETED",
      completedAt: done.completedAt,
    });

    const [log, ...otherLogs] = await logRows(job.id);
    expect(otherLogs).toEqual([]);
    expect(log).toMatchObject({ attempt: 1, responseStatus: 200, error: null, nextRetryAt: null, runId: 1 });
    expect(JSON.parse(log!.requestBody)).toEqual(hook!.body);
    expect(JSON.parse(log!.responseBody)).toEqual({ received: true, status: 200 });
    expect(log!.durationMs).toBeGreaterThanOrEqual(0);

    const viaApi = await call("GET", `/api/jobs/${job.id}/logs`);
    expect(viaApi.body.data).toHaveLength(1);
    expect(viaApi.body.data[0]).toMatchObject({ attempt: 1, responseStatus: 200, requestBody: hook!.body, taskName: "Send Email" });
  });

  it("retries a delivery that got a 500, logs both attempts, and delivers once", async () => {
    const job = await createJob({ payload: { receiver: { script: [500, 200] } } });
    await call("POST", `/api/jobs/${job.id}/run`);
    const done = await waitForJob(job.id, (j) => j.deliveryStatus === "DELIVERED");
    expect(done).toMatchObject({ status: "COMPLETED", deliveryAttempts: 2 });

    const hooks = await received(job.id);
    expect(hooks).toHaveLength(2);
    expect(hooks[0]!.headers["webhook-id"]).toBe(hooks[1]!.headers["webhook-id"]);
    // Backoff: the second attempt waited at least the base delay (1 s in tests).
    expect(hooks[1]!.receivedAt - hooks[0]!.receivedAt).toBeGreaterThanOrEqual(900);

    const logs = await logRows(job.id);
    expect(logs.map((l) => [l.attempt, l.responseStatus])).toEqual([[1, 500], [2, 200]]);
    expect(logs[0]!.error).toBe("receiver answered HTTP 500");
    expect(logs[0]!.nextRetryAt).toBeGreaterThan(logs[0]!.sentAt);
    expect(logs[1]!.error).toBeNull();
  });

  it("stops at the maximum attempts when the receiver always fails, keeping the job COMPLETED", async () => {
    const job = await createJob({ payload: { receiver: { script: [503] } } });
    await call("POST", `/api/jobs/${job.id}/run`);
    const done = await waitForJob(job.id, (j) => j.deliveryStatus === "FAILED", 20_000);
    expect(done).toMatchObject({ status: "COMPLETED", deliveryAttempts: 3, lastDeliveryError: "receiver answered HTTP 503" });
    const logs = await logRows(job.id);
    expect(logs.map((l) => l.attempt)).toEqual([1, 2, 3]);
    expect(logs.every((l) => l.responseStatus === 503)).toBe(true);
    expect(logs[2]!.nextRetryAt).toBeNull();
    expect(await received(job.id)).toHaveLength(3);
  });

  it("logs a dropped connection as a network error and delivers on the retry", async () => {
    const job = await createJob({ payload: { receiver: { script: ["drop", 200] } } });
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, (j) => j.deliveryStatus === "DELIVERED");
    const logs = await logRows(job.id);
    expect(logs[0]).toMatchObject({ attempt: 1, responseStatus: null });
    expect(logs[0]!.error).toMatch(/^network error/);
    expect(logs[1]).toMatchObject({ attempt: 2, responseStatus: 200 });
  });

  it("times out a receiver that hangs, logs the timeout and delivers on the retry", async () => {
    const job = await createJob({ payload: { receiver: { script: ["hang", 200] } } });
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, (j) => j.deliveryStatus === "DELIVERED", 20_000);
    const logs = await logRows(job.id);
    expect(logs[0]).toMatchObject({ attempt: 1, responseStatus: null, error: "timed out after 1500 ms" });
    expect(logs[0]!.durationMs).toBeGreaterThanOrEqual(1400);
    expect(logs[1]).toMatchObject({ attempt: 2, responseStatus: 200 });
  });

  it("does not follow a redirect: it counts as a failed attempt", async () => {
    const job = await createJob({
      payload: { receiver: { script: [{ status: 301, headers: { location: "http://127.0.0.1:1/elsewhere" } }, 200] } },
    });
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, (j) => j.deliveryStatus === "DELIVERED");
    const logs = await logRows(job.id);
    expect(logs[0]).toMatchObject({ responseStatus: 301, error: "redirect 301 to http://127.0.0.1:1/elsewhere not followed" });
  });

  const truncated = /^y{4096}… \[truncated at 4096 bytes\]$/;
  it.each([
    ["a 10 MB response body", { bodyBytes: 10_000_000 }, truncated],
    ["a small compressed body that inflates to 10 MB", { gzipBytes: 10_000_000 }, truncated],
    ["a body one byte past 4 KB", { bodyBytes: 4097 }, truncated],
    ["a body of exactly 4 KB", { bodyBytes: 4096 }, /^y{4096}$/],
  ])("keeps at most 4 KB of the response: %s", async (_, reply, expected) => {
    const job = await createJob({ payload: { receiver: { script: [{ status: 200, ...reply }] } } });
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, (j) => j.deliveryStatus === "DELIVERED");
    const [log] = await logRows(job.id);
    const stored = JSON.parse(log!.responseBody) as string;
    expect(stored.length).toBeLessThan(4200);
    expect(stored).toMatch(expected);
  });

  it("answers 409 for a job that is IN_PROGRESS and changes nothing", async () => {
    const job = await createJob();
    const first = await call("POST", `/api/jobs/${job.id}/run`);
    const second = await call("POST", `/api/jobs/${job.id}/run`);
    expect(second.status).toBe(409);
    expect(second.body).toEqual({ success: false, message: `Job '${job.id}' is already IN_PROGRESS` });
    const now = (await call("GET", `/api/jobs/${job.id}`)).body.data;
    expect(now).toMatchObject({ status: "IN_PROGRESS", runId: 1, startedAt: first.body.data.startedAt });
  });

  it("re-runs a COMPLETED job as a new run with a new delivery id", async () => {
    const job = await createJob();
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, (j) => j.deliveryStatus === "DELIVERED");
    const rerun = await call("POST", `/api/jobs/${job.id}/run`);
    expect(rerun.status).toBe(202);
    expect(rerun.body.data).toMatchObject({ status: "IN_PROGRESS", runId: 2, completedAt: null, deliveryStatus: "NONE" });
    await waitForJob(job.id, (j) => j.runId === 2 && j.deliveryStatus === "DELIVERED");
    const hooks = await received(job.id);
    expect(hooks.map((h) => h.headers["webhook-id"])).toEqual([`whd_${job.id}_1`, `whd_${job.id}_2`]);
    expect((await logRows(job.id)).map((l) => l.runId)).toEqual([1, 2]);
  });
});
