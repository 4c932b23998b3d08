/**
 * Reads that do not grow with the tables: each list page, the job page and the failure filter read the
 * same number of rows (the cost meter's count, D1's own) with ten times as many rows in the table, and
 * a page read by cursor costs one page at any depth. Rows are seeded straight into D1 in one statement.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../src/env";
import worker from "../src/index";
import { readMeter } from "../src/lib/meter";
import { API_TOKEN, call, ORIGIN, sessionCookie, uniqueWord } from "./support/helpers";

const metered: Env = { ...env, COST_METER: "true" };

/** The rows the Worker read to answer each path, one after the other (the meter's tally is shared). */
async function rowsReadEach(paths: string[]) {
  const rows: number[] = [];
  for (const path of paths) rows.push(await rowsRead(path));
  return rows;
}

/** The rows the Worker read to answer `path` (an API path with the token, a page with the session). */
async function rowsRead(path: string) {
  const headers = { authorization: `Bearer ${API_TOKEN}`, cookie: await sessionCookie() };
  readMeter(true);
  const res = await worker.fetch(new Request(`${ORIGIN}${path}`, { headers }), metered);
  const body = await res.text();
  expect(res.status, `${path}: ${body.slice(0, 200)}`).toBe(200);
  return readMeter(true).d1.rowsRead;
}

/** The rows a create read (it finds the newest job's createdAt: one row, however many jobs there are). */
async function createRowsRead() {
  readMeter(true);
  const res = await worker.fetch(
    new Request(`${ORIGIN}/api/jobs`, { method: "POST", headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ taskName: "Reads of a create" }) }),
    metered,
  );
  expect(res.status).toBe(201);
  return readMeter(true).d1.rowsRead;
}

/** `count` jobs whose task name holds `word`, statuses and priorities in turn, in one statement. */
async function seedJobs(word: string, count: number) {
  await env.DB.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
     INSERT INTO jobs (id, taskName, payload, priority, status)
     SELECT ?1 || '-' || (SELECT count(*) FROM jobs) || '-' || i, 'Seeded ' || ?1, '{}',
       CASE i % 3 WHEN 0 THEN 'HIGH' WHEN 1 THEN 'MEDIUM' ELSE 'LOW' END,
       CASE i % 4 WHEN 0 THEN 'FAILED' ELSE 'COMPLETED' END
     FROM n`,
  )
    .bind(word, count)
    .run();
}

/** `count` more finished runs of a job, each with a delivery and one log row (2xx unless `failed`). */
async function seedRuns(jobId: string, count: number, { failed = false } = {}) {
  const now = Date.now();
  await env.DB.batch([
    env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
       INSERT INTO runs (jobId, number, status, taskName, payload, priority, dueAt, rank, startedAt, completedAt)
       SELECT ?1, coalesce((SELECT max(number) FROM runs WHERE jobId = ?1), 0) + i, 'COMPLETED', 'seeded', '{}', 'MEDIUM', ?3, ?3, ?3, ?3 + 10 FROM n`,
    ).bind(jobId, count, now),
    env.DB.prepare(
      `INSERT INTO deliveries (runId, jobId, webhookId, event, body, state, attempts, createdAt, deliveredAt)
       SELECT id, jobId, 'whd_' || jobId || '_' || number, 'job.completed', '{}', 'DELIVERED', 1, completedAt, completedAt + 5
       FROM runs WHERE jobId = ?1 AND id NOT IN (SELECT runId FROM deliveries WHERE jobId = ?1)`,
    ).bind(jobId),
    env.DB.prepare(
      `INSERT INTO webhook_logs (jobId, runId, deliveryId, attempt, url, requestBody, responseStatus, durationMs, sentAt)
       SELECT jobId, runId, webhookId, 1, 'http://example.test/hook', '{}', ?2, 5, deliveredAt
       FROM deliveries WHERE jobId = ?1 AND runId NOT IN (SELECT runId FROM webhook_logs WHERE jobId = ?1)`,
    ).bind(jobId, failed ? 500 : 200),
  ]);
}

