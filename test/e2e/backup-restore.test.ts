/**
 * `npm run db:backup` and `npm run db:restore` on real local D1 state: the app started as a user starts
 * it makes jobs, runs, deliveries and webhook logs; the backup of that state, restored into an empty
 * folder, holds the same rows in the same order, keeps the id counters, and the search index finds
 * a job by its payload text when the app runs on the restored state.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { api, npm, start, stop, stopAll } from "../node/started-app";
import { waitFor } from "../node/npm-start";

const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };

type Rows = Record<string, unknown>[];

/**
 * The rows each query reads, read with wrangler from a local state folder: all the queries in one call,
 * since each call starts wrangler (seconds of CPU).
 */
function query(state: string, ...sql: string[]): Rows[] {
  const run = spawnSync("npx", ["wrangler", "d1", "execute", "DB", "--local", "--persist-to", state, "--json", "--command", sql.join(";\n")], { env, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`wrangler d1 execute failed: ${run.stderr}`);
  return (JSON.parse(run.stdout) as { results: Rows }[]).map((statement) => statement.results);
}
const rows = (state: string, sql: string) => query(state, sql)[0]!;

const DATA_TABLES = ["jobs", "runs", "deliveries", "webhook_logs", "idempotency_keys", "inbox_entries"];
/** Every row of each data table, in storage (rowid) order. */
const EVERY_ROW = DATA_TABLES.map((table) => `SELECT * FROM ${table} ORDER BY rowid`);
/** The largest run and log ids ever given, where the newest were deleted (src/db/ids.ts). */
const COUNTERS = "SELECT name, id AS seq FROM high_water WHERE name IN ('runs', 'webhook_logs') ORDER BY name";

describe("npm run db:backup, then npm run db:restore into an empty state", () => {
  const source = mkdtempSync(join(tmpdir(), "scheduler-backup-source-"));
  const target = mkdtempSync(join(tmpdir(), "scheduler-backup-target-"));
  const files = mkdtempSync(join(tmpdir(), "scheduler-backup-files-"));
  afterAll(async () => {
    await stopAll();
    for (const dir of [source, target, files]) rmSync(dir, { recursive: true, force: true });
  });

  it("restores every row in order, the id counters and a search index that finds a job by its payload text", async () => {
    // 1. Real state: jobs made, run and delivered by the app itself (its webhooks go to its own inbox).
    const first = await start(source);
    const needle = `needle${Date.now().toString(36)}`;
    const made: string[] = [];
    const payloads = [{ note: `find the ${needle} here` }, { text: 'a "quote", a comma\nand a line', emoji: "🚀 Zürich" }, {}, { n: 42 }];
    for (const [i, payload] of payloads.entries()) {
      const res = await api(first, "POST", "/api/jobs", { taskName: `Backup ${i}`, payload, priority: ["HIGH", "MEDIUM", "LOW"][i % 3] });
      expect(res.status).toBe(201);
      made.push(res.body.data.id);
    }
    // A schedule's first occurrence is a run too; the last job's run is the newest.
    expect((await api(first, "POST", "/api/jobs", { taskName: "Weekly", schedule: { cron: "0 9 * * 1" } })).status).toBe(201);
    expect((await api(first, "POST", "/api/jobs/run", { ids: made.slice(0, 3) })).status).toBe(202);
    expect((await api(first, "POST", `/api/jobs/${made[3]}/run`)).status).toBe(202);
    for (const id of made) {
      await waitFor(`job ${id} to run and deliver its webhook`, async () => {
        const job = (await api(first, "GET", `/api/jobs/${id}`)).body.data;
        return job.latestRun?.delivery?.state === "DELIVERED" ? job : undefined;
      }, 60_000, first);
    }
    // The newest run's job deleted, and purged by the sweep (`npm start` fires it every 15 s; fired here
    // at once, through wrangler dev's /__scheduled as the ticker does): the run counter is now past the
    // largest run id left.
    expect((await api(first, "DELETE", `/api/jobs/${made[3]}`)).status).toBe(200);
    await fetch(`${first.base}/__scheduled?cron=${encodeURIComponent("* * * * *")}`);
    await waitFor("the sweep to purge the deleted job", async () => (rows(source, `SELECT count(*) AS n FROM jobs WHERE id = '${made[3]}'`)[0]!.n === 0 ? true : undefined), 45_000, first);
    await stop(first);

    const [counters, ...tables] = query(source, COUNTERS, ...EVERY_ROW);
    const before = Object.fromEntries(DATA_TABLES.map((table, i) => [table, tables[i]!]));
    expect(before.jobs).toHaveLength(4);
    expect(before.runs).toHaveLength(4); // the schedule's first occurrence and 3 one-off runs
    expect(before.webhook_logs!.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...before.runs!.map((r) => Number(r.id)))).toBeLessThan(Number(counters!.find((c) => c.name === "runs")!.seq));

    // 2. A plain `wrangler d1 export` refuses this database (the search index is a virtual table)...
    // (its local mode has no --persist-to: it reads the .wrangler/state beside its configuration file)
    const db = readFileSync("wrangler.toml", "utf8").match(/database_id = "([^"]+)"/)![1];
    mkdirSync(join(files, ".wrangler"));
    symlinkSync(source, join(files, ".wrangler", "state"));
    writeFileSync(join(files, "wrangler.json"), JSON.stringify({ name: "plain", compatibility_date: "2026-04-26", d1_databases: [{ binding: "DB", database_name: "job-scheduler", database_id: db }] }));
    const plain = spawnSync("npx", ["wrangler", "d1", "export", "DB", "--local", "--config", join(files, "wrangler.json"), "--output", join(files, "plain.sql")], { env, encoding: "utf8" });
    expect(plain.status).not.toBe(0);
    expect(`${plain.stdout}${plain.stderr}`).toContain("cannot export databases with Virtual Tables");

    // ... the backup script does not.
    const file = join(files, "backup.sql");
    const backup = npm(["db:backup", "--", "--local", "--persist-to", source, "--output", file]);
    expect(backup.status, backup.output).toBe(0);
    const sql = readFileSync(file, "utf8");
    expect(sql).toContain('INSERT INTO "jobs"');
    expect(sql).not.toMatch(/jobs_fts|d1_migrations"/);

    // 3. Restored into an empty state folder.
    const restore = npm(["db:restore", "--", "--local", "--persist-to", target, "--input", file]);
    expect(restore.status, restore.output).toBe(0);
    const [restoredCounters, indexed, ...restored] = query(target, COUNTERS, "SELECT count(*) AS n FROM jobs_fts_docsize", ...EVERY_ROW);
    for (const [i, table] of DATA_TABLES.entries()) expect(restored[i], table).toEqual(before[table]);
    expect(restoredCounters).toEqual(counters);
    // The index holds each job once (the insert triggers and the rebuild did not both add it).
    expect(indexed).toEqual([{ n: 4 }]);

    // A second restore into the same state is refused: it would duplicate nothing, it changes nothing.
    const again = npm(["db:restore", "--", "--local", "--persist-to", target, "--input", file]);
    expect(again.status).not.toBe(0);
    expect(again.output).toContain("already has jobs");

    // 4. The app on the restored state: the list in the same order, and search finds the payload's text.
    const second = await start(target);
    const listed = await api(second, "GET", "/api/jobs?limit=100");
    expect(listed.body.data.map((j: { id: string }) => j.id)).toEqual(before.jobs!.map((j) => j.id).reverse());
    const found = await api(second, "GET", `/api/jobs?search=${needle}`);
    expect(found.body.data.map((j: { id: string }) => j.id)).toEqual([made[0]]);
    expect(found.body.data[0].latestRun.delivery.state).toBe("DELIVERED");
    expect((await api(second, "GET", `/api/jobs?search=${encodeURIComponent("zürich")}`)).body.data.map((j: { id: string }) => j.id)).toEqual([made[1]]);
  });
});
