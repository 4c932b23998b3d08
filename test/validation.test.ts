import { describe, expect, it } from "vitest";
import { call, countRows, createJob } from "./support/helpers";

/** Every case must answer the given status with a message, and write nothing to D1. */
async function expectRejected(status: number, method: string, path: string, body?: unknown, headers?: Record<string, string>) {
  const before = { jobs: await countRows("jobs"), logs: await countRows("webhook_logs") };
  const res = await call(method, path, body, headers);
  expect(res.status, `${method} ${path} ${JSON.stringify(body)?.slice(0, 80)}`).toBe(status);
  expect(res.body.success).toBe(false);
  expect(typeof res.body.message).toBe("string");
  expect(res.body.message.length).toBeGreaterThan(5);
  expect({ jobs: await countRows("jobs"), logs: await countRows("webhook_logs") }).toEqual(before);
  return res.body;
}

describe("job body validation", () => {
  it("rejects a missing taskName, naming the field", async () => {
    const body = await expectRejected(400, "POST", "/api/jobs", { payload: {}, priority: "HIGH" });
    expect(body.errors).toEqual([{ field: "taskName", message: "taskName is required" }]);
  });

  it.each([[""], ["   "]])("rejects an empty taskName %j", async (taskName) => {
    const body = await expectRejected(400, "POST", "/api/jobs", { taskName });
    expect(body.message).toMatch(/taskName must not be empty/);
  });

  it.each([[123], [null], [["a"]], [{ a: 1 }]])("rejects a taskName that is not a string: %j", async (taskName) => {
    await expectRejected(400, "POST", "/api/jobs", { taskName });
  });

  it("rejects a taskName longer than 200 characters", async () => {
    await expectRejected(400, "POST", "/api/jobs", { taskName: "x".repeat(201) });
  });

  it.each([["URGENT"], [""], [1], [null]])("rejects the unknown priority %j, listing the allowed ones", async (priority) => {
    const body = await expectRejected(400, "POST", "/api/jobs", { taskName: "x", priority });
    expect(body.message).toMatch(/priority must be one of HIGH, MEDIUM, LOW/);
  });

  it.each([[[1, 2]], ["text"], [null], [42], [true]])("rejects a payload that is not an object: %j", async (payload) => {
    const body = await expectRejected(400, "POST", "/api/jobs", { taskName: "x", payload });
    expect(body.errors[0].field).toBe("payload");
  });

  it("rejects an unknown field instead of silently dropping it", async () => {
    const body = await expectRejected(400, "POST", "/api/jobs", { taskName: "x", priorty: "HIGH" });
    expect(body.message).toMatch(/priorty/);
  });

  it.each([['{"taskName": "x"'], ["not json"], ["[1,2"], [""]])("rejects malformed JSON %j", async (raw) => {
    const body = await expectRejected(400, "POST", "/api/jobs", raw);
    expect(body.message).toMatch(/Invalid JSON body: it is not valid JSON/);
  });

  it("rejects a JSON array body", async () => {
    await expectRejected(400, "POST", "/api/jobs", [{ taskName: "x" }]);
  });

  it.each([["text/plain"], ["application/x-www-form-urlencoded"], ["multipart/form-data; boundary=x"]])(
    "answers 415 for Content-Type %s",
    async (contentType) => {
      const body = await expectRejected(415, "POST", "/api/jobs", '{"taskName":"x"}', { "content-type": contentType });
      expect(body.message).toMatch(/application\/json/);
    },
  );

  it("answers 415 when there is no Content-Type", async () => {
    const res = await call("POST", "/api/jobs");
    expect(res.status).toBe(415);
  });

  it("answers 413 for a body over 64 KiB", async () => {
    const body = await expectRejected(413, "POST", "/api/jobs", { taskName: "big", payload: { blob: "x".repeat(70_000) } });
    expect(body.message).toMatch(/larger than 65536 bytes/);
  });

  it("applies the same rules to an update", async () => {
    const job = await createJob();
    await expectRejected(400, "PATCH", `/api/jobs/${job.id}`, { priority: "NOW" });
    await expectRejected(400, "PATCH", `/api/jobs/${job.id}`, { payload: [] });
    await expectRejected(400, "PATCH", `/api/jobs/${job.id}`, { taskName: "" });
    await expectRejected(415, "PATCH", `/api/jobs/${job.id}`, "x", { "content-type": "text/plain" });
    await expectRejected(400, "PUT", `/update-job/${job.id}`, "{oops", {});
  });
});