describe("list pages read a bounded number of rows", () => {
  it("reads as many rows for a page of jobs with 15 000 jobs in the table as with 1 500, filtered, searched or not", async () => {
    const word = uniqueWord("rd");
    const paths = [
      "/api/jobs",
      "/api/jobs?status=FAILED",
      "/api/jobs?status=COMPLETED&priority=HIGH",
      `/api/jobs?search=${word}`,
      `/api/jobs?search=${word}&status=FAILED`,
      "/",
      `/?search=${word}&status=FAILED`,
    ];
    // (1 500: more than the 1 010 entries a page's count walks when it checks each row, a search with a
    // status, or a status with a priority.)
    await seedJobs(word, 1500);
    const small = [...(await rowsReadEach(paths)), await createRowsRead()];
    await seedJobs(word, 13500);
    const large = [...(await rowsReadEach(paths)), await createRowsRead()];
    // (Within a row or two: an index walk may read one entry more to find where it stops.)
    for (const [i, path] of [...paths, "POST /api/jobs"].entries()) expect(Math.abs(large[i]! - small[i]!), `${path}: ${small[i]} then ${large[i]} rows`).toBeLessThanOrEqual(2);
    // The original /get-jobs counts every match, as its clients need: that grows with the table.
    const exactSmall = await rowsRead(`/get-jobs?search=${word}`);
    await seedJobs(word, 500);
    expect(await rowsRead(`/get-jobs?search=${word}`)).toBeGreaterThanOrEqual(exactSmall + 500);
  });

  it("reads as many rows for a job's page with 2 000 runs as with 200 (a minutely job has 43 000 a month)", async () => {
    const jobId = (await call("POST", "/api/jobs", { taskName: uniqueWord("minutely") })).body.data.id as string;
    const paths = [`/jobs/${jobId}`, `/jobs/${jobId}/live`, `/api/jobs/${jobId}/runs`, `/api/jobs/${jobId}/logs`];
    await seedRuns(jobId, 200);
    const small = await rowsReadEach(paths);
    await seedRuns(jobId, 1800);
    const large = await rowsReadEach(paths);
    for (const [i, path] of paths.entries()) expect(Math.abs(large[i]! - small[i]!), `${path}: ${small[i]} then ${large[i]} rows`).toBeLessThanOrEqual(2);
    const page = await call("GET", `/jobs/${jobId}`);
    expect(page.body).toContain('Runs <span class="muted">(100+)</span>');
    expect(page.body).toContain("Page 1 of at least 10");
  });

  it("reads as many rows for the failed deliveries when 2 000 more succeed, however rare failures are", async () => {
    const jobId = (await call("POST", "/api/jobs", { taskName: uniqueWord("rare") })).body.data.id as string;
    await seedRuns(jobId, 30, { failed: true });
    await seedRuns(jobId, 200);
    const paths = ["/api/logs?outcome=failure", "/logs?outcome=failure", "/api/logs", "/logs"];
    const small = await rowsReadEach(paths);
    await seedRuns(jobId, 2000);
    const large = await rowsReadEach(paths);
    for (const [i, path] of paths.entries()) expect(Math.abs(large[i]! - small[i]!), `${path}: ${small[i]} then ${large[i]} rows`).toBeLessThanOrEqual(2);
    // The page of failures is failures only, newest first.
    const failures = (await call("GET", "/api/logs?outcome=failure&limit=100")).body.data as { responseStatus: number | null; id: number }[];
    expect(failures.length).toBeGreaterThanOrEqual(30);
    expect(failures.every((log) => log.responseStatus === null || log.responseStatus < 200 || log.responseStatus >= 300)).toBe(true);
    expect(failures.map((log) => log.id)).toEqual(failures.map((log) => log.id).sort((a, b) => b - a));
  });
});

