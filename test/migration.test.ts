/**
 * Migration 0004 on a database as the previous version left it (jobs holding their one run and
 * delivery, logs naming runs by number): every run, delivery and log row is moved, nothing lost, and
 * the app works on the result, including a queue message that was in flight in the old format.
 */
import { applyD1Migrations, createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../src/env";
import worker from "../src/index";
import { API_TOKEN, deliveryBytes, received, SENT_BYTES, SENT_ID } from "./support/helpers";
import previousVersion from "./fixtures/previous-version.sql?raw";
import version0009 from "./fixtures/version-0009.sql?raw";

const OLD_MIGRATIONS = env.TEST_MIGRATIONS.filter((m) => m.name < "0004");

/** The body the previous version sent for a run (its webhookBodyOf, field for field). */
const oldBody = (jobId: string, runId: number, payload: object, startedAt: string, completedAt: string) =>
  JSON.stringify({ event: "job.completed", deliveryId: `whd_${jobId}_${runId}`, jobId, taskName: "Retrying now", priority: "MEDIUM", payload, status: "COMPLETED", runId, startedAt, completedAt });

const now = Date.now();
const RUN1_BODY = oldBody("jretry", 1, { c: "original" }, new Date(now - 60_000).toISOString(), new Date(now - 57_000).toISOString());
const RUN2_BODY = oldBody("jretry", 2, { c: "second" }, new Date(now - 20_000).toISOString(), new Date(now - 17_000).toISOString());

/** Rows in every state the previous version could leave: never run, running, retrying after a re-run, failed before its first attempt. */
const OLD_ROWS = [
  `INSERT INTO jobs (id, taskName, payload, priority, status, createdAt, updatedAt, runId, startedAt, dueAt, recoveries, completedAt, failureReason, deliveryStatus, deliveryAttempts, deliverySeries, deliveryLeaseUntil, nextDeliveryAt, lastDeliveryError) VALUES
   ('jpending', 'Never run', '{"a":1}', 'LOW', 'PENDING', ${now - 90_000}, ${now - 90_000}, 0, NULL, NULL, 0, NULL, NULL, 'NONE', 0, 1, NULL, NULL, NULL),
   ('jrunning', 'Running', '{"b":2}', 'HIGH', 'IN_PROGRESS', ${now - 80_000}, ${now - 5_000}, 1, ${now - 5_000}, ${now - 2_000}, 0, NULL, NULL, 'NONE', 0, 1, NULL, NULL, NULL),
   ('jretry', 'Retrying now', '{"c":"edited"}', 'MEDIUM', 'COMPLETED', ${now - 70_000}, ${now - 10_000}, 2, ${now - 20_000}, ${now - 17_000}, 0, ${now - 17_000}, NULL, 'RETRYING', 1, 1, NULL, ${now + 3_600_000}, 'receiver answered HTTP 500'),
   ('jfailed', 'Failed run', '{"d":4}', 'MEDIUM', 'FAILED', ${now - 60_000}, ${now - 50_000}, 1, ${now - 50_000}, ${now - 47_000}, 0, ${now - 49_000}, 'could not enqueue the run: queue unavailable', 'PENDING', 0, 1, NULL, NULL, NULL)`,
  `INSERT INTO webhook_logs (jobId, runId, deliveryId, series, attempt, url, requestBody, responseStatus, responseBody, error, durationMs, sentAt, nextRetryAt) VALUES
   ('jretry', 1, 'whd_jretry_1', 1, 1, 'https://hooks.example.com/in', '${RUN1_BODY}', 500, '"no"', 'receiver answered HTTP 500', 5, ${now - 56_000}, ${now - 51_000}),
   ('jretry', 1, 'whd_jretry_1', 1, 2, 'https://hooks.example.com/in', '${RUN1_BODY}', 200, '{"ok":true}', NULL, 5, ${now - 50_000}, NULL),
   ('jretry', 2, 'whd_jretry_2', 1, 1, 'https://hooks.example.com/in', '${RUN2_BODY}', 500, NULL, 'receiver answered HTTP 500', 5, ${now - 16_000}, ${now + 3_600_000})`,
];

const rows = async (db: D1Database, sql: string) => (await db.prepare(sql).all<Record<string, any>>()).results;

/** A job as the API shows it, from database `db`. */
const getJob = async (db: D1Database, id: string) =>
  (await (await worker.fetch(new Request(`http://scheduler.test/api/jobs/${id}`, { headers: { authorization: `Bearer ${API_TOKEN}` } }), { ...env, DB: db })).json<any>()).data;

describe("migration 0004 (runs and deliveries as records)", () => {
  it("moves every run, delivery and log row of a database made by the previous version, and the app runs on it", async () => {
    const db = env.MIGRATION_DB;
    await applyD1Migrations(db, OLD_MIGRATIONS);
    for (const statement of OLD_ROWS) await db.prepare(statement).run();
    const logsBefore = await rows(db, "SELECT id, requestBody FROM webhook_logs ORDER BY id");

    await applyD1Migrations(db, env.TEST_MIGRATIONS);

    // One run per run the old rows knew: the current run of each job that ran, and jretry's earlier run 1 (from its log).
    const runs = await rows(db, "SELECT * FROM runs ORDER BY jobId, number");
    expect(runs.map((r) => [r.jobId, r.number, r.status])).toEqual([
      ["jfailed", 1, "FAILED"],
      ["jretry", 1, "COMPLETED"],
      ["jretry", 2, "COMPLETED"],
      ["jrunning", 1, "IN_PROGRESS"],
    ]);
    const run = (jobId: string, number: number) => runs.find((r) => r.jobId === jobId && r.number === number)!;
    // What ran is what was sent, not the job's current (edited) payload.
    expect(JSON.parse(run("jretry", 1).payload)).toEqual({ c: "original" });
    expect(JSON.parse(run("jretry", 2).payload)).toEqual({ c: "second" });
    expect(run("jfailed", 1)).toMatchObject({ failureReason: "could not enqueue the run: queue unavailable", expectedAt: null });
    expect(run("jrunning", 1)).toMatchObject({ expectedAt: now - 2_000, startedAt: now - 5_000 });

    const deliveries = await rows(db, "SELECT * FROM deliveries ORDER BY webhookId");
    expect(deliveries.map((d) => [d.webhookId, d.state, d.attempts, d.event])).toEqual([
      ["whd_jfailed_1", "PENDING", 0, "job.failed"],
      ["whd_jretry_1", "DELIVERED", 2, "job.completed"],
      ["whd_jretry_2", "RETRYING", 1, "job.completed"],
    ]);
    const delivery = (id: string) => deliveries.find((d) => d.webhookId === id)!;
    // Deliveries under way keep the exact bytes already sent; one never attempted gets the body the old code would have built.
    expect(delivery("whd_jretry_2")).toMatchObject({ body: RUN2_BODY, nextAttemptAt: now + 3_600_000, url: "https://hooks.example.com/in", runId: run("jretry", 2).id });
    expect(delivery("whd_jretry_1")).toMatchObject({ body: RUN1_BODY, deliveredAt: now - 50_000 });
    expect(JSON.parse(delivery("whd_jfailed_1").body)).toMatchObject({ event: "job.failed", deliveryId: "whd_jfailed_1", jobId: "jfailed", payload: { d: 4 }, status: "FAILED", runId: 1 });
    expect(delivery("whd_jfailed_1").url).toBeNull();

    // Every log row is kept, unchanged but for pointing at its run's record.
    const logsAfter = await rows(db, `SELECT id, runId, deliveryId, ${SENT_BYTES} AS requestBody FROM webhook_logs ORDER BY id`);
    expect(logsAfter.map((l) => [l.id, l.requestBody])).toEqual(logsBefore.map((l) => [l.id, l.requestBody]));
    expect(logsAfter.map((l) => l.runId)).toEqual([run("jretry", 1).id, run("jretry", 1).id, run("jretry", 2).id]);

    const jobs = await rows(db, "SELECT * FROM jobs ORDER BY id");
    expect(jobs.map((j) => [j.id, j.status, j.latestRunId])).toEqual([
      ["jfailed", "FAILED", run("jfailed", 1).id],
      ["jpending", "PENDING", null],
      ["jretry", "COMPLETED", run("jretry", 2).id],
      // (0015: a job's row no longer says IN_PROGRESS; it shows it through its run in progress.)
      ["jrunning", "PENDING", run("jrunning", 1).id],
    ]);
    // The old run and delivery columns are gone from jobs.
    expect(Object.keys(jobs[0]!).slice(0, 8)).toEqual(["id", "taskName", "payload", "priority", "status", "createdAt", "updatedAt", "latestRunId"]);
    for (const old of ["runId", "startedAt", "completedAt", "deliveryStatus", "deliveryAttempts", "nextDeliveryAt"]) expect(Object.keys(jobs[0]!)).not.toContain(old);

    // The app on the migrated database: the search index still points at the right rows, the API reads
    // runs and deliveries, and a message queued by the old version ({ jobId, runId }) completes its run.
    const app: Env = { ...env, DB: db };
    const get = async (path: string) => (await worker.fetch(new Request(`http://scheduler.test${path}`, { headers: { authorization: `Bearer ${API_TOKEN}` } }), app)).json<any>();
    expect((await get("/api/jobs?search=Retrying")).data.map((j: any) => j.id)).toEqual(["jretry"]);
    expect((await get("/api/jobs/jretry")).data.latestRun).toMatchObject({ number: 2, delivery: { id: "whd_jretry_2", state: "RETRYING" } });
    expect((await get("/api/jobs/jretry/runs")).data.map((r: any) => [r.number, r.delivery.state])).toEqual([[2, "RETRYING"], [1, "DELIVERED"]]);

    const batch = createMessageBatch<unknown>("job-scheduler-runs", [{ id: "old-format", timestamp: new Date(), attempts: 1, body: { jobId: "jrunning", runId: 1 } }]);
    await worker.queue(batch, app);
    expect((await getQueueResult(batch, createExecutionContext())).explicitAcks).toEqual(["old-format"]);
    expect((await get("/api/jobs/jrunning")).data).toMatchObject({ status: "COMPLETED", latestRun: { number: 1, delivery: { id: "whd_jrunning_1", state: "DELIVERED" } } });
    expect((await received("jrunning"))[0]!.body).toMatchObject({ jobId: "jrunning", taskName: "Running", payload: { b: 2 }, runNumber: 1 });
  });
});

describe("migration 0004 on a database the previous version made itself", () => {
  // test/fixtures/previous-version.sql: the rows of a local database that the version before runs were
  // records (9d42478^) wrote through its own API under npm start, killed with SIGKILL with five runs in flight.
  const FLAKY = "j0mx1f9u5j1vt7236apiqfbl"; // run 1 retrying (HTTP 500), edited, then run again: run 2 retrying
  const UNICODE = "j0mx1f9u8ynfsnw2yn5uxqot";
  const BATCH = ["j0mx1fa562xp2mwuqm353hsi", "j0mx1fa58aw0q6q3idrv9qx5", "j0mx1fa5awuq109av6z9g6oa", "j0mx1fa5db1xff2z0jkwg1bx", "j0mx1fa5ftjz055899jietcc"];

  it("keeps every job and log row, makes a run for each run it knew and a delivery for each webhook, and the app runs on it", async () => {
    const db = env.PREVIOUS_DB;
    await applyD1Migrations(db, OLD_MIGRATIONS);
    const statements = previousVersion.split("\n").filter((line) => /^(INSERT|UPDATE) /.test(line));
    expect(statements.length).toBeGreaterThan(10);
    for (const statement of statements) await db.prepare(statement).run();
    const jobsBefore = await rows(db, "SELECT id, taskName, payload, status FROM jobs ORDER BY id");
    const logsBefore = await rows(db, "SELECT id, jobId, requestBody, responseStatus FROM webhook_logs ORDER BY id");

    await applyD1Migrations(db, env.TEST_MIGRATIONS);

    // Nothing lost: the same jobs with the same definitions and statuses, the same log rows, byte for byte.
    // (0015: a job's row no longer says IN_PROGRESS; the five in flight, whose first run it is, keep
    // PENDING and show IN_PROGRESS through their runs.)
    expect(await rows(db, "SELECT id, taskName, payload, status FROM jobs ORDER BY id")).toEqual(
      jobsBefore.map((j) => (j.status === "IN_PROGRESS" ? { ...j, status: "PENDING" } : j)),
    );
    expect(jobsBefore.filter((j) => j.status === "IN_PROGRESS").map((j) => j.id).sort()).toEqual([...BATCH].sort());
    for (const id of BATCH) expect((await getJob(db, id)).status).toBe("IN_PROGRESS");
    expect(await rows(db, `SELECT id, jobId, ${SENT_BYTES} AS requestBody, responseStatus FROM webhook_logs ORDER BY id`)).toEqual(logsBefore);
    const runs = await rows(db, "SELECT r.jobId, r.number, r.status, r.payload, d.webhookId, d.state, d.attempts, d.body FROM runs r LEFT JOIN deliveries d ON d.runId = r.id ORDER BY r.jobId, r.number");
    expect(runs).toHaveLength(10); // nine jobs ran once or more (the flaky one twice); one never ran
    const run = (jobId: string, number: number) => runs.find((r) => r.jobId === jobId && r.number === number)!;
    // The flaky job's two runs: each with what it ran (run 1 before the edit) and its own webhook.
    expect(JSON.parse(run(FLAKY, 1).payload)).toEqual({ fail: true, v: 1 });
    expect(JSON.parse(run(FLAKY, 2).payload)).toEqual({ fail: true, v: 2 });
    expect([run(FLAKY, 1).state, run(FLAKY, 1).attempts]).toEqual(["FAILED", 2]); // the previous version had dropped its retries
    expect([run(FLAKY, 2).state, run(FLAKY, 2).attempts]).toEqual(["RETRYING", 1]);
    // A delivery keeps the exact bytes its attempts sent.
    const sent = logsBefore.filter((l) => l.jobId === FLAKY).map((l) => l.requestBody);
    expect(sent.slice(0, 2)).toEqual([run(FLAKY, 1).body, run(FLAKY, 1).body]);
    expect(sent[2]).toBe(run(FLAKY, 2).body);
    for (const id of BATCH) expect([run(id, 1).status, run(id, 1).webhookId]).toEqual(["IN_PROGRESS", null]);

    const app: Env = { ...env, DB: db };
    const get = async (path: string) => (await worker.fetch(new Request(`http://scheduler.test${path}`, { headers: { authorization: `Bearer ${API_TOKEN}` } }), app)).json<any>();
    // The search index, rebuilt from the rows, finds non-ASCII text; the original list counts every job.
    expect((await get(`/api/jobs?search=${encodeURIComponent("報告")}`)).data.map((j: any) => j.id)).toEqual([UNICODE]);
    expect((await get("/get-jobs?limit=100")).pagination.total).toBe(10);
    expect((await get(`/api/jobs/${FLAKY}/runs`)).data.map((r: any) => [r.number, r.delivery.state])).toEqual([[2, "RETRYING"], [1, "FAILED"]]);
    // The runs killed in flight complete from their old-format messages ({ jobId, runId }), as the sweep would re-queue them.
    const batch = createMessageBatch<unknown>("job-scheduler-runs", BATCH.map((jobId, i) => ({ id: `old-${i}`, timestamp: new Date(), attempts: 1, body: { jobId, runId: 1 } })));
    await worker.queue(batch, app);
    expect((await getQueueResult(batch, createExecutionContext())).explicitAcks).toHaveLength(BATCH.length);
    for (const id of BATCH) expect((await get(`/api/jobs/${id}`)).data).toMatchObject({ status: "COMPLETED", latestRun: { number: 1, delivery: { state: "DELIVERED" } } });
  });
});

describe("migrations 0010 to 0012 (fewer writes) on a database the version before them made", () => {
  // test/fixtures/version-0009.sql: the rows that commit 2e0bf10 (migrations 0000-0009) wrote through its
  // own API under npm start, killed with SIGKILL with four runs in flight. Its receiver was on port 18778.
  const ids = {
    never: "j0mx6bpll15lhrm7ceoszi5f",
    flaky: "j0mx6bpmhh5mggxssa4srhyw",
    edited: "j0mx6bpmjo4kn6mqpe04zr07",
    cron: "j0mx6bpn265p32tjsp7ubd6j",
    keyed: "j0mx6bpn96xzssx5y7yt5f90",
    inflight: ["j0mx6bpwbmp4qqz8tplpz1wx", "j0mx6bpwcjes162lqaqgo0ec", "j0mx6bpwd9sqdk37c2ve5v54", "j0mx6bpwdxuwq00421y3a3pl"],
  };

  it("keeps every row and the exact bytes each attempt sent, stores them once, and the app runs on it", async () => {
    const db = env.VERSION_0009_DB;
    await applyD1Migrations(db, env.TEST_MIGRATIONS.filter((m) => m.name < "0010"));
    const statements = version0009.split("\n").filter((line) => line.startsWith("INSERT "));
    expect(statements.length).toBeGreaterThan(30);
    // Its webhooks went to a receiver of its own: here they go to the tests' receiver.
    for (const statement of statements) await db.prepare(statement.replaceAll("http://127.0.0.1:18778", env.RECEIVER_URL)).run();
    // Its Idempotency-Key was made when the fixture was (2026-12-02), and a key holds for 24 h: made an
    // hour ago here, so that a retried create still finds its first answer whenever the test runs.
    await db.prepare("UPDATE idempotency_keys SET createdAt = ?1").bind(Date.now() - 3_600_000).run();
    // A delivery whose bytes are not what its run's row builds (as deliveries of runs from before 0004 can
    // be), and whose attempts sent those bytes: it keeps them.
    const legacy = '{"event":"job.completed","legacy":true}';
    const legacyRun = (await rows(db, "SELECT min(runId) AS id FROM deliveries"))[0]!.id as number;
    await db.batch([
      db.prepare("UPDATE deliveries SET body = ?1 WHERE runId = ?2").bind(legacy, legacyRun),
      db.prepare("UPDATE webhook_logs SET requestBody = ?1 WHERE runId = ?2").bind(legacy, legacyRun),
      // An attempt in flight when the migration runs (its lease in nextAttemptAt, as before 0014).
      db.prepare("UPDATE deliveries SET state = 'SENDING', nextAttemptAt = ?1 WHERE runId = (SELECT max(runId) FROM deliveries WHERE runId != ?2)").bind(Date.now() + 600_000, legacyRun),
    ]);
    const before = {
      jobs: await rows(db, "SELECT * FROM jobs ORDER BY rowid"),
      runs: await rows(db, "SELECT * FROM runs ORDER BY id"),
      deliveries: await rows(db, "SELECT * FROM deliveries ORDER BY runId"),
      logs: [] as Record<string, any>[],
      keys: await rows(db, "SELECT * FROM idempotency_keys"),
    };
    // Two attempts whose bytes are not their delivery's (as attempts from before 0004 can be): one of a run
    // whose body changed, one of a run with no delivery. They keep their own copies.
    await db
      .prepare(
        `INSERT INTO webhook_logs (jobId, runId, deliveryId, attempt, url, requestBody, responseStatus, durationMs, sentAt) VALUES
         (?1, 3, 'whd_other_1', 9, 'https://hooks.example/in', '{"made":"again"}', 500, 5, 1),
         (?1, 99, 'whd_none_1', 1, 'https://hooks.example/in', '{"no":"delivery"}', 500, 5, 2)`,
      )
      .bind(ids.keyed)
      .run();
    before.logs = await rows(db, "SELECT * FROM webhook_logs ORDER BY id");
    expect(before.logs.length).toBe(9);
    expect(before.logs.every((l) => l.requestBody !== null)).toBe(true);
    // The newest log row deleted: AUTOINCREMENT's counter is past the largest id left, and 0012 keeps it.
    await db.prepare("INSERT INTO webhook_logs (jobId, runId, deliveryId, attempt, url, durationMs, sentAt) SELECT jobId, runId, deliveryId, 5, url, 1, 3 FROM webhook_logs LIMIT 1").run();
    await db.prepare("DELETE FROM webhook_logs WHERE id = (SELECT max(id) FROM webhook_logs)").run();
    const counters = await rows(db, "SELECT name, seq AS id FROM sqlite_sequence WHERE name IN ('runs', 'webhook_logs') ORDER BY name");
    expect(counters.find((c) => c.name === "webhook_logs")!.id).toBeGreaterThan(Math.max(...before.logs.map((l) => l.id)));

    await applyD1Migrations(db, env.TEST_MIGRATIONS);

    // Nothing lost: every job, run, delivery and key as it was; every log row with the bytes it sent.
    // (0015: a job's row no longer says IN_PROGRESS. The four in flight keep what they show once their
    // run is over, PENDING here (no run of theirs has finished), and show IN_PROGRESS through their runs.)
    const inflightBefore = before.jobs.filter((j) => j.status === "IN_PROGRESS").map((j) => j.id);
    expect(inflightBefore.sort()).toEqual([...ids.inflight].sort());
    expect(await rows(db, "SELECT * FROM jobs ORDER BY rowid")).toEqual(before.jobs.map((j) => (j.status === "IN_PROGRESS" ? { ...j, status: "PENDING" } : j)));
    // (0013: each run holds its occurrence in occurrenceKey, unless it was cancelled.)
    const runsAfter = await rows(db, "SELECT * FROM runs ORDER BY id");
    expect(runsAfter.map(({ occurrenceKey: _, ...run }) => run)).toEqual(before.runs);
    expect(runsAfter.map((r) => r.occurrenceKey)).toEqual(before.runs.map((r) => (r.status === "CANCELLED" ? null : r.occurrenceAt)));
    expect(runsAfter.some((r) => r.occurrenceKey !== null)).toBe(true);
    const deliveriesAfter = await rows(db, `SELECT *, ${deliveryBytes("d")} AS sent FROM deliveries d ORDER BY runId`);
    expect(deliveriesAfter.map(({ sent, body: _, leaseUntil: __, ...d }) => ({ ...d, body: sent }))).toEqual(before.deliveries);
    // (0014: an attempt in flight keeps its lease in leaseUntil too; the walk for first attempts starts now.)
    expect(deliveriesAfter.map((d) => d.leaseUntil)).toEqual(before.deliveries.map((d) => (d.state === "SENDING" ? d.nextAttemptAt : null)));
    expect(deliveriesAfter.filter((d) => d.leaseUntil !== null)).toHaveLength(1);
    expect((await rows(db, "SELECT at FROM cursors WHERE name = 'first-attempts'"))[0]!.at).toBeGreaterThan(Date.now() - 60_000);
    // ... a delivery's bytes built from its run's row, not stored, but for the one whose bytes differ.
    expect(deliveriesAfter.filter((d) => d.body !== null).map((d) => [d.runId, d.body])).toEqual([[legacyRun, legacy]]);
    expect(before.deliveries.length).toBeGreaterThan(5);
    expect(await rows(db, "SELECT * FROM idempotency_keys")).toEqual(before.keys);
    const logsAfter = await rows(db, `SELECT *, ${SENT_BYTES} AS sent, ${SENT_ID} AS sentId FROM webhook_logs ORDER BY id`);
    expect(logsAfter.map(({ sent, sentId, requestBody: _, deliveryId: __, ...l }) => ({ ...l, requestBody: sent, deliveryId: sentId }))).toEqual(before.logs);
    // ... stored once: on the delivery, not again on each attempt; the two that differ keep their own,
    // bytes and webhook-id alike.
    expect(logsAfter.filter((l) => l.requestBody !== null).map((l) => l.requestBody)).toEqual(['{"made":"again"}', '{"no":"delivery"}']);
    expect(logsAfter.filter((l) => l.deliveryId !== null).map((l) => l.deliveryId)).toEqual(["whd_other_1", "whd_none_1"]);
    // No AUTOINCREMENT (no sequence row per insert), and its counters carried into the high-water marks.
    expect(await rows(db, "SELECT name FROM sqlite_sequence WHERE name IN ('runs', 'webhook_logs')")).toEqual([]);
    expect(await rows(db, "SELECT name, id FROM high_water ORDER BY name")).toEqual(counters);
    expect(await rows(db, "SELECT name FROM sqlite_master WHERE name = 'runs_job_running_idx'")).toEqual([]);
    expect(await rows(db, "SELECT name FROM sqlite_master WHERE name IN ('jobs_created_idx', 'jobs_priority_idx')")).toEqual([]);

    const app: Env = { ...env, DB: db };
    const call = async (method: string, path: string, body?: string, headers: Record<string, string> = {}) => {
      const res = await worker.fetch(new Request(`http://scheduler.test${path}`, { method, body, headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/json", ...headers } }), app);
      return { status: res.status, body: await res.json<any>() };
    };
    // The delivery log shows each attempt's exact bytes, read from its delivery.
    const shown = (await call("GET", "/api/logs?limit=100")).body.data;
    expect(shown.map((l: any) => [l.id, JSON.stringify(l.requestBody)])).toEqual([...before.logs].reverse().map((l) => [l.id, l.requestBody]));
    // Lists, filters and counts by status: the jobs in flight through their runs, the others through the index.
    const byStatus = async (status: string) => (await call("GET", `/api/jobs?status=${status}&limit=100`)).body;
    expect((await byStatus("IN_PROGRESS")).data.map((j: any) => j.id).sort()).toEqual([...ids.inflight].sort());
    expect((await byStatus("PENDING")).data.map((j: any) => j.id)).toEqual([ids.never]);
    expect((await byStatus("SCHEDULED")).data.map((j: any) => j.id)).toEqual([ids.cron]);
    expect((await byStatus("COMPLETED")).pagination.total).toBe(5);
    expect((await call("GET", "/get-jobs?limit=100")).body.pagination.total).toBe(12);
    expect((await call("GET", "/api/jobs?page=2&limit=5")).body.data.map((j: any) => j.id)).toEqual(before.jobs.map((j) => j.id).reverse().slice(5, 10));
    // By priority, without its index: the table walked newest first, each row checked.
    const high = before.jobs.filter((j) => j.priority === "HIGH").map((j) => j.id).reverse();
    expect(high.length).toBeGreaterThan(0);
    expect((await call("GET", "/api/jobs?priority=HIGH&limit=100")).body).toMatchObject({ data: high.map((id) => ({ id })), pagination: { total: high.length } });
    // The job edited after its run keeps what ran in the run, and a retried create finds its first answer.
    expect((await call("GET", `/api/jobs/${ids.edited}/runs`)).body.data[0]).toMatchObject({ number: 1, payload: { v: 1 } });
    const keyed = await call("POST", "/api/jobs", JSON.stringify({ taskName: "Keyed create", payload: { k: 1 }, webhookUrl: "http://127.0.0.1:18778/ok" }), { "idempotency-key": "fixture-key-1" });
    expect(keyed.body.data.id).toBe(ids.keyed);
    // The runs killed in flight complete from their messages; their attempts are logged without a copy of the bytes.
    const batch = createMessageBatch<unknown>("job-scheduler-runs", ids.inflight.map((jobId, i) => ({ id: `m-${i}`, timestamp: new Date(), attempts: 1, body: { jobId, run: 1 } })));
    await worker.queue(batch, app);
    expect((await getQueueResult(batch, createExecutionContext())).explicitAcks).toHaveLength(ids.inflight.length);
    for (const id of ids.inflight) {
      expect((await call("GET", `/api/jobs/${id}`)).body.data).toMatchObject({ status: "COMPLETED", latestRun: { number: 1, delivery: { state: "DELIVERED" } } });
      const [hook] = await received(id);
      const [log] = (await call("GET", `/api/jobs/${id}/logs`)).body.data;
      expect(JSON.stringify(log.requestBody)).toBe(hook!.rawBody);
    }
    expect((await byStatus("IN_PROGRESS")).data).toEqual([]);
    expect(await rows(db, "SELECT count(*) AS n FROM webhook_logs WHERE requestBody IS NOT NULL")).toEqual([{ n: 2 }]);
    // The new attempts' ids come after every id given before, the deleted newest one's included.
    const newLogs = await rows(db, `SELECT id FROM webhook_logs WHERE id > ${Math.max(...before.logs.map((l) => l.id))} ORDER BY id`);
    expect(newLogs).toHaveLength(ids.inflight.length);
    expect(newLogs[0]!.id).toBe(counters.find((c) => c.name === "webhook_logs")!.id + 1);
  });
});

describe("migration 0015 (a job's row no longer says IN_PROGRESS)", () => {
  it("gives each job in flight what it shows once its run is over, shows IN_PROGRESS through its runs, and its runs finish as before", async () => {
    const db = env.JOB_ROW_DB;
    await applyD1Migrations(db, env.TEST_MIGRATIONS.filter((m) => m.name < "0015"));
    const t = Date.now();
    const job = (id: string, status: string, latestRun: number | null, nextRunAt: number | null) =>
      db.prepare("INSERT INTO jobs (id, taskName, payload, status, createdAt, updatedAt, latestRunId, nextRunAt) VALUES (?1, ?1, '{}', ?2, ?3, ?3, ?4, ?5)").bind(id, status, t - 300_000, latestRun, nextRunAt);
    const run = (id: number, jobId: string, number: number, status: string, startedAt: number | null, completedAt: number | null, dueAt = startedAt ?? t) =>
      db
        .prepare("INSERT INTO runs (id, jobId, number, status, taskName, payload, priority, dueAt, rank, startedAt, expectedAt, completedAt) VALUES (?1, ?2, ?3, ?4, ?2, '{}', 'MEDIUM', ?5, ?5, ?6, ?7, ?8)")
        .bind(id, jobId, number, status, dueAt, startedAt, status === "IN_PROGRESS" ? startedAt! + 3_000 : null, completedAt);
    // As the version before 0015 left them: each job with a run in progress says IN_PROGRESS and points at it.
    await db.batch([
      job("jrerun", "IN_PROGRESS", 2, null),
      job("jfailedbefore", "IN_PROGRESS", 4, null),
      job("jnext", "IN_PROGRESS", 5, t + 3_600_000),
      job("jfirst", "IN_PROGRESS", 7, null),
      job("jdone", "COMPLETED", 8, null),
      run(1, "jrerun", 1, "COMPLETED", t - 120_000, t - 117_000),
      run(2, "jrerun", 2, "IN_PROGRESS", t - 60_000, null),
      run(3, "jfailedbefore", 1, "FAILED", t - 120_000, t - 110_000),
      run(4, "jfailedbefore", 2, "IN_PROGRESS", t - 60_000, null),
      run(5, "jnext", 1, "IN_PROGRESS", t - 60_000, null),
      run(6, "jnext", 2, "SCHEDULED", null, null, t + 3_600_000),
      run(7, "jfirst", 1, "IN_PROGRESS", t - 60_000, null),
      run(8, "jdone", 1, "COMPLETED", t - 120_000, t - 117_000),
    ]);
    const before = await rows(db, "SELECT * FROM jobs ORDER BY rowid");

    await applyD1Migrations(db, env.TEST_MIGRATIONS);

    // Only the status of the jobs in flight changes: to what they show once their run is over.
    const after = { jrerun: "COMPLETED", jfailedbefore: "FAILED", jnext: "SCHEDULED", jfirst: "PENDING", jdone: "COMPLETED" } as Record<string, string>;
    expect(await rows(db, "SELECT * FROM jobs ORDER BY rowid")).toEqual(before.map((j) => ({ ...j, status: after[j.id] })));
    expect(await rows(db, "SELECT count(*) AS n FROM jobs WHERE status = 'IN_PROGRESS'")).toEqual([{ n: 0 }]);

    const app: Env = { ...env, DB: db, JOB_DURATION_SECONDS: "3" };
    const list = async (status: string) =>
      (await (await worker.fetch(new Request(`http://scheduler.test/api/jobs?status=${status}&limit=100`, { headers: { authorization: `Bearer ${API_TOKEN}` } }), app)).json<any>()).data
        .map((j: any) => j.id)
        .sort();
    // Shown as before: in progress through their runs, and in no other status's list.
    expect(await list("IN_PROGRESS")).toEqual(["jfailedbefore", "jfirst", "jnext", "jrerun"]);
    expect(await list("COMPLETED")).toEqual(["jdone"]);
    for (const status of ["PENDING", "SCHEDULED", "FAILED"]) expect(await list(status)).toEqual([]);
    expect(await getJob(db, "jrerun")).toMatchObject({ status: "IN_PROGRESS", latestRun: { number: 2, status: "IN_PROGRESS" } });
    expect(await getJob(db, "jnext")).toMatchObject({ status: "IN_PROGRESS", latestRun: { number: 1 }, nextRunAt: new Date(t + 3_600_000).toISOString() });

    // Their runs finish from their messages as they would have: each job then shows how its run ended.
    const inFlight = [
      ["jrerun", 2],
      ["jfailedbefore", 2],
      ["jnext", 1],
      ["jfirst", 1],
    ] as const;
    const batch = createMessageBatch<unknown>("job-scheduler-runs", inFlight.map(([jobId, run], i) => ({ id: `m15-${i}`, timestamp: new Date(), attempts: 1, body: { jobId, run } })));
    await worker.queue(batch, app);
    expect((await getQueueResult(batch, createExecutionContext())).explicitAcks).toHaveLength(inFlight.length);
    for (const [jobId, number] of inFlight) {
      expect(await getJob(db, jobId)).toMatchObject({ status: jobId === "jnext" ? "SCHEDULED" : "COMPLETED", latestRun: { number, status: "COMPLETED" } });
    }
    expect(await list("IN_PROGRESS")).toEqual([]);
    expect(await list("COMPLETED")).toEqual(["jdone", "jfailedbefore", "jfirst", "jrerun"]);
    expect(await list("SCHEDULED")).toEqual(["jnext"]);
  });
});

describe("migration 0007 (one planned occurrence per schedule)", () => {
  it("keeps the earliest of a job's planned occurrences and cancels the others with the reason, then refuses a second", async () => {
    const db = env.PLANNED_DB;
    await applyD1Migrations(db, env.TEST_MIGRATIONS.filter((m) => m.name < "0007"));
    const schedule = JSON.stringify({ cron: "*/5 * * * *", timezone: "UTC", missed: "skip", overlap: "skip" });
    await db.prepare(`INSERT INTO jobs (id, taskName, payload, priority, status, createdAt, updatedAt, schedule, nextRunAt) VALUES ('jtwice', 'Twice planned', '{}', 'MEDIUM', 'SCHEDULED', ?1, ?1, ?2, ?3)`).bind(now, schedule, now + 300_000).run();
    await db
      .prepare(
        `INSERT INTO runs (jobId, number, status, taskName, payload, priority, dueAt, occurrenceAt, rank) VALUES
         ('jtwice', 1, 'SCHEDULED', 'Twice planned', '{}', 'MEDIUM', ?1, ?1, ?1 + 30000),
         ('jtwice', 2, 'SCHEDULED', 'Twice planned', '{}', 'MEDIUM', ?2, ?2, ?2 + 30000),
         ('jtwice', 3, 'SCHEDULED', 'Twice planned', '{}', 'MEDIUM', ?3, NULL, ?3 + 30000)`,
      )
      .bind(now + 600_000, now + 300_000, now + 900_000)
      .run();

    await applyD1Migrations(db, env.TEST_MIGRATIONS);

    const runs = await rows(db, "SELECT number, status, failureReason FROM runs ORDER BY number");
    expect(runs.map((r) => [r.number, r.status])).toEqual([
      [1, "CANCELLED"],
      [2, "SCHEDULED"], // the earliest occurrence
      [3, "SCHEDULED"], // a one-off run is not an occurrence
    ]);
    expect(runs[0]!.failureReason).toMatch(/second planned occurrence/);
    await expect(
      db.prepare(`INSERT INTO runs (jobId, number, status, taskName, payload, priority, dueAt, occurrenceAt, rank) VALUES ('jtwice', 4, 'SCHEDULED', 'x', '{}', 'MEDIUM', ?1, ?1, ?1)`).bind(now + 1_200_000).run(),
    ).rejects.toThrow(/UNIQUE/);
  });
});
