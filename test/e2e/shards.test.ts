/**
 * Shards where users run them: `SHARDS=3 npm start` (three local D1 databases under the state folder),
 * 300 jobs run, the whole process group killed with runs in flight on every shard, started again on the
 * same state: every run completes once (each shard's sweep), and the jobs are listed, searched and
 * exported across the shards in creation order; then every shard backed up and restored: each holds
 * the same rows with the same keys.
 */
import type { Server } from "node:http";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { killGroup, startApp, waitFor, type App } from "../node/npm-start";
import { closedPort, countingReceiver } from "../node/receiver";
import { npm } from "../node/started-app";
import { spawnSync } from "node:child_process";

/** What each of the three shards of a local state folder holds, read with wrangler (one run per shard). */
function shardRows(state: string, word: string) {
  return ["DB", "DB_1", "DB_2"].map((binding) => {
    const sql = [
      "SELECT rowid AS k, id, taskName FROM jobs ORDER BY rowid",
      "SELECT id, jobId, number, status FROM runs ORDER BY id",
      "SELECT id, runId, attempt, responseStatus FROM webhook_logs ORDER BY id",
      `SELECT jobs.id FROM jobs_fts JOIN jobs ON jobs.rowid = jobs_fts.rowid WHERE jobs_fts MATCH '"Sharded 77 ${word}"'`,
    ];
    const run = spawnSync("node", ["node_modules/wrangler/bin/wrangler.js", "d1", "execute", binding, "--local", "--persist-to", state, "--config", ".shards-3.wrangler.toml", "--json", "--command", sql.join(";\n")], { encoding: "utf8", env: { ...process.env, WRANGLER_SEND_METRICS: "false" } });
    if (run.status !== 0) throw new Error(`wrangler d1 execute ${binding} failed: ${run.stderr}`);
    const [jobs, runs, logs, found] = (JSON.parse(run.stdout) as { results: Record<string, unknown>[] }[]).map((statement) => statement.results);
    return { jobs, runs, logs, found: found!.map((row) => row.id as string) };
  });
}

const token = /^API_TOKENS=(\S+)/m.exec(readFileSync("config/local.env", "utf8"))![1]!;
const JOBS = 300;
/** The shard a job id names (src/db/shards.ts): `-k` at its end, else 0. */
const shardOf = (id: string) => Number(/-(\d+)$/.exec(id)?.[1] ?? 0);