describe("a filter few rows pass", () => {
  it("walks at most 1 010 search matches per page, says where it stopped, and finds the rare match by going on", async () => {
    const word = uniqueWord("rare");
    // One IN_PROGRESS job, then 3 000 newer ones that all match the search but not the status.
    await env.DB.prepare(`INSERT INTO jobs (id, taskName, payload, status) VALUES (?1, 'Seeded ' || ?2, '{}', 'IN_PROGRESS')`).bind(`${word}-the-one`, word).run();
    // (A job is IN_PROGRESS while a run of it is.)
    await env.DB.prepare(`INSERT INTO runs (jobId, number, status, taskName, payload, priority, dueAt, startedAt, expectedAt) VALUES (?1, 1, 'IN_PROGRESS', 'Seeded', '{}', 'MEDIUM', 0, 0, ?2)`)
      .bind(`${word}-the-one`, Date.now() + 3_600_000)
      .run();
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
       INSERT INTO jobs (id, taskName, payload, status) SELECT ?1 || '-' || i, 'Seeded ' || ?1, '{}', 'COMPLETED' FROM n`,
    )
      .bind(word)
      .run();
    const path = `/api/jobs?search=${word}&status=IN_PROGRESS`;
    const first = (await call("GET", path)).body;
    expect(first.data).toEqual([]);
    expect(first.pagination).toMatchObject({ page: 1, totalExact: false });
    expect(first.pagination.nextCursor).not.toBeNull();
    // Each page: the window of the page, its count and where the walk stopped, each about 2 rows an entry.
    expect(await rowsRead(path)).toBeLessThan(7000);
    let cursor = first.pagination.nextCursor as string;
    const found: string[] = [];
    for (let page = 0; page < 5 && cursor; page++) {
      const next = (await call("GET", `${path}&cursor=${cursor}`)).body;
      found.push(...next.data.map((j: { id: string }) => j.id));
      cursor = next.pagination.nextCursor;
    }
    expect(found).toEqual([`${word}-the-one`]);
    expect(cursor).toBeNull();
  });
});

describe("cursors", () => {
  it("reads any page by cursor for the cost of one, in the order pages by number give", async () => {
    const word = uniqueWord("cur");
    await seedJobs(word, 300);
    const byNumber = async (page: number) => (await call("GET", `/api/jobs?search=${word}&page=${page}`)).body;
    const first = await byNumber(1);
    expect(first.pagination).toMatchObject({ page: 1, limit: 10, total: 100, totalPages: 10, totalExact: false, prevCursor: null });
    // Walk 20 pages by cursor: the same jobs as by number, page after page.
    let cursor = first.pagination.nextCursor as string;
    const costs: number[] = [];
    for (let page = 2; page <= 21; page++) {
      const path = `/api/jobs?search=${word}&cursor=${cursor}`;
      costs.push(await rowsRead(path));
      const byCursor = (await call("GET", path)).body;
      expect(byCursor.pagination).toMatchObject({ page, totalExact: page + 10 > 30 });
      expect(byCursor.data.map((j: { id: string }) => j.id)).toEqual((await byNumber(page)).data.map((j: { id: string }) => j.id));
      cursor = byCursor.pagination.nextCursor;
    }
    // Page 21 read by cursor costs what page 2 does (the count shrinks to what is left at the end).
    expect(Math.max(...costs), costs.join(" ")).toBeLessThanOrEqual(costs[0]! + 2);
    // By number, a deep page pays for the entries it skips.
    expect(await rowsRead(`/api/jobs?search=${word}&page=21`)).toBeGreaterThan(costs[0]! + 200);

    // The last page has no next; prevCursor goes back a page.
    const last = (await call("GET", `/api/jobs?search=${word}&page=30`)).body;
    expect(last.pagination).toMatchObject({ page: 30, total: 300, totalPages: 30, totalExact: true, nextCursor: null });
    const back = (await call("GET", `/api/jobs?search=${word}&cursor=${last.pagination.prevCursor}`)).body;
    expect(back.pagination.page).toBe(29);
    expect(back.data.map((j: { id: string }) => j.id)).toEqual((await byNumber(29)).data.map((j: { id: string }) => j.id));
  });

  it("refuses a cursor that is not one the list gave: 400 naming the parameter", async () => {
    const runsCursor = (await call("GET", "/api/jobs?limit=1")).body.pagination.nextCursor as string;
    const newest = (await call("GET", "/api/jobs?limit=1")).body.pagination.nextCursor as string;
    for (const [path, message] of [
      ["/api/jobs?cursor=not-a-cursor", /cursor is not valid/],
      [`/api/logs?cursor=${runsCursor}`, /cursor is not valid/],
      [`/api/jobs?sort=oldest&cursor=${newest}`, /cursor belongs to the list sorted newest, not oldest/],
      [`/api/jobs?cursor=${"x".repeat(500)}`, /cursor is not valid/],
    ] as const) {
      const res = await call("GET", path);
      expect(res.status, path).toBe(400);
      expect(res.body.message, path).toMatch(message);
      expect(res.body.errors[0].field).toBe("cursor");
    }
  });

  it("gives the dashboard Previous and Next links that read by cursor, with the page number in the URL", async () => {
    const word = uniqueWord("dash");
    await seedJobs(word, 40);
    const page1 = await call("GET", `/?search=${word}`);
    expect(page1.body).toContain("Showing 1–10 of 40 jobs");
    expect(page1.body).toContain("Page 1 of 4");
    const next = page1.body.match(/<a href="([^"]+)"[^>]*rel="next"/)![1]!.replaceAll("&amp;", "&");
    expect(next).toMatch(new RegExp(`^/\\?search=${word}&page=2&cursor=[\\w-]+$`));
    const page2 = await call("GET", next);
    expect(page2.body).toContain("Showing 11–20 of 40 jobs");
    expect(page2.body).toContain("Page 2 of 4");
    // Back to page 1 by number (whatever came since), and on to page 3 by cursor.
    expect(page2.body).toMatch(new RegExp(`<a href="/\\?search=${word}"[^>]*rel="prev"`));
    const page3 = await call("GET", page2.body.match(/<a href="([^"]+)"[^>]*rel="next"/)![1]!.replaceAll("&amp;", "&"));
    expect(page3.body).toContain("Showing 21–30 of 40 jobs");
    expect(page3.body).toMatch(/<a href="\/\?search=[^"]*page=2&amp;cursor=[\w-]+"[^>]*rel="prev"/);
  });
});
