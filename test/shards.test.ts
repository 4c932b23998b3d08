/**
 * What only a deployment of several shards does (src/db/shards.ts): this file runs in the shards project,
 * over DB, DB_1 and DB_2. The API, consumer, scheduling, retention, stats and export files run there too.
 */
import { env } from "cloudflare:workers";
import { and, eq, inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "../src/db/client";
import { shardBindings, shardOfJob, shardOfKey } from "../src/db/shards";
import { runs } from "../src/db/schema";
import type { Env } from "../src/env";
import { runJobs } from "../src/jobs/service";
import { cancelJobs } from "../src/runs/service";
import { call, createJob, delivered, getJob, logRows, runRows, SHARDS, uniqueWord, waitForJob } from "./support/helpers";

const dbs = shardBindings(env);

/** How many rows of `table` name the job, in each shard. */
async function rowsPerShard(table: string, column: string, jobId: string) {
  return Promise.all(dbs.map(async (db) => (await db.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${column} = ?`).bind(jobId).first<{ n: number }>())!.n));
}

describe("shards", () => {
  it("runs over three databases", () => {
    expect(SHARDS).toBe(3);
  });

  it("keeps each job's rows (job, runs, deliveries, log rows, search entry, Idempotency-Key) in the shard its id names, and nowhere else", async () => {
    const word = uniqueWord("home");
    const made = [];
    for (let i = 0; i < 6; i++) {
      const res = await call("POST", "/api/jobs", { taskName: `Home ${i} ${word}`, payload: { word } }, { "idempotency-key": `${word}-${i}` });
      expect(res.status).toBe(201);
      made.push(res.body.data.id as string);
      expect((await call("POST", `/api/jobs/${res.body.data.id}/run`)).status).toBe(202);
    }
    // Every shard got some (6 creates, keys hashed over 3 shards, would all land in one with odds of 1 in 243).
    for (const id of made) await waitForJob(id, delivered);
    for (const id of made) {
      const k = shardOfJob(env, id);
      const expected = dbs.map((_, i) => (i === k ? 1 : 0));
      expect(await rowsPerShard("jobs", "id", id), `job ${id}`).toEqual(expected);
      expect(await rowsPerShard("runs", "jobId", id)).toEqual(expected);
      expect(await rowsPerShard("deliveries", "jobId", id)).toEqual(expected);
      expect(await rowsPerShard("webhook_logs", "jobId", id)).toEqual(expected);
      expect(await rowsPerShard("idempotency_keys", "jobId", id)).toEqual(expected);
      // Its search entry: the index's match for its unique word, in its shard alone.
      const found = await Promise.all(dbs.map(async (db) => (await db.prepare("SELECT count(*) AS n FROM jobs_fts JOIN jobs ON jobs.rowid = jobs_fts.rowid WHERE jobs_fts MATCH ? AND jobs.id = ?").bind(`"${word}"`, id).first<{ n: number }>())!.n));
      expect(found).toEqual(expected);
      // Its run's id names the shard too: the run is read there.
      const [run] = await runRows(id);
      expect(shardOfKey(env, run!.id)).toBe(k);
      expect((await call("GET", `/api/runs/${run!.id}`)).body.data).toMatchObject({ jobId: id, number: 1 });
      const [log] = await logRows(id);
      expect(shardOfKey(env, log!.id)).toBe(k);
    }
    // A repeated create with a key finds the job its first made, in that job's shard.
    const again = await call("POST", "/api/jobs", { taskName: `Home 0 ${word}`, payload: { word } }, { "idempotency-key": `${word}-0` });
    expect([again.status, again.body.data.id]).toEqual([200, made[0]]);
  });

  it("spreads 1 000 creates evenly: each shard within 10 % of a third, with Idempotency-Keys or without", async () => {
    const word = uniqueWord("spread");
    const count = async () => Promise.all(dbs.map(async (db) => (await db.prepare("SELECT count(*) AS n FROM jobs WHERE taskName LIKE ?").bind(`%${word}%`).first<{ n: number }>())!.n));
    const ids: string[] = [];
    for (let i = 0; i < 1000; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, (_, j) => call("POST", "/api/jobs", { taskName: `Plain ${i + j} ${word}` })));
      ids.push(...batch.map((res) => res.body.data.id as string));
    }
    const plain = await count();
    expect(plain.reduce((a, b) => a + b)).toBe(1000);
    for (const n of plain) expect(Math.abs(n - 1000 / 3), `plain ${plain}`).toBeLessThanOrEqual(100 / 3);
    // With keys: each key's shard is its hash's.
    const keyed = uniqueWord("keyed");
    for (let i = 0; i < 1000; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => call("POST", "/api/jobs", { taskName: `Keyed ${i + j} ${keyed}` }, { "idempotency-key": `${keyed}-${i + j}` })));
    }
    const byKey = await Promise.all(dbs.map(async (db) => (await db.prepare("SELECT count(*) AS n FROM jobs WHERE taskName LIKE ?").bind(`%${keyed}%`).first<{ n: number }>())!.n));
    expect(byKey.reduce((a, b) => a + b)).toBe(1000);
    for (const n of byKey) expect(Math.abs(n - 1000 / 3), `keyed ${byKey}`).toBeLessThanOrEqual(100 / 3);
    console.log(`spread of 1 000 creates over 3 shards: plain ${plain.join(" / ")}, keyed ${byKey.join(" / ")}`);
    await call("POST", "/api/jobs/bulk", { action: "delete", ids: ids.slice(0, 100) });
  }, 120_000);

  it("lists, searches and filters across shards in creation order, with the same pages by cursor and by number, and exact counts", async () => {
    const word = uniqueWord("order");
    const made: string[] = [];
    for (let i = 0; i < 23; i++) made.push((await createJob({ taskName: `Order ${i} ${word}`, priority: i % 2 ? "HIGH" : "LOW" })).id);
    expect(new Set(made.map((id) => shardOfJob(env, id))).size).toBe(3);
    const newest = [...made].reverse();
    for (const [query, expected] of [
      [`search=${word}`, newest],
      [`search=${word}&sort=oldest`, made],
      [`search=${word}&priority=HIGH`, newest.filter((id) => made.indexOf(id) % 2 === 1)],
    ] as const) {
      // By cursor, 5 at a time.
      const byCursor: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res: any = await call("GET", `/api/jobs?${query}&limit=5${cursor ? `&cursor=${cursor}` : ""}`);
        expect(res.status).toBe(200);
        byCursor.push(...res.body.data.map((j: any) => j.id));
        cursor = res.body.pagination.nextCursor;
        pages += 1;
      } while (cursor && pages < 10);
      expect(byCursor, query).toEqual(expected);
      // By page number, and the exact total.
      const byNumber: string[] = [];
      for (let page = 1; page <= Math.ceil(expected.length / 5); page++) {
        const res = await call("GET", `/api/jobs?${query}&limit=5&page=${page}&count=exact`);
        expect(res.body.pagination).toMatchObject({ total: expected.length, totalExact: true, page });
        byNumber.push(...res.body.data.map((j: any) => j.id));
      }
      expect(byNumber, query).toEqual(expected);
      // Back from the last page by its previous cursor: the page before it.
      const last = await call("GET", `/api/jobs?${query}&limit=5&page=${Math.ceil(expected.length / 5)}`);
      const back = await call("GET", `/api/jobs?${query}&limit=5&cursor=${last.body.pagination.prevCursor}`);
      const lastStart = (Math.ceil(expected.length / 5) - 1) * 5;
      expect(back.body.data.map((j: any) => j.id)).toEqual(expected.slice(lastStart - 5, lastStart));
    }
    // The export streams the same order from every shard.
    const exported = String((await call("GET", `/api/jobs/export?search=${word}&format=ndjson`)).body).trim().split("\n").map((line) => JSON.parse(line).id);
    expect(exported).toEqual(newest);
    // The original /get-jobs with its exact total.
    const legacy = await call("GET", `/get-jobs?search=${word}&limit=100`);
    expect(legacy.body.pagination).toMatchObject({ total: 23 });
    expect(legacy.body.data.map((j: any) => j.id)).toEqual(newest);
  });

  it("holds MAX_CONCURRENT_RUNS across shards: each shard runs its share, and the shares add up to the limit", async () => {
    const limited: Env = { ...env, MAX_CONCURRENT_RUNS: "4", JOB_DURATION_SECONDS: "3600" };
    const word = uniqueWord("limit");
    const ids: string[] = [];
    for (let i = 0; i < 15; i++) ids.push((await createJob({ taskName: `Limited ${i} ${word}` })).id);
    await runJobs(limited, ids);
    const inProgress = await Promise.all(dbs.map((db) => getDb(db).select({ id: runs.id }).from(runs).where(inProgressOf(ids)).all()));
    const running = inProgress.map((rows) => rows.length);
    // Shares of 4 over 3 shards: 2, 1, 1 (each shard holds 5 of the 15 jobs, and no other run).
    expect(running).toEqual([2, 1, 1]);
    // A limit below the number of shards is refused, naming the variable.
    const tooLow = await runJobs({ ...env, MAX_CONCURRENT_RUNS: "2" }, ids.slice(0, 1)).catch((err: Error) => err);
    expect(String(tooLow)).toMatch(/MAX_CONCURRENT_RUNS: 2 is fewer than the 3 shards/);
    await cancelJobs(limited, ids);
  });

  it("finds a job made before the deployment had shards (shard 0, SQLite's own small keys): listed oldest, read, run and delivered", async () => {
    const word = uniqueWord("before");
    const id = `jlegacy${word}`;
    // A row as one database made it: no id suffix, a small rowid.
    await dbs[0]!.prepare("INSERT INTO jobs (rowid, id, taskName, payload, createdAt, updatedAt) VALUES (?, ?, ?, '{}', ?, ?)").bind(Math.floor(Math.random() * 1e9) + 1, id, `Legacy ${word}`, Date.now() - 3_600_000, Date.now() - 3_600_000).run();
    const newer = await createJob({ taskName: `New ${word}` });
    const listed = await call("GET", `/api/jobs?search=${word}`);
    expect(listed.body.data.map((j: any) => j.id)).toEqual([newer.id, id]);
    expect((await getJob(id)).taskName).toBe(`Legacy ${word}`);
    expect((await call("POST", `/api/jobs/${id}/run`)).status).toBe(202);
    const done = await waitForJob(id, delivered);
    expect(done.status).toBe("COMPLETED");
    // Its run was made by the sharded deployment: a key of shard 0.
    expect(shardOfKey(env, done.latestRun.id)).toBe(0);
  });

  it("answers 404 for an id naming a shard the deployment does not have", async () => {
    expect((await call("GET", "/api/jobs/j0000000000000000000000000-9")).status).toBe(404);
    expect((await call("GET", `/api/runs/${Date.now() * 64 + 9}`)).status).toBe(404);
  });

  it("gives one bookmark per shard, and reads at them when sent back", async () => {
    const made = await call("POST", "/api/jobs", { taskName: uniqueWord("mark") });
    const bookmark = made.headers.get("x-d1-bookmark");
    expect(bookmark).toBeTruthy();
    // The shard written has a bookmark; the list of them has one place per shard up to the last one known.
    const parts = bookmark!.split(",");
    expect(parts.length).toBeLessThanOrEqual(3);
    expect(parts[shardOfJob(env, made.body.data.id)]).toMatch(/^[0-9a-f]{8}-/);
    const read = await call("GET", `/api/jobs/${made.body.data.id}`, undefined, { "x-d1-bookmark": bookmark! });
    expect(read.status).toBe(200);
    expect((await call("GET", "/api/jobs", undefined, { "x-d1-bookmark": "nonsense,," })).status).toBe(400);
  });
});

/** The runs of these jobs in progress. */
const inProgressOf = (ids: string[]) => and(inArray(runs.jobId, ids), eq(runs.status, "IN_PROGRESS"));
