import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import worker from "../src/index";
import type { Env } from "../src/env";
import { API_TOKEN, call, countRows, createJob, delivered, deliveryState, logRows, received, runRows, SHARDS, uniqueWord, waitForJob, dbOf } from "./support/helpers";

describe("POST /api/jobs", () => {
  it("creates a PENDING job with the given fields and answers 201", async () => {
    const res = await call("POST", "/api/jobs", { taskName: "Send Email", payload: { email: "a@b.c" }, priority: "HIGH" });
    expect(res.status).toBe(201);
    expect(res.body.success).toBe(true);
    expect(res.body.data).toMatchObject({ taskName: "Send Email", payload: { email: "a@b.c" }, priority: "HIGH", status: "PENDING" });
    // (Shard k > 0 of a sharded deployment adds `-k`: src/db/shards.ts.)
    expect(res.body.data.id).toMatch(/^[a-z0-9]{20,}(-[1-9]\d?)?$/);
    expect(new Date(res.body.data.createdAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
    const stored = await dbOf(res.body.data.id).prepare("SELECT taskName, status FROM jobs WHERE id = ?").bind(res.body.data.id).first();
    expect(stored).toEqual({ taskName: "Send Email", status: "PENDING" });
  });

  it("defaults priority to MEDIUM and payload to {}, and trims the task name", async () => {
    const res = await call("POST", "/api/jobs", { taskName: "  padded  " });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ taskName: "padded", priority: "MEDIUM", payload: {} });
  });

  it("accepts a lower-case priority", async () => {
    const res = await call("POST", "/api/jobs", { taskName: "x", priority: "low" });
    expect(res.body.data.priority).toBe("LOW");
  });
});

describe("GET /api/jobs/:id", () => {
  it("returns the job", async () => {
    const job = await createJob({ payload: { n: 1 } });
    const res = await call("GET", `/api/jobs/${job.id}`);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ id: job.id, payload: { n: 1 } });
  });

  it("answers 404 with a message naming the id for an unknown job", async () => {
    const res = await call("GET", "/api/jobs/nope123");
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ success: false, message: "Job 'nope123' was not found" });
  });
});

describe("PATCH /api/jobs/:id", () => {
  it("changes only the given fields and bumps updatedAt", async () => {
    const job = await createJob({ payload: { a: 1 }, priority: "LOW" });
    const res = await call("PATCH", `/api/jobs/${job.id}`, { priority: "HIGH" });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ taskName: job.taskName, payload: { a: 1 }, priority: "HIGH" });
    expect(new Date(res.body.data.updatedAt).getTime()).toBeGreaterThanOrEqual(new Date(job.updatedAt).getTime());
  });

  it("edits a job while it runs: the run keeps the copy it started with", async () => {
    const job = await createJob({ payload: { v: 1 } });
    await call("POST", `/api/jobs/${job.id}/run`);
    const res = await call("PATCH", `/api/jobs/${job.id}`, { taskName: "renamed", payload: { v: 2 } });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ taskName: "renamed", payload: { v: 2 }, status: "IN_PROGRESS" });
    const [run] = await runRows(job.id);
    expect(run).toMatchObject({ taskName: job.taskName, payload: '{"v":1}', status: "IN_PROGRESS" });
    await waitForJob(job.id, delivered);
    expect((await received(job.id))[0]!.body).toMatchObject({ taskName: job.taskName, payload: { v: 1 } });
  });

  it("answers 404 for an unknown job and 400 for an empty patch", async () => {
    expect((await call("PATCH", "/api/jobs/missing", { taskName: "x" })).status).toBe(404);
    const job = await createJob();
    const empty = await call("PATCH", `/api/jobs/${job.id}`, {});
    expect(empty.status).toBe(400);
    expect(empty.body.message).toMatch(/at least one/);
  });
});

