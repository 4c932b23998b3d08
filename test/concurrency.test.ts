/**
 * MAX_CONCURRENT_RUNS and priority: runs beyond the limit wait (SCHEDULED) and start as slots free, in
 * their place in line (due time plus their priority's offset): HIGH before MEDIUM before LOW among runs
 * due together, and a LOW run before a HIGH one due more than its offset later.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../src/env";
import worker from "../src/index";
import { runJob } from "../src/jobs/service";
import { dispatch } from "../src/runs/dispatch";
import { backdateRun, call, createJob, runRows } from "./support/helpers";

/** Two slots; runs take an hour, so they hold their slot until a test completes them by hand. */
const limited: Env = { ...env, MAX_CONCURRENT_RUNS: "2", JOB_DURATION_SECONDS: "3600" };

/** The completion message of a job's run, delivered as the queue would once its hour has passed. */
async function complete(jobId: string, run = 1) {
  await backdateRun(jobId, run, 3_600_000);
  const batch = createMessageBatch<unknown>("job-scheduler-runs", [{ id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body: { jobId, run } }]);
  await worker.queue(batch, limited);
  await getQueueResult(batch, createExecutionContext());
}

const statusOf = async (jobId: string) => (await runRows(jobId))[0]?.status;

describe("MAX_CONCURRENT_RUNS and priority", () => {
  it("holds runs beyond the limit SCHEDULED and starts them as slots free: HIGH, then MEDIUM, then LOW", async () => {
    const fillers = [await createJob(), await createJob()];
    for (const f of fillers) expect((await runJob(limited, f.id)).status).toBe("IN_PROGRESS");
    const low = await createJob({ priority: "LOW" });
    const medium = await createJob({ priority: "MEDIUM" });
    const high = await createJob({ priority: "HIGH" });
    for (const j of [low, medium, high]) {
      const waiting = await runJob(limited, j.id);
      expect(waiting).toMatchObject({ status: "SCHEDULED", latestRun: null });
      expect(new Date(waiting.nextRunAt!).getTime()).toBeLessThanOrEqual(Date.now());
    }
    // A second "run now" while one waits is refused, as while one runs.
    expect((await call("POST", `/api/jobs/${low.id}/run`)).status).toBe(409);
    // The original route says it is queued, not started.
    const extra = await createJob({ priority: "LOW" });
    const queued = await worker.fetch(
      new Request(`http://scheduler.test/run-job/${extra.id}`, { method: "POST", headers: { authorization: `Bearer ${(await import("./support/helpers")).API_TOKEN}` } }),
      limited,
    );
    expect(await queued.json()).toMatchObject({ success: true, status: "SCHEDULED", message: expect.stringMatching(/^Job queued: every slot is busy/) });
    await call("DELETE", `/api/jobs/${extra.id}`);

    await complete(fillers[0]!.id);
    expect([await statusOf(high.id), await statusOf(medium.id), await statusOf(low.id)]).toEqual(["IN_PROGRESS", "SCHEDULED", "SCHEDULED"]);
    await complete(fillers[1]!.id);
    expect([await statusOf(medium.id), await statusOf(low.id)]).toEqual(["IN_PROGRESS", "SCHEDULED"]);
    await complete(high.id);
    expect(await statusOf(low.id)).toBe("IN_PROGRESS");
    for (const j of [medium, low]) await complete(j.id);
  });

  it("ages: a LOW run due now goes before a HIGH run due 3 minutes later, but not before one due 1 minute later", async () => {
    const now = Date.now();
    for (const [highDelayMs, first] of [
      [180_000, "LOW"],
      [60_000, "HIGH"],
    ] as const) {
      const fillers = [await createJob(), await createJob()];
      for (const f of fillers) await runJob(limited, f.id);
      const low = await createJob({ priority: "LOW" });
      await runJob(limited, low.id);
      const high = (await call("POST", "/api/jobs", { taskName: "High later", priority: "HIGH", runAt: new Date(now + highDelayMs).toISOString() })).body.data;
      // One slot frees (without a dispatch of its own), then the dispatcher looks when both are due.
      await env.DB.prepare("UPDATE runs SET status = 'COMPLETED', expectedAt = NULL WHERE jobId = ?").bind(fillers[0]!.id).run();
      await dispatch(limited, new Date(now + highDelayMs + 1000));
      const started = [(await statusOf(low.id)) === "IN_PROGRESS" ? "LOW" : null, (await statusOf(high.id)) === "IN_PROGRESS" ? "HIGH" : null].filter(Boolean);
      expect(started, `HIGH due ${highDelayMs / 1000} s later`).toEqual([first]);
      for (const id of [fillers[1]!.id, low.id, high.id]) await call("DELETE", `/api/jobs/${id}`);
      await call("DELETE", `/api/jobs/${fillers[0]!.id}`);
    }
  });

  it("never starts more than the limit when two dispatchers read two free slots each before either starts a run (the count and the start are one statement)", async () => {
    // Two dispatchers in this isolate, interleaved at their D1 calls: both reads, then both writes. D1 runs one
    // statement at a time, so this is an order dispatchers in separate isolates can produce too. Each must pick
    // other runs, or the runs' own conditional start (SCHEDULED -> IN_PROGRESS) would be what stops the second:
    // the early dispatcher sees only the two runs due first (LOW: behind in line), the later one also two HIGH runs
    // due a little later, ahead of them in line.
    const now = Date.now();
    const early = [await createJob({ priority: "LOW" }), await createJob({ priority: "LOW" })];
    const later = [await createJob({ priority: "HIGH" }), await createJob({ priority: "HIGH" })];
    const insert = (jobId: string, priority: string, dueAt: number, rank: number) =>
      env.DB.prepare("INSERT INTO runs (jobId, number, status, taskName, payload, priority, dueAt, rank) VALUES (?, 1, 'SCHEDULED', 'x', '{}', ?, ?, ?)").bind(jobId, priority, dueAt, rank);
    await env.DB.batch([
      ...early.map((j, i) => insert(j.id, "LOW", now - 60_000 + i, now - 60_000 + i + 120_000)),
      ...later.map((j, i) => insert(j.id, "HIGH", now - 30_000 + i, now - 30_000 + i)),
    ]);
    const [first, second] = await Promise.all([dispatch(limited, new Date(now - 45_000)), dispatch(limited, new Date(now))]);
    // Each read two free slots and went for two runs of its own; one statement's count let only two start in all.
    expect(first.started.length + second.started.length).toBe(2);
    const inProgress = await env.DB.prepare("SELECT count(*) AS n FROM runs WHERE status = 'IN_PROGRESS'").first<{ n: number }>();
    expect(inProgress?.n).toBe(2);
    for (const j of [...early, ...later]) await call("DELETE", `/api/jobs/${j.id}`);
  });

  it("never starts more than the limit when one request asks to run eight jobs", async () => {
    const jobs = await Promise.all(Array.from({ length: 8 }, () => createJob()));
    const res = await worker.fetch(
      new Request("http://scheduler.test/api/jobs/run", {
        method: "POST",
        headers: { authorization: `Bearer ${(await import("./support/helpers")).API_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ ids: jobs.map((j) => j.id) }),
      }),
      limited,
    );
    expect(res.status).toBe(202);
    const inProgress = await env.DB.prepare("SELECT count(*) AS n FROM runs WHERE status = 'IN_PROGRESS'").first<{ n: number }>();
    expect(inProgress?.n).toBe(2);
    const statuses = (await Promise.all(jobs.map((j) => statusOf(j.id)))).sort();
    expect(statuses).toEqual(["IN_PROGRESS", "IN_PROGRESS", "SCHEDULED", "SCHEDULED", "SCHEDULED", "SCHEDULED", "SCHEDULED", "SCHEDULED"]);
    for (const j of jobs) await call("DELETE", `/api/jobs/${j.id}`);
  });
});
