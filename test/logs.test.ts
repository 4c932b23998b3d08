/**
 * Structured logs: one JSON line per request, per run transition and per delivery attempt, each with
 * the ids that let a person follow a run through Workers Logs (job, run, delivery, attempt, outcome,
 * duration). Read from the Worker's own console as it runs the real lifecycle.
 */
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from "vitest";
import { call, createJob, uniqueWord, waitForJob } from "./support/helpers";

let spy: MockInstance<typeof console.log>;
beforeEach(() => {
  spy = vi.spyOn(console, "log");
});
afterEach(() => spy.mockRestore());

/** The structured lines logged so far about `jobId` (requests name it in their path). */
function linesAbout(jobId: string): Record<string, any>[] {
  return spy.mock.calls
    .map(([first]) => (typeof first === "string" && first.startsWith('{"event":') ? JSON.parse(first) : null))
    .filter((line): line is Record<string, any> => line !== null && (line.jobId === jobId || String(line.path ?? "").includes(jobId)));
}

describe("structured logs", () => {
  it("follow a run from the request that started it to its delivered webhook", async () => {
    const job = await createJob({ taskName: uniqueWord("logged") });
    await call("POST", `/api/jobs/${job.id}/run`);
    const done = await waitForJob(job.id, (j) => j.latestRun?.delivery?.state === "DELIVERED");
    const lines = linesAbout(job.id);
    const runId = done.latestRun.id;
    const deliveryId = done.latestRun.delivery.id;

    expect(lines).toContainEqual(expect.objectContaining({ event: "request", method: "POST", route: "/api/jobs/:id/run", status: 202, durationMs: expect.any(Number) }));
    expect(lines).toContainEqual(expect.objectContaining({ event: "run.started", jobId: job.id, runId, run: 1, priority: "MEDIUM", waitMs: expect.any(Number) }));
    expect(lines).toContainEqual({ event: "run.completed", jobId: job.id, runId, deliveryId });
    expect(lines).toContainEqual(
      expect.objectContaining({ event: "delivery.attempt", jobId: job.id, runId, deliveryId, series: 1, attempt: 1, outcome: "DELIVERED", responseStatus: 200, durationMs: expect.any(Number), error: null }),
    );
    // In the order it happened.
    const order = lines.map((line) => line.event).filter((event) => event !== "request");
    expect(order).toEqual(["run.started", "run.completed", "delivery.attempt"]);
  });

  it("name the route a request was for, even when the token check answered it", async () => {
    const job = await createJob();
    await call("POST", `/api/jobs/${job.id}/run`, undefined, { authorization: "Bearer wrong-token-0000000000000000", cookie: null });
    expect(linesAbout(job.id)).toContainEqual(expect.objectContaining({ event: "request", route: "/api/jobs/:id/run", status: 401 }));
  });

  it("say why an attempt failed and when the next one comes", async () => {
    const job = await createJob({ webhookUrl: "http://127.0.0.1:9/unreachable" });
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, (j) => (j.latestRun?.delivery?.attempts ?? 0) >= 1 && j.latestRun.delivery.state !== "SENDING");
    const attempt = linesAbout(job.id).find((line) => line.event === "delivery.attempt");
    expect(attempt).toMatchObject({ attempt: 1, outcome: "RETRYING", responseStatus: null, error: expect.any(String), nextRetryAt: expect.stringMatching(/^\d{4}-/) });
  });

  it("record a cancelled run with its reason, and a scheduled one with its due time", async () => {
    const job = await createJob({ delaySeconds: 600 });
    await call("POST", `/api/jobs/${job.id}/cancel`);
    const lines = linesAbout(job.id);
    expect(lines).toContainEqual(expect.objectContaining({ event: "run.scheduled", jobId: job.id, run: 1, dueAt: expect.stringMatching(/^\d{4}-/) }));
    expect(lines).toContainEqual(expect.objectContaining({ event: "run.cancelled", jobId: job.id, run: 1, reason: "cancelled by request" }));
  });

  it("record the runs an edit or a pause cancels", async () => {
    const edited = await createJob({ delaySeconds: 600 });
    await call("PATCH", `/api/jobs/${edited.id}`, { delaySeconds: 900 });
    expect(linesAbout(edited.id).filter((line) => line.event === "run.cancelled")).toEqual([expect.objectContaining({ run: 1, reason: expect.any(String) })]);
    const recurring = await createJob({ schedule: { cron: "0 9 * * *", timezone: "UTC" } });
    await call("POST", `/api/jobs/${recurring.id}/pause`);
    expect(linesAbout(recurring.id).filter((line) => line.event === "run.cancelled")).toEqual([expect.objectContaining({ run: 1, reason: "the schedule was paused" })]);
  });
});
