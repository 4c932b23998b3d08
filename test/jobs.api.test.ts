import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, countRows, createJob, logRows, uniqueWord, waitForJob } from "./support/helpers";

describe("POST /api/jobs", () => {
  it("creates a PENDING job with the given fields and answers 201", async () => {
    const res = await call("POST", "/api/jobs", { taskName: "Send Email", payload: { email: "a@b.c" }, priority: "HIGH" });
    expect(res.status).toBe(201);
    expect(res.body.success).toBe(true);
    expect(res.body.data).toMatchObject({ taskName: "Send Email", payload: { email: "a@b.c" }, priority: "HIGH", status: "PENDING" });
    expect(res.body.data.id).toMatch(/^[a-z0-9]{20,}$/);
    expect(new Date(res.body.data.createdAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
    const stored = await env.DB.prepare("SELECT taskName, status FROM jobs WHERE id = ?").bind(res.body.data.id).first();
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

  it("answers 409 while the job is IN_PROGRESS and leaves it unchanged", async () => {
    const job = await createJob();
    await call("POST", `/api/jobs/${job.id}/run`);
    const res = await call("PATCH", `/api/jobs/${job.id}`, { taskName: "renamed" });
    expect(res.status).toBe(409);
    expect(res.body.message).toMatch(/IN_PROGRESS/);
    expect((await call("GET", `/api/jobs/${job.id}`)).body.data.taskName).toBe(job.taskName);
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
  it("deletes the job and its webhook logs", async () => {
    const job = await createJob();
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, (j) => j.deliveryStatus === "DELIVERED");
    expect(await logRows(job.id)).toHaveLength(1);

    const res = await call("DELETE", `/api/jobs/${job.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, data: { id: job.id } });
    expect((await call("GET", `/api/jobs/${job.id}`)).status).toBe(404);
    expect(await logRows(job.id)).toHaveLength(0);
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
    expect(res.body.pagination).toEqual({ page: 1, limit: 100, total: 12, totalPages: 1, totalExact: true });
    expect(res.body.data.map((j: any) => j.id)).toEqual(made.map((j) => j.id).reverse());
  });

  it("combines search with status and priority filters", async () => {
    const tag = uniqueWord("filt");
    const made = await seed(tag);
    await call("POST", `/api/jobs/${made[3]!.id}/run`);
    await call("POST", `/api/jobs/${made[6]!.id}/run`);

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
    expect(first.body.pagination).toEqual({ page: 1, limit: 5, total: 12, totalPages: 3, totalExact: true });

    const middle = await call("GET", `/api/jobs?search=${tag}&limit=5&page=2`);
    expect(middle.body.data.map((j: any) => j.id)).toEqual(ids.slice(5, 10));

    const last = await call("GET", `/api/jobs?search=${tag}&limit=5&page=3`);
    expect(last.body.data.map((j: any) => j.id)).toEqual(ids.slice(10));

    const past = await call("GET", `/api/jobs?search=${tag}&limit=5&page=10000`);
    expect(past.status).toBe(200);
    expect(past.body.data).toEqual([]);
    expect(past.body.pagination).toEqual({ page: 10000, limit: 5, total: 12, totalPages: 3, totalExact: true });
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

  it("never lets createdAt go backwards, so every list (filtered, searched or not) agrees on the order", async () => {
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
    await waitForJob(job.id, (j) => j.deliveryStatus === "DELIVERED");
    const ok = await call("GET", `/api/logs?jobId=${job.id}&outcome=success`);
    expect(ok.body.data.map((l: any) => l.responseStatus)).toEqual([200]);
    const failed = await call("GET", `/api/logs?jobId=${job.id}&outcome=failure`);
    expect(failed.body.data.map((l: any) => l.responseStatus)).toEqual([500]);
    expect((await call("GET", "/api/logs?outcome=maybe")).status).toBe(400);
  });
});