describe("SHARDS=3 npm start", () => {
  const apps: App[] = [];
  const state = mkdtempSync(join(tmpdir(), "scheduler-shards-"));
  const files = mkdtempSync(join(tmpdir(), "scheduler-shards-backup-"));
  let receiver: Server | undefined;
  afterAll(() => {
    for (const app of apps) killGroup(app, "SIGKILL");
    receiver?.close();
    rmSync(state, { recursive: true, force: true });
    rmSync(files, { recursive: true, force: true });
  });

  it(`runs ${JOBS} jobs over three databases, recovers every run killed in flight once, lists, searches and exports them in order, and backs up and restores every shard`, async () => {
    const counting = await countingReceiver();
    receiver = counting.server;
    const { arrivals, url: webhookUrl } = counting;
    const port = await closedPort();
    const base = `http://127.0.0.1:${port}`;
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      return { status: res.status, text, body: (res.headers.get("content-type") ?? "").startsWith("application/json") ? (JSON.parse(text) as any) : undefined };
    };
    const health = async () => ((await fetch(`${base}/health/ready`)).ok ? true : undefined);
    const env = { WEBHOOK_URL: webhookUrl, SHARDS: "3" };

    const first = await startApp(port, state, env);
    apps.push(first);
    await waitFor("the app to be ready on three databases", health, 120_000, first);
    // Each shard is its own local database under the state folder.
    expect(readdirSync(join(state, "v3", "d1", "miniflare-D1DatabaseObject")).filter((f) => f.endsWith(".sqlite")).length).toBeGreaterThanOrEqual(3);

    const word = `shardy${Date.now().toString(36)}`;
    const ids: string[] = [];
    // One after the other: their creation order is then the order every list must show.
    for (let i = 0; i < JOBS; i++) ids.push((await api("POST", "/api/jobs", { taskName: `Sharded ${i} ${word}`, payload: { i } })).body.data.id);
    const perShard = [0, 1, 2].map((k) => ids.filter((id) => shardOf(id) === k).length);
    for (const n of perShard) expect(Math.abs(n - JOBS / 3)).toBeLessThanOrEqual(JOBS / 30);

    for (let i = 0; i < JOBS; i += 100) {
      const run = await api("POST", "/api/jobs/run", { ids: ids.slice(i, i + 100) });
      expect(run.status).toBe(202);
      expect(run.body.data.started).toHaveLength(100);
    }
    // In flight on every shard (3-s runs), then the whole process group killed.
    await new Promise((r) => setTimeout(r, 1000));
    killGroup(first, "SIGKILL");
    await waitFor("the first app to stop", async () => (first.child.exitCode !== null || first.child.signalCode !== null ? true : undefined), 10_000);
    expect(arrivals.size).toBe(0);

    const second = await startApp(port, state, env);
    apps.push(second);
    await waitFor("the app to be ready again", health, 120_000, second);
    const backAt = Date.now();
    await waitFor(
      `all ${JOBS} runs to complete with their webhooks delivered`,
      async () => {
        let done = 0;
        let cursor: string | null = null;
        do {
          const page = await api("GET", `/api/jobs?search=${word}&status=COMPLETED&limit=100${cursor ? `&cursor=${cursor}` : ""}`);
          done += (page.body.data as any[]).filter((j) => j.latestRun?.delivery?.state === "DELIVERED").length;
          cursor = page.body.pagination.nextCursor;
        } while (cursor);
        return done === JOBS ? true : undefined;
      },
      90_000,
      second,
    );
    const recoveredInMs = Date.now() - backAt;
    // Every run's webhook arrived once, on every shard.
    expect([...arrivals.keys()].sort()).toEqual(ids.map((id) => `whd_${id}_1`).sort());
    expect([...arrivals.values()].every((n) => n === 1)).toBe(true);

    // Listed in creation order across the shards, page after page by cursor, with the exact total.
    const listed: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await api("GET", `/api/jobs?search=${word}&sort=oldest&limit=37${cursor ? `&cursor=${cursor}` : ""}`);
      listed.push(...(page.body.data as any[]).map((j) => j.id));
      cursor = page.body.pagination.nextCursor;
    } while (cursor);
    expect(listed).toEqual(ids);
    expect((await api("GET", `/api/jobs?search=${word}&count=exact&limit=10`)).body.pagination).toMatchObject({ total: JOBS, totalExact: true });
    // Searched for one job's own number.
    const one = await api("GET", `/api/jobs?search=${encodeURIComponent(`Sharded 123 ${word}`)}`);
    expect(one.body.data.map((j: any) => j.id)).toEqual([ids[123]]);
    // Exported, newest first, each once.
    const exported = (await api("GET", `/api/jobs/export?format=ndjson&search=${word}`)).text.trim().split("\n").map((line) => JSON.parse(line).id);
    expect(exported).toEqual([...ids].reverse());
    const stats = await api("GET", "/api/stats");
    expect(stats.body.data.jobs.byStatus.COMPLETED).toBeGreaterThanOrEqual(JOBS);
    killGroup(second, "SIGTERM");
    await waitFor("the app to stop", async () => (second.child.exitCode !== null || second.child.signalCode !== null ? true : undefined), 20_000);

    // Backed up and restored, every shard from its own file (docs/operations.md#backup-and-restore).
    const file = join(files, "shards.sql");
    const backup = npm(["db:backup", "--", "--local", "--persist-to", state, "--output", file], { SHARDS: "3" });
    expect(backup.status, backup.output).toBe(0);
    for (const k of [1, 2]) expect(readFileSync(join(files, `shards.shard-${k}.sql`), "utf8")).toContain(`-- shard: ${k} of 3`);
    // Into one database: refused before anything is written, naming the mismatch.
    const refused = npm(["db:restore", "--", "--local", "--persist-to", join(files, "single"), "--input", file]);
    expect(refused.status).not.toBe(0);
    expect(refused.output).toMatch(/shard 0 of a backup of 3 shards, and this is shard 0 of 1/);
    const restoredState = join(files, "restored");
    const restore = npm(["db:restore", "--", "--local", "--persist-to", restoredState, "--input", file], { SHARDS: "3" });
    expect(restore.status, restore.output).toBe(0);
    // Each shard holds what it held: the same jobs with the same rowids (their order in every list), the
    // same runs and log rows, and a search index that finds a job by its text.
    const restoredRows = shardRows(restoredState, word);
    expect(restoredRows).toEqual(shardRows(state, word));
    expect(restoredRows.map((rows) => rows.jobs.length).reduce((a, b) => a + b)).toBe(JOBS);
    expect(restoredRows.flatMap((rows) => rows.found)).toEqual([ids[77]]);
    console.log(`shards: ${perShard.join(" / ")} jobs per shard; ${JOBS} runs recovered ${(recoveredInMs / 1000).toFixed(1)} s after the restart`);
  });
});
