/**
 * What only a deployment of several shards does (src/db/shards.ts): this file runs in the shards project,
 * over DB, DB_1 and DB_2. The API, consumer, scheduling, retention, stats and export files run there too.
 */
import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { and, eq, inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "../src/db/client";
import { shardBindings, shardForCreate, shardOfJob, shardOfKey } from "../src/db/shards";
import { runs } from "../src/db/schema";
import type { Env, JobMessage } from "../src/env";
import { createJob as createJobOn, findIdempotentJob, getJob as getJobOn, listJobs, runJobs } from "../src/jobs/service";
import { getRun as getRunOn } from "../src/runs/service";
import { listLogs as listLogsOn } from "../src/webhooks/service";
import { cancelJobs } from "../src/runs/service";
import { call, createJob, delivered, deliverAt, logRows, runRows, SHARDS, uniqueWord, waitForJob } from "./support/helpers";

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

  it("keeps a deployment's jobs where they were when it grows from one database to three: found, listed oldest, run and delivered", async () => {
    const grow = [env.GROW_DB!, env.GROW_DB_1!, env.GROW_DB_2!];
    for (const db of grow) await applyD1Migrations(db, env.TEST_MIGRATIONS);
    // Messages kept here and handed to the consumer by the test (the real queue's go to this file's app).
    const sent: JobMessage[] = [];
    const queue = { send: async (body: JobMessage) => void sent.push(body), sendBatch: async (messages: { body: JobMessage }[]) => void sent.push(...messages.map((m) => m.body)) };
    const base = { ...env, JOB_QUEUE: queue as unknown as Env["JOB_QUEUE"] };
    // One database: what the previous version made (it wrote the same rows as this code with one shard).
    const one = { ...base, DB: grow[0], DB_1: undefined, DB_2: undefined } as unknown as Env;
    const before: string[] = [];
    for (let i = 0; i < 3; i++) before.push((await createJobOn(one, { taskName: `Before ${i}`, payload: { i }, priority: "MEDIUM" })).job.id);
    await runJobs(one, before.slice(0, 2));
    await deliverAt(new Date(Date.now() + 2000), sent.splice(0), one);
    const firstRuns = await Promise.all(before.slice(0, 2).map(async (id) => (await getJobOn(one, id)).latestRun));
    // (Completed, each with its webhook owed; whether the receiver took it is other files' business.)
    expect(firstRuns.map((run) => [run?.status, run?.delivery === null])).toEqual([["COMPLETED", false], ["COMPLETED", false]]);
    const keys = await grow[0]!.prepare("SELECT (SELECT max(rowid) FROM jobs) AS job, (SELECT max(id) FROM runs) AS run, (SELECT max(id) FROM webhook_logs) AS log").first<Record<string, number>>();
    expect(Object.values(keys!).every((key) => key < 100)).toBe(true); // SQLite's own small keys

    // A create with an Idempotency-Key whose shard, once there are three, is not shard 0.
    const three = { ...base, DB: grow[0], DB_1: grow[1], DB_2: grow[2] } as unknown as Env;
    let key = uniqueWord("key");
    while (shardForCreate(three, key) === 0) key = uniqueWord("key");
    const keyed = { key, requestHash: "a".repeat(64) };
    const first = (await createJobOn(one, { taskName: "Keyed", payload: {}, priority: "MEDIUM" }, keyed)).job.id;

    // Three databases, the first of them that one: nothing moved, everything found.
    // The repeated create finds its first answer in shard 0, not in the key's shard of three.
    expect((await findIdempotentJob(three, keyed))?.id).toBe(first);
    before.push(first);
    const after: string[] = [];
    for (let i = 0; i < 6; i++) after.push((await createJobOn(three, { taskName: `After ${i}`, payload: { i }, priority: "MEDIUM" })).job.id);
    expect(new Set(after.map((id) => shardOfJob(three, id))).size).toBe(3);
    const page = await listJobs(three, { limit: 100, page: 1, sort: "oldest", count: "exact" } as never);
    expect(page.items.map((job) => job.id)).toEqual([...before, ...after]);
    expect(page.pagination).toMatchObject({ total: 10, totalExact: true });
    for (const [i, id] of before.slice(0, 2).entries()) {
      const job = await getJobOn(three, id);
      expect(job.latestRun).toMatchObject({ id: firstRuns[i]!.id, status: "COMPLETED" });
      expect((await getRunOn(three, firstRuns[i]!.id)).jobId).toBe(id);
    }
    // Old and new jobs run and complete side by side.
    await runJobs(three, [...before, ...after]);
    await deliverAt(new Date(Date.now() + 2000), sent.splice(0), three);
    for (const id of [...before, ...after]) expect((await getJobOn(three, id)).latestRun?.status, id).toBe("COMPLETED");
    // The old jobs' new runs are keys of shard 0, after every key before; the new ones' name their shards.
    const second = await getJobOn(three, before[0]!);
    expect([second.latestRun!.number, shardOfKey(three, second.latestRun!.id)]).toEqual([2, 0]);
    expect(second.latestRun!.id).toBeGreaterThan(2 ** 40);
    for (const id of after) expect(shardOfKey(three, (await getJobOn(three, id)).latestRun!.id)).toBe(shardOfJob(three, id));
    const logs = await listLogsOn(three, { limit: 100, page: 1 });
    expect(logs.pagination.total).toBe(2 + 10);
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