describe("DELETE /api/jobs/:id", () => {
  it("deletes the job at once; its runs, their deliveries and its webhook logs go with the next sweep", async () => {
    const job = await createJob();
    await call("POST", `/api/jobs/${job.id}/run`);
    const done = await waitForJob(job.id, delivered);
    expect(await logRows(job.id)).toHaveLength(1);
    const before = { runs: await countRows("runs"), deliveries: await countRows("deliveries") };

    const res = await call("DELETE", `/api/jobs/${job.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, data: { id: job.id } });
    expect((await call("GET", `/api/jobs/${job.id}`)).status).toBe(404);
    expect((await call("GET", `/api/runs/${done.latestRun.id}`)).status).toBe(404);
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), env);
    expect(await logRows(job.id)).toHaveLength(0);
    expect(await runRows(job.id)).toHaveLength(0);
    expect({ runs: await countRows("runs"), deliveries: await countRows("deliveries") }).toEqual({ runs: before.runs - 1, deliveries: before.deliveries - 1 });
  });

  it("answers 404 for an unknown job and deletes nothing", async () => {
    await createJob();
    const before = await countRows("jobs");
    expect((await call("DELETE", "/api/jobs/unknown-id")).status).toBe(404);
    expect(await countRows("jobs")).toBe(before);
  });
});

describe("GET /api/jobs (list, search, filters, pagination)", () => {
  async function seed(tag: string) {
    // 12 jobs: 3 with the tag in the task name, 9 with it only in the payload; mixed status and priority.
    const made = [];
    for (let i = 0; i < 12; i++) {
      const inName = i < 3;
      made.push(
        await createJob({
          taskName: inName ? `Report ${tag.toUpperCase()} ${i}` : `Task ${i}`,
          payload: inName ? { i } : { note: `contains ${tag} here`, i },
          priority: ["HIGH", "MEDIUM", "LOW"][i % 3],
        }),
      );
    }
    return made;
  }

  it("finds a word in the task name or the payload, case-insensitively, newest first", async () => {
    const tag = uniqueWord("srch");
    const made = await seed(tag);
    const res = await call("GET", `/api/jobs?search=${tag}&limit=100`);
    expect(res.status).toBe(200);
    expect(res.body.pagination).toMatchObject({ page: 1, limit: 100, total: 12, totalPages: 1, totalExact: true });
    expect(res.body.data.map((j: any) => j.id)).toEqual(made.map((j) => j.id).reverse());
  });

  it("combines search with status and priority filters", async () => {
    const tag = uniqueWord("filt");
    const made = await seed(tag);
    // Runs of an hour: still in progress at every read below, however slow the machine is.
    const runLong = (id: string) =>
      worker.fetch(new Request(`http://scheduler.test/api/jobs/${id}/run`, { method: "POST", headers: { authorization: `Bearer ${API_TOKEN}` } }), { ...env, JOB_DURATION_SECONDS: "3600" } as Env);
    expect((await runLong(made[3]!.id)).status).toBe(202);
    expect((await runLong(made[6]!.id)).status).toBe(202);

    const inProgress = await call("GET", `/api/jobs?search=${tag}&status=IN_PROGRESS`);
    expect(inProgress.body.data.map((j: any) => j.id).sort()).toEqual([made[3]!.id, made[6]!.id].sort());

    const high = await call("GET", `/api/jobs?search=${tag}&priority=HIGH&limit=100`);
    expect(high.body.pagination.total).toBe(4);
    expect(high.body.data.every((j: any) => j.priority === "HIGH")).toBe(true);

    const both = await call("GET", `/api/jobs?search=${tag}&priority=high&status=in_progress`);
    // made[3] and made[6] are both HIGH (i % 3 === 0); newest first.
    expect(both.body.data.map((j: any) => j.id)).toEqual([made[6]!.id, made[3]!.id]);
  });

  it("pages through results: first, middle, last and past the end", async () => {
    const tag = uniqueWord("page");
    const ids = (await seed(tag)).map((j) => j.id).reverse();

    const first = await call("GET", `/api/jobs?search=${tag}&limit=5&page=1`);
    expect(first.body.data.map((j: any) => j.id)).toEqual(ids.slice(0, 5));
    expect(first.body.pagination).toMatchObject({ page: 1, limit: 5, total: 12, totalPages: 3, totalExact: true });

    const middle = await call("GET", `/api/jobs?search=${tag}&limit=5&page=2`);
    expect(middle.body.data.map((j: any) => j.id)).toEqual(ids.slice(5, 10));

    const last = await call("GET", `/api/jobs?search=${tag}&limit=5&page=3`);
    expect(last.body.data.map((j: any) => j.id)).toEqual(ids.slice(10));

    const past = await call("GET", `/api/jobs?search=${tag}&limit=5&page=10000`);
    expect(past.status).toBe(200);
    expect(past.body.data).toEqual([]);
    expect(past.body.pagination).toMatchObject({ page: 10000, limit: 5, total: 12, totalPages: 3, totalExact: true });
  });

  it("treats % and _ in a search as literal characters", async () => {
    const tag = uniqueWord("lit");
    const percent = await createJob({ taskName: `${tag} 100% done` });
    await createJob({ taskName: `${tag} 100 done` });
    const res = await call("GET", `/api/jobs?search=${encodeURIComponent("100%")}&limit=100`);
    const ids = res.body.data.map((j: any) => j.id);
    expect(ids).toContain(percent.id);
    const scoped = await call("GET", `/api/jobs?search=${encodeURIComponent(`${tag} 100%`)}`);
    expect(scoped.body.data.map((j: any) => j.id)).toEqual([percent.id]);
    const underscore = await call("GET", `/api/jobs?search=${encodeURIComponent(`${tag}_`)}`);
    expect(underscore.body.data).toEqual([]);
  });

  it("uses 10 per page by default", async () => {
    const res = await call("GET", "/api/jobs");
    expect(res.body.pagination.limit).toBe(10);
    expect(res.body.pagination.page).toBe(1);
  });
});

describe("GET /api/jobs?sort", () => {
  it("sorts by creation time, oldest first on request", async () => {
    const tag = uniqueWord("sort");
    const a = await createJob({ taskName: `${tag} a` });
    const b = await createJob({ taskName: `${tag} b` });
    const oldest = await call("GET", `/api/jobs?search=${tag}&sort=oldest`);
    expect(oldest.body.data.map((j: any) => j.id)).toEqual([a.id, b.id]);
    const newest = await call("GET", `/api/jobs?search=${tag}`);
    expect(newest.body.data.map((j: any) => j.id)).toEqual([b.id, a.id]);
    expect((await call("GET", "/api/jobs?sort=sideways")).status).toBe(400);
  });

  // One database's clock guard: over several shards each guards its own, and a create may land in any.
  it.skipIf(SHARDS > 1)("never lets createdAt go backwards, so every list (filtered, searched or not) agrees on the order", async () => {
    const tag = uniqueWord("clock");
    // A job stored by a Worker whose clock runs a minute ahead of this one.
    const aheadMs = Date.now() + 60_000;
    await env.DB.prepare("INSERT INTO jobs (id, taskName, payload, createdAt, updatedAt) VALUES (?, ?, '{}', ?, ?)").bind(`ahead${tag}`, `${tag} ahead`, aheadMs, aheadMs).run();
    const later = await createJob({ taskName: `${tag} later` });
    expect(new Date(later.createdAt).getTime()).toBe(aheadMs);

    const newestFirst = [later.id, `ahead${tag}`];
    for (const query of [`search=${tag}`, `search=${tag}&status=PENDING`, "limit=2", "status=PENDING&limit=2", "priority=MEDIUM&limit=2"]) {
      const res = await call("GET", `/api/jobs?${query}`);
      expect(res.body.data.map((j: any) => j.id), query).toEqual(newestFirst);
    }
  });
});

describe("GET /api/logs?outcome", () => {
  it("filters delivery attempts by success or failure", async () => {
    const job = await createJob({ payload: { receiver: { script: [500, 200] } } });
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, delivered);
    const ok = await call("GET", `/api/logs?jobId=${job.id}&outcome=success`);
    expect(ok.body.data.map((l: any) => l.responseStatus)).toEqual([200]);
    const failed = await call("GET", `/api/logs?jobId=${job.id}&outcome=failure`);
    expect(failed.body.data.map((l: any) => l.responseStatus)).toEqual([500]);
    expect((await call("GET", "/api/logs?outcome=maybe")).status).toBe(400);
  });
});