describe("query validation", () => {
  it.each([["0"], ["-1"], ["10000"], ["abc"], ["1.5"], ["1e3"]])("rejects limit=%s with a message naming limit", async (limit) => {
    const body = await expectRejected(400, "GET", `/api/jobs?limit=${limit}`);
    expect(body.errors[0].field).toBe("limit");
    expect(body.message).toMatch(/limit/);
  });

  it.each([["0"], ["-1"], ["abc"], ["99999999999"]])("rejects page=%s with a message naming page", async (page) => {
    const body = await expectRejected(400, "GET", `/api/jobs?page=${page}`);
    expect(body.errors[0].field).toBe("page");
  });

  it("reads limit and page as plain digits only, with messages that name the range", async () => {
    expect((await call("GET", "/api/jobs?limit=01&page=001")).body.pagination).toMatchObject({ limit: 1, page: 1 });
    for (const text of ["1.5", "1e3", "-1", "+1", "0x10", "%201", "1234567890"]) {
      expect((await expectRejected(400, "GET", `/api/jobs?limit=${text}`)).errors, text).toEqual([{ field: "limit", message: "limit must be a whole number between 1 and 100" }]);
    }
    expect((await expectRejected(400, "GET", "/api/jobs?limit=1&limit=2")).errors).toEqual([{ field: "limit", message: "limit must be a whole number between 1 and 100" }]);
    expect((await expectRejected(400, "GET", "/api/jobs?limit=101")).errors).toEqual([{ field: "limit", message: "limit must be at most 100" }]);
    expect((await expectRejected(400, "GET", "/api/jobs?page=0")).errors).toEqual([{ field: "page", message: "page must be at least 1" }]);
    expect((await expectRejected(400, "GET", "/api/runs/01")).errors).toEqual([{ field: "runId", message: "run id must be a positive whole number" }]);
  });

  it("accepts page=10000 (past the end) and returns an empty page", async () => {
    const res = await call("GET", "/api/jobs?page=10000");
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([]);
  });

  it("rejects an unknown status or priority filter", async () => {
    expect((await expectRejected(400, "GET", "/api/jobs?status=DONE")).message).toMatch(/status must be one of/);
    expect((await expectRejected(400, "GET", "/api/jobs?priority=urgent")).message).toMatch(/priority must be one of/);
  });

  it("rejects a search longer than 200 characters", async () => {
    await expectRejected(400, "GET", `/api/jobs?search=${"a".repeat(201)}`);
  });

  it("ignores empty filters and unknown parameters", async () => {
    const res = await call("GET", "/api/jobs?status=&priority=&search=&foo=bar");
    expect(res.status).toBe(200);
  });

  it("validates the log listing's paging too", async () => {
    await expectRejected(400, "GET", "/api/logs?limit=0");
    await expectRejected(400, "GET", "/get-logs?page=abc");
  });
});

describe("unknown ids and routes", () => {
  it.each([
    ["GET", "/api/jobs/unknown"],
    ["PATCH", "/api/jobs/unknown"],
    ["DELETE", "/api/jobs/unknown"],
    ["POST", "/api/jobs/unknown/run"],
    ["GET", "/api/jobs/unknown/logs"],
    ["POST", "/run-job/unknown"],
    ["PUT", "/update-job/unknown"],
    ["DELETE", "/delete-job/unknown"],
    ["DELETE", "/delete-job?id=unknown"],
    ["GET", "/get-logs/unknown"],
  ])("%s %s answers 404", async (method, path) => {
    const body = ["PATCH", "PUT"].includes(method) ? { taskName: "x" } : undefined;
    const res = await expectRejected(404, method, path, body);
    expect(res.message).toBe("Job 'unknown' was not found");
  });

  it("answers 400 for DELETE /delete-job without an id", async () => {
    await expectRejected(400, "DELETE", "/delete-job");
  });

  it("answers a JSON 404 for an unknown route", async () => {
    const res = await expectRejected(404, "GET", "/api/nothing-here");
    expect(res.message).toBe("No route for GET /api/nothing-here");
  });
});
