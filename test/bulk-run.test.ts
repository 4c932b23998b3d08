import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../src/env";
import worker from "../src/index";
import { API_TOKEN, call, countRows, createJob, delivered, getJob, received, runRows, waitForJob } from "./support/helpers";

describe("POST /api/jobs/run (bulk)", () => {
  it("starts many jobs at once, reports the running and the unknown ones, and each completes with its webhook", async () => {
    const jobs = [await createJob(), await createJob(), await createJob()];
    const busy = await createJob();
    await call("POST", `/api/jobs/${busy.id}/run`);

    const res = await call("POST", "/api/jobs/run", { ids: [...jobs.map((j) => j.id), busy.id, "no-such-job"] });
    expect(res.status).toBe(202);
    expect(res.body.message).toBe("3 jobs started");
    expect(res.body.data.started.map((s: any) => s.id).sort()).toEqual(jobs.map((j) => j.id).sort());
    expect(res.body.data.started.every((s: any) => s.status === "IN_PROGRESS" && s.runNumber === 1 && typeof s.runId === "number")).toBe(true);
    expect(res.body.data.inProgress).toEqual([busy.id]);
    expect(res.body.data.notFound).toEqual(["no-such-job"]);
    expect((await getJob(busy.id)).latestRun.number).toBe(1);
    expect(await runRows(busy.id)).toHaveLength(1);

    for (const job of jobs) {
      await waitForJob(job.id, delivered);
      expect(await received(job.id)).toHaveLength(1);
    }
  });

  // Each bad body names a real job where it can, so "starts nothing" could fail if validation were skipped.
  it.each([
    ["no ids", (_: string) => ({ ids: [] }), /at least one/],
    ["101 ids", (id: string) => ({ ids: [id, ...Array.from({ length: 100 }, (_, i) => `j${i}`)] }), /at most 100/],
    ["a repeated id", (id: string) => ({ ids: [id, id] }), /must not repeat/],
    ["ids as a string", (id: string) => ({ ids: id }), /array of job ids/],
    ["an unknown field", (id: string) => ({ ids: [id], all: true }), /all/],
  ])("answers 400 for %s and starts nothing", async (_, bodyFor, message) => {
    const job = await createJob();
    const runsBefore = await countRows("runs");
    const res = await call("POST", "/api/jobs/run", bodyFor(job.id));
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(message);
    expect((await getJob(job.id)).status).toBe("PENDING");
    expect(await countRows("runs")).toBe(runsBefore);
  });

  it("answers 503 when the messages cannot be queued, failing the runs it started with the reason", async () => {
    const jobs = [await createJob(), await createJob()];
    const outage: Env = { ...env, JOB_QUEUE: { send: env.JOB_QUEUE.send.bind(env.JOB_QUEUE), sendBatch: () => Promise.reject(new Error("queue unavailable")) } as unknown as Env["JOB_QUEUE"] };
    const res = await worker.fetch(
      new Request("http://scheduler.test/api/jobs/run", {
        method: "POST",
        headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ ids: jobs.map((j) => j.id) }),
      }),
      outage,
    );
    expect(res.status).toBe(503);
    for (const job of jobs) {
      expect(await getJob(job.id)).toMatchObject({
        status: "FAILED",
        latestRun: { status: "FAILED", failureReason: "could not enqueue the run: queue unavailable", delivery: { event: "job.failed", state: "PENDING" } },
      });
    }
  });
});
