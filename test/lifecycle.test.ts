/**
 * The whole lifecycle through the real local queue: run -> IN_PROGRESS -> (1 s later, the consumer)
 * COMPLETED -> webhook POSTed to the real test receiver -> one log row per attempt.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { call, createJob, delivered, deliveryState, logRows, received, runRows, waitForJob } from "./support/helpers";

describe("POST /api/jobs/:id/run through the queue", () => {
  it("completes the job after its duration, POSTs the webhook and logs the attempt", async () => {
    const job = await createJob({ taskName: "Send Email", payload: { email: "test@test.com" }, priority: "HIGH" });

    const started = await call("POST", `/api/jobs/${job.id}/run`);
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ success: true, message: "Job started", status: "IN_PROGRESS" });
    expect(started.body.data.latestRun).toMatchObject({ number: 1, status: "IN_PROGRESS", completedAt: null, delivery: null });
    expect(started.body.data.latestRun.startedAt).not.toBeNull();
    expect((await call("GET", `/api/jobs/${job.id}`)).body.data.status).toBe("IN_PROGRESS");

    const done = await waitForJob(job.id, delivered);
    expect(done.status).toBe("COMPLETED");
    const run = done.latestRun;
    expect(run).toMatchObject({ number: 1, status: "COMPLETED", jobId: job.id, delivery: { id: `whd_${job.id}_1`, state: "DELIVERED", attempts: 1 } });
    // The consumer runs after the job's duration (1 s in tests), not before.
    expect(new Date(run.completedAt).getTime() - new Date(run.startedAt).getTime()).toBeGreaterThanOrEqual(900);

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
      runId: run.id,
      runNumber: 1,
      completedAt: run.completedAt,
    });

    const [log, ...otherLogs] = await logRows(job.id);
    expect(otherLogs).toEqual([]);
    expect(log).toMatchObject({ attempt: 1, responseStatus: 200, error: null, nextRetryAt: null, runId: run.id, deliveryId: `whd_${job.id}_1` });
    // The log keeps the exact bytes that were sent.
    expect(log!.requestBody).toBe(hook!.rawBody);
    expect(JSON.parse(log!.responseBody)).toEqual({ received: true, status: 200 });

    const viaApi = await call("GET", `/api/jobs/${job.id}/logs`);
    expect(viaApi.body.data).toHaveLength(1);
    expect(viaApi.body.data[0]).toMatchObject({ attempt: 1, responseStatus: 200, requestBody: hook!.body, taskName: "Send Email" });
  });

  it("shows each run's attempts with the bytes that run sent, read from its own delivery", async () => {
    const jobs = [await createJob({ taskName: "Delivered first" }), await createJob({ taskName: "Delivered second" })];
    for (const job of jobs) {
      await call("POST", `/api/jobs/${job.id}/run`);
      await waitForJob(job.id, delivered);
    }
    for (const job of jobs) {
      const [hook] = await received(job.id);
      const runId = (await call("GET", `/api/jobs/${job.id}`)).body.data.latestRun.id;
      const attempts = (await call("GET", `/api/runs/${runId}`)).body.data.attempts;
      expect(attempts.map((a: any) => JSON.stringify(a.requestBody))).toEqual([hook!.rawBody]);
    }
  });

  it("logs how long the receiver took: at least its delay, and less than the timeout", async () => {
    // The receiver answers 400 ms after the request arrives (a timer in another process: a few ms of slack).
    const job = await createJob({ payload: { receiver: { script: [{ status: 200, delayMs: 400 }] } } });
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, delivered);
    const [log] = await logRows(job.id);
    expect(log!.durationMs).toBeGreaterThanOrEqual(395);
    expect(log!.durationMs).toBeLessThan(Number(env.WEBHOOK_TIMEOUT_MS));
  });

  it("retries a delivery that got a 500, logs both attempts, and delivers once", async () => {
    const job = await createJob({ payload: { receiver: { script: [500, 200] } } });
    await call("POST", `/api/jobs/${job.id}/run`);
    const done = await waitForJob(job.id, delivered);
    expect(done).toMatchObject({ status: "COMPLETED", latestRun: { delivery: { attempts: 2 } } });

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
    const done = await waitForJob(job.id, (j) => deliveryState(j) === "FAILED", 20_000);
    expect(done).toMatchObject({ status: "COMPLETED", latestRun: { delivery: { state: "FAILED", attempts: 3, lastError: "receiver answered HTTP 503" } } });
    const logs = await logRows(job.id);
    expect(logs.map((l) => l.attempt)).toEqual([1, 2, 3]);
    expect(logs.every((l) => l.responseStatus === 503)).toBe(true);
    expect(logs[2]!.nextRetryAt).toBeNull();
    expect(await received(job.id)).toHaveLength(3);
  });

  it("logs a dropped connection as a network error and delivers on the retry", async () => {
    const job = await createJob({ payload: { receiver: { script: ["drop", 200] } } });
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, delivered);
    const logs = await logRows(job.id);
    expect(logs[0]).toMatchObject({ attempt: 1, responseStatus: null });
    expect(logs[0]!.error).toMatch(/^network error/);
    expect(logs[1]).toMatchObject({ attempt: 2, responseStatus: 200 });
  });

  it("times out a receiver that hangs, logs the timeout and delivers on the retry", async () => {
    const job = await createJob({ payload: { receiver: { script: ["hang", 200] } } });
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, delivered, 20_000);
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
    await waitForJob(job.id, delivered);
    const logs = await logRows(job.id);
    expect(logs[0]).toMatchObject({ responseStatus: 301, error: "redirect 301 to http://127.0.0.1:1 (path and query not kept) not followed" });
  });

  // A redirect's Location may carry a token (a signed callback URL): the log keeps where it pointed, not the token.
  it.each([
    ["an absolute Location", "https://login.example.com:8443/callback?token=SECRET-abc123#frag", "https://login.example.com:8443"],
    ["a relative Location", "/next/SECRET-abc123?token=SECRET-abc123", new URL(env.RECEIVER_URL).origin],
  ])("keeps only the origin of %s in the attempt's error", async (_, location, origin) => {
    const job = await createJob({ payload: { receiver: { script: [{ status: 302, headers: { location } }] } } });
    await call("POST", `/api/jobs/${job.id}/run`);
    const failed = await waitForJob(job.id, (j) => (j.latestRun?.delivery?.attempts ?? 0) >= 1 && j.latestRun.delivery.state !== "SENDING");
    const error = `redirect 302 to ${origin} (path and query not kept) not followed`;
    expect((await logRows(job.id))[0]).toMatchObject({ responseStatus: 302, error });
    expect(failed.latestRun.delivery.lastError).toBe(error);
    // (The request body does carry the Location: this job's payload scripted it.)
    expect((await call("GET", `/api/jobs/${job.id}/logs`)).body.data.at(-1)).toMatchObject({ attempt: 1, error });
    await call("DELETE", `/api/jobs/${job.id}`);
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
    await waitForJob(job.id, delivered);
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
    expect(now).toMatchObject({ status: "IN_PROGRESS", latestRun: { number: 1, startedAt: first.body.data.latestRun.startedAt } });
    expect(await runRows(job.id)).toHaveLength(1);
  });

  it("re-runs a COMPLETED job as a new run with a new delivery id", async () => {
    const job = await createJob();
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, delivered);
    const rerun = await call("POST", `/api/jobs/${job.id}/run`);
    expect(rerun.status).toBe(202);
    expect(rerun.body.data).toMatchObject({ status: "IN_PROGRESS", latestRun: { number: 2, completedAt: null, delivery: null } });
    await waitForJob(job.id, (j) => j.latestRun.number === 2 && delivered(j));
    const hooks = await received(job.id);
    expect(hooks.map((h) => h.headers["webhook-id"])).toEqual([`whd_${job.id}_1`, `whd_${job.id}_2`]);
    const runs = await runRows(job.id);
    expect(runs.map((r) => [r.number, r.status, r.state])).toEqual([[1, "COMPLETED", "DELIVERED"], [2, "COMPLETED", "DELIVERED"]]);
    expect((await logRows(job.id)).map((l) => l.runId)).toEqual(runs.map((r) => r.id));
  });

  it("re-running while the previous run's webhook is retrying leaves that webhook to finish on its own", async () => {
    // The receiver fails run 1's first attempt; run 2 starts while run 1's delivery waits to retry.
    const job = await createJob({ payload: { receiver: { script: [500, 200] } } });
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, (j) => deliveryState(j) === "RETRYING");
    expect((await call("POST", `/api/jobs/${job.id}/run`)).status).toBe(202);
    await vi.waitUntil(async () => (await runRows(job.id)).every((r) => r.state === "DELIVERED"), { timeout: 15_000, interval: 100 });

    const runs = await runRows(job.id);
    expect(runs.map((r) => [r.number, r.state, r.attempts])).toEqual([[1, "DELIVERED", 2], [2, "DELIVERED", 1]]);
    const hooks = await received(job.id);
    const byId = (id: string) => hooks.filter((h) => h.headers["webhook-id"] === id).length;
    expect([byId(`whd_${job.id}_1`), byId(`whd_${job.id}_2`)]).toEqual([2, 1]);
  });

  it("an edit never changes a delivery under way: every attempt of a run's webhook sends the same bytes", async () => {
    const job = await createJob({ taskName: "Before edit", payload: { version: 1, receiver: { script: [500, 200] } } });
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, (j) => deliveryState(j) === "RETRYING");
    // Editing is allowed at any time; it applies from the next run on.
    const edited = await call("PATCH", `/api/jobs/${job.id}`, { taskName: "After edit", payload: { version: 2 } });
    expect(edited.status).toBe(200);
    await waitForJob(job.id, delivered);

    const [first, second] = await received(job.id);
    expect(second!.rawBody).toBe(first!.rawBody);
    expect(first!.body).toMatchObject({ taskName: "Before edit", payload: { version: 1 } });
    const [run] = await runRows(job.id);
    expect(run).toMatchObject({ taskName: "Before edit", body: first!.rawBody });
    expect((await logRows(job.id)).map((l) => l.requestBody)).toEqual([first!.rawBody, first!.rawBody]);

    // A redelivery after the edit sends what ran, not the edited job.
    expect((await call("POST", `/api/runs/${run!.id}/redeliver`)).status).toBe(202);
    await vi.waitUntil(async () => (await received(job.id)).length === 3, { timeout: 10_000, interval: 100 });
    expect((await received(job.id))[2]!.rawBody).toBe(first!.rawBody);
    // The next run is the edited job.
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, (j) => j.latestRun.number === 2 && delivered(j));
    expect((await received(job.id)).at(-1)!.body).toMatchObject({ taskName: "After edit", payload: { version: 2 }, runNumber: 2 });
  });
});
