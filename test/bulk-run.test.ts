/** Bulk actions through the API: many jobs run, cancelled, paused, resumed or deleted in one call. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../src/env";
import worker from "../src/index";
import { readMeter } from "../src/lib/meter";
import { API_TOKEN, call, countRows, createJob, delivered, getJob, received, runRows, SHARDS, waitForJob } from "./support/helpers";

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

describe("POST /api/jobs/bulk: 100 jobs in a fixed number of subrequests", () => {
  /** `action` on `ids` through the API, on metered bindings: what it did and what it cost. */
  async function bulk(action: string, ids: string[], withEnv: Env) {
    readMeter(true);
    const res = await worker.fetch(
      new Request("http://scheduler.test/api/jobs/bulk", {
        method: "POST",
        headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ action, ids }),
      }),
      { ...withEnv, COST_METER: "true" },
    );
    return { status: res.status, body: (await res.json()) as any, cost: readMeter(true) };
  }

  it("runs, cancels, pauses, resumes and deletes 100 jobs, each in at most a handful of D1 round trips and one dispatch", async () => {
    // Counted queue: what the app sends is kept, not delivered (no run completes behind the test's back).
    const sent: { body: { jobId: string; run: number } }[] = [];
    let queueCalls = 0;
    const queue = {
      send: async (body: any) => void (queueCalls++, sent.push({ body })),
      sendBatch: async (ms: Iterable<any>) => void (queueCalls++, sent.push(...ms)),
    } as unknown as Env["JOB_QUEUE"];
    const calls = async <T>(work: () => Promise<T>) => {
      queueCalls = 0;
      const result = await work();
      return { ...result, queueCalls };
    };
    const e: Env = { ...env, JOB_DURATION_SECONDS: "3600", MAX_CONCURRENT_RUNS: "50", JOB_QUEUE: queue };
    const recurring = await Promise.all(Array.from({ length: 50 }, () => createJob({ schedule: { cron: "0 9 * * *" }, notifyOnCancel: true })));
    const plain = await Promise.all(Array.from({ length: 50 }, () => createJob()));
    const ids = [...recurring, ...plain].map((j) => j.id);

    const run = await calls(() => bulk("run", plain.map((j) => j.id), e));
    expect(run.body.data.done).toHaveLength(50);
    sent.splice(0);
    const cancel = await calls(() => bulk("cancel", ids, e));
    expect(cancel.status).toBe(200);
    // Every job had a run to cancel: the 50 occurrences to come and the 50 runs in progress.
    expect(cancel.body.data).toMatchObject({ refused: [], notFound: [] });
    expect(cancel.body.data.done).toHaveLength(100);
    // Each recurring job's next occurrence follows the one cancelled, and its job.cancelled webhook is queued.
    for (const job of recurring.slice(0, 3)) expect((await runRows(job.id)).map((r) => r.status)).toEqual(["CANCELLED", "SCHEDULED"]);
    // The 50 recurring jobs asked for job.cancelled webhooks: each is queued, with one call for all of them.
    const recurringIds = new Set(recurring.map((j) => j.id));
    expect(sent.filter((m) => recurringIds.has(m.body.jobId) && m.body.run === 1)).toHaveLength(50);
    const pause = await calls(() => bulk("pause", ids, e));
    expect(pause.body.data.done).toHaveLength(50);
    expect(pause.body.data.refused).toHaveLength(50); // the plain jobs have no schedule
    const resume = await calls(() => bulk("resume", ids, e));
    expect(resume.body.data.done).toHaveLength(50);
    const del = await calls(() => bulk("delete", [...ids.slice(0, 99), "no-such-job"], e));
    expect(del.body.data).toMatchObject({ notFound: ["no-such-job"] });
    expect(del.body.data.done).toHaveLength(99);

    for (const [name, result] of Object.entries({ run, cancel, pause, resume, delete: del })) {
      // Whatever the number of jobs: a read, a write and, after a cancel or a delete that freed slots, one
      // dispatch; the queue: the webhooks in one call, the start messages in another. Each per shard
      // (each shard's jobs are one batch on that shard).
      expect(result.cost.d1.roundTrips, name).toBeLessThanOrEqual(6 * SHARDS);
      expect(result.queueCalls, name).toBeLessThanOrEqual(3 * SHARDS);
    }
  });
});
