/**
 * The set-based statements the consumer uses for a whole batch (rows as one JSON parameter) against
 * the real D1: they must store exactly what Drizzle's own insert stores, and split large batches.
 */
import { env } from "cloudflare:workers";
import { eq, inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "../src/db/client";
import { insertRows, jsonValues } from "../src/db/json-rows";
import { jobs, webhookLogs } from "../src/db/schema";
import { createJob } from "./support/helpers";

type LogRow = typeof webhookLogs.$inferInsert;

const logRow = (jobId: string, overrides: Partial<LogRow> = {}): LogRow => ({
  jobId,
  runId: 1,
  deliveryId: `${jobId}_1`,
  series: 1,
  attempt: 1,
  url: "https://example.com/hook",
  requestBody: JSON.stringify({ jobId, payload: { text: "ünïcödé ✓ \"quoted\" \\ back", nested: [1, null, { deep: true }] } }),
  responseStatus: 200,
  responseBody: "plain text, not JSON",
  error: null,
  durationMs: 12,
  sentAt: new Date(1_700_000_000_123),
  nextRetryAt: null,
  ...overrides,
});

const withoutId = ({ id: _id, ...rest }: typeof webhookLogs.$inferSelect) => rest;

describe("insertRows", () => {
  it("stores every value exactly as Drizzle's insert().values() stores it", async () => {
    const db = getDb(env.DB);
    const job = await createJob();
    const rows = [
      logRow(job.id),
      logRow(job.id, { attempt: 2, responseStatus: null, responseBody: { ok: false, list: [1, 2] }, error: "timeout after 15000 ms", nextRetryAt: new Date(1_700_000_300_000) }),
      logRow(job.id, { attempt: 3, responseBody: null, requestBody: null, durationMs: 0 }),
    ];
    const [first, ...rest] = insertRows(db, webhookLogs, rows);
    await db.batch([first!, ...rest]);
    const bySet = await db.select().from(webhookLogs).where(eq(webhookLogs.jobId, job.id)).orderBy(webhookLogs.id);

    const other = await createJob();
    await db.insert(webhookLogs).values(rows.map((row) => ({ ...row, jobId: other.id, deliveryId: row.deliveryId })));
    const byDrizzle = await db.select().from(webhookLogs).where(eq(webhookLogs.jobId, other.id)).orderBy(webhookLogs.id);

    expect(bySet).toHaveLength(3);
    expect(bySet.map(withoutId)).toEqual(byDrizzle.map((row) => ({ ...withoutId(row), jobId: job.id })));
    expect(bySet[1]).toMatchObject({ responseBody: { ok: false, list: [1, 2] }, nextRetryAt: new Date(1_700_000_300_000) });
    expect(bySet[2]).toMatchObject({ requestBody: null, responseBody: null });
  });

  it("splits a batch whose JSON would be too large for one D1 value into several statements, losing no row", async () => {
    const db = getDb(env.DB);
    const job = await createJob();
    const big = "x".repeat(60 * 1024);
    const rows = Array.from({ length: 20 }, (_, i) => logRow(job.id, { attempt: i + 1, requestBody: JSON.stringify({ big }) }));
    const [first, ...rest] = insertRows(db, webhookLogs, rows);
    expect(rest.length).toBeGreaterThan(0);
    await db.batch([first!, ...rest]);
    const stored = await db.select().from(webhookLogs).where(eq(webhookLogs.jobId, job.id)).orderBy(webhookLogs.id);
    expect(stored.map((row) => row.attempt)).toEqual(rows.map((row) => row.attempt));
    expect(stored.every((row) => (JSON.parse(row.requestBody!) as { big: string }).big === big)).toBe(true);
  });

  it("returns no statement for no rows", () => {
    expect(insertRows(getDb(env.DB), webhookLogs, [])).toEqual([]);
  });
});

describe("jsonValues", () => {
  it("matches the listed ids, quotes and all, through one bound parameter", async () => {
    const db = getDb(env.DB);
    const [a, b] = [await createJob(), await createJob()];
    const found = await db.select({ id: jobs.id }).from(jobs).where(inArray(jobs.id, jsonValues([a.id, b.id, "it's-not-there", '"quoted"'])));
    expect(found.map((row) => row.id).sort()).toEqual([a.id, b.id].sort());
  });
});
