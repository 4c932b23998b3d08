/** The original Express routes still work, served by the same handlers as /api. */
import { describe, expect, it } from "vitest";
import { call, delivered, uniqueWord, waitForJob } from "./support/helpers";

describe("original routes", () => {
  it("create-job, get-jobs, update-job, run-job, get-logs and delete-job work end to end", async () => {
    const tag = uniqueWord("legacy");
    const created = await call("POST", "/create-job", { taskName: "Send Email", payload: { email: `${tag}@test.com` }, priority: "HIGH" });
    expect(created.status).toBe(201);
    const id = created.body.data.id;

    const listed = await call("GET", `/get-jobs?limit=10&page=1&search=${tag}&status=PENDING`);
    expect(listed.body.data.map((j: any) => j.id)).toEqual([id]);
    expect(listed.body.pagination).toMatchObject({ page: 1, limit: 10, total: 1, totalPages: 1, totalExact: true });

    const updated = await call("PUT", `/update-job/${id}`, { taskName: "Send Welcome Email", payload: { email: `${tag}@test.com` }, priority: "LOW" });
    expect(updated.status).toBe(200);
    expect(updated.body.data).toMatchObject({ taskName: "Send Welcome Email", priority: "LOW" });

    const run = await call("POST", `/run-job/${id}`);
    expect(run.status).toBe(202);
    expect(run.body).toMatchObject({ success: true, message: "Job started", status: "IN_PROGRESS" });

    await waitForJob(id, delivered);
    const jobLogs = await call("GET", `/get-logs/${id}`);
    expect(jobLogs.body.data).toHaveLength(1);
    expect(jobLogs.body.data[0]).toMatchObject({ jobId: id, responseStatus: 200 });
    const allLogs = await call("GET", `/get-logs?jobId=${id}`);
    expect(allLogs.body.data.map((l: any) => l.id)).toEqual(jobLogs.body.data.map((l: any) => l.id));

    const deleted = await call("DELETE", `/delete-job?id=${id}`);
    expect(deleted.status).toBe(200);
    expect((await call("GET", `/get-logs/${id}`)).status).toBe(404);
  });

  it("GET /get-jobs answers exact totals, so clients looping over totalPages see every job; /api/jobs does with count=exact", async () => {
    const tag = uniqueWord("exact");
    for (let i = 0; i < 12; i++) await call("POST", "/create-job", { taskName: `Counted ${i} ${tag}`, payload: {}, priority: "LOW" });
    const legacy = await call("GET", `/get-jobs?search=${tag}&limit=1`);
    expect(legacy.body.pagination).toMatchObject({ page: 1, limit: 1, total: 12, totalPages: 12, totalExact: true });
    // The resource API counts a search through ten pages by default, and exactly when asked.
    expect((await call("GET", `/api/jobs?search=${tag}&limit=1`)).body.pagination).toMatchObject({ total: 10, totalExact: false });
    expect((await call("GET", `/api/jobs?search=${tag}&limit=1&count=exact`)).body.pagination).toMatchObject({ total: 12, totalPages: 12, totalExact: true });
    // Looping over totalPages as the original clients do reaches every job.
    const seen = new Set<string>();
    for (let page = 1; page <= legacy.body.pagination.totalPages; page++) {
      for (const job of (await call("GET", `/get-jobs?search=${tag}&limit=1&page=${page}`)).body.data) seen.add(job.id);
    }
    expect(seen.size).toBe(12);
  });

  it("DELETE /delete-job/:jobId deletes the job", async () => {
    const created = await call("POST", "/create-job", { taskName: "x", payload: {}, priority: "LOW" });
    const res = await call("DELETE", `/delete-job/${created.body.data.id}`);
    expect(res.body).toEqual({ success: true, message: "Job deleted", data: { id: created.body.data.id } });
  });

  it("GET /get-logs lists every log, newest first", async () => {
    const res = await call("GET", "/get-logs?limit=5");
    expect(res.status).toBe(200);
    const ids = res.body.data.map((l: any) => l.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
  });
});