describe("runs: GET /api/jobs/:id/runs, GET /api/runs/:runId", () => {
  it("lists a job's runs newest first, each with its delivery, and shows the latest on the job", async () => {
    const job = await createJob({ payload: { receiver: { script: [500, 200] } } });
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, delivered);
    await call("POST", `/api/jobs/${job.id}/run`);
    const latest = await waitForJob(job.id, (j) => j.latestRun.number === 2 && delivered(j));

    const res = await call("GET", `/api/jobs/${job.id}/runs?limit=1`);
    expect(res.status).toBe(200);
    expect(res.body.pagination).toMatchObject({ page: 1, limit: 1, total: 2, totalPages: 2 });
    expect(res.body.data).toHaveLength(1);
    expect(res.body.data[0]).toMatchObject({ number: 2, status: "COMPLETED", delivery: { id: `whd_${job.id}_2`, state: "DELIVERED", attempts: 1 } });
    expect(res.body.data[0].id).toBe(latest.latestRun.id);
    const older = await call("GET", `/api/jobs/${job.id}/runs?limit=1&page=2`);
    expect(older.body.data[0]).toMatchObject({ number: 1, delivery: { id: `whd_${job.id}_1`, state: "DELIVERED", attempts: 2 } });
  });

  it("shows one run with what ran, its delivery's exact body and every attempt", async () => {
    const job = await createJob({ taskName: "Detailed", payload: { k: "v", receiver: { script: [503, 200] } } });
    await call("POST", `/api/jobs/${job.id}/run`);
    const done = await waitForJob(job.id, delivered);
    const res = await call("GET", `/api/runs/${done.latestRun.id}`);
    expect(res.status).toBe(200);
    const run = res.body.data;
    expect(run).toMatchObject({ jobId: job.id, number: 1, taskName: "Detailed", payload: { k: "v" }, status: "COMPLETED" });
    const [hook] = await received(job.id);
    expect(run.delivery.body).toEqual(hook!.body);
    expect(run.attempts.map((a: any) => [a.attempt, a.responseStatus])).toEqual([[2, 200], [1, 503]]);
  });

  it("answers 404 for an unknown job or run and 400 for a run id that is not a number", async () => {
    expect((await call("GET", "/api/jobs/nope/runs")).status).toBe(404);
    expect((await call("GET", "/api/runs/999999999")).body).toEqual({ success: false, message: "Run '999999999' was not found" });
    const bad = await call("GET", "/api/runs/abc");
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/run id must be a positive whole number/);
    expect((await call("POST", "/api/runs/0/redeliver")).status).toBe(400);
  });
});

describe("POST /api/runs/:runId/redeliver", () => {
  it("redelivers an older run's webhook, not the latest one's, with that run's webhook-id and bytes", async () => {
    const job = await createJob({ payload: { n: 1 } });
    await call("POST", `/api/jobs/${job.id}/run`);
    const first = await waitForJob(job.id, delivered);
    await call("PATCH", `/api/jobs/${job.id}`, { payload: { n: 2 } });
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, (j) => j.latestRun.number === 2 && delivered(j));

    const res = await call("POST", `/api/runs/${first.latestRun.id}/redeliver`);
    expect(res.status).toBe(202);
    expect(res.body.data).toMatchObject({ id: first.latestRun.id, number: 1, delivery: { state: "PENDING", series: 2, attempts: 0 } });
    await vi.waitUntil(async () => (await received(job.id)).length === 3, { timeout: 10_000, interval: 100 });
    const hooks = await received(job.id);
    expect(hooks[2]!.headers["webhook-id"]).toBe(`whd_${job.id}_1`);
    expect(hooks[2]!.rawBody).toBe(hooks[0]!.rawBody);
  });

  it("answers 409 before the run finished, and the job route redelivers the latest run", async () => {
    const job = await createJob();
    const started = await call("POST", `/api/jobs/${job.id}/run`);
    const busy = await call("POST", `/api/runs/${started.body.data.latestRun.id}/redeliver`);
    expect(busy.status).toBe(409);
    expect(busy.body.message).toMatch(/has not finished/);
    await waitForJob(job.id, delivered);
    const res = await call("POST", `/api/jobs/${job.id}/redeliver`);
    expect(res.status).toBe(202);
    expect(res.body.data).toMatchObject({ number: 1, delivery: { series: 2 } });
    const done = await waitForJob(job.id, (j) => j.latestRun.delivery.series === 2 && deliveryState(j) === "DELIVERED");
    expect(done.latestRun.delivery.attempts).toBe(1);
  });
});
