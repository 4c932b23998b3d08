// The cost meter: what each operation costs on Cloudflare's bill, per job, counted exactly by the app
// itself (COST_METER=true: src/lib/meter.ts reads D1's own rows read and written from every result's
// meta, and counts queue operations and Worker invocations), and the price of one million job
// lifecycles at Cloudflare's published prices, next to QStash's.
import { createJobs as createThrough, runLoad } from "./load.mjs";
import { seedJobs, SEARCH_WORD } from "./seed.mjs";
import { executeSql, migrate, startWorkerd } from "./servers.mjs";
import { writeFileSync } from "node:fs";

/** List prices (USD) as published by Cloudflare and Upstash, read on the date given. */
export const PRICES = {
  readOn: "2026-11-29",
  d1RowsWrittenPerMillion: 1.0,
  d1RowsReadPerMillion: 0.001,
  queueOperationsPerMillion: 0.4,
  workerRequestsPerMillion: 0.3,
  qstashMessagesPerMillion: 10,
};

/** How many jobs each phase measures (below MAX_CONCURRENT_RUNS' default of 50: the happy path). */
const N = 40;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function meter(url, reset = false) {
  const res = await fetch(`${url}/__meter`, { method: reset ? "DELETE" : "GET" });
  return res.json();
}

/** The tally once nothing has changed it for `quietMs` (queue work finishes after the HTTP calls). */
async function settledMeter(url, quietMs = 1500) {
  let last = JSON.stringify(await meter(url));
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    await sleep(250);
    const now = JSON.stringify(await meter(url));
    if (now !== last) [last, since] = [now, Date.now()];
  }
  return JSON.parse(last);
}

/** A tally divided by the number of jobs it covered, as flat per-job figures. */
function perJob(t, n) {
  const r = (x) => Math.round((x / n) * 100) / 100;
  return {
    d1RoundTrips: r(t.d1.roundTrips),
    d1Statements: r(t.d1.statements),
    rowsRead: r(t.d1.rowsRead),
    rowsWritten: r(t.d1.rowsWritten),
    queueOperations: r(t.queue.writes + t.queue.reads + t.queue.deletes),
    invocations: r(t.invocations.fetch + t.invocations.queue + t.invocations.scheduled),
  };
}

const minus = (a, b) => Object.fromEntries(Object.entries(a).map(([k, v]) => [k, Math.round((v - b[k]) * 100) / 100]));
const plus = (...xs) => Object.fromEntries(Object.keys(xs[0]).map((k) => [k, Math.round(xs.reduce((s, x) => s + x[k], 0) * 100) / 100]));

/** Price in USD of one million of what `f` (per-job figures) counts. Invocations are priced as requests (an upper bound: CPU time is not counted). */
export function pricePerMillion(f) {
  const d1 = f.rowsWritten * PRICES.d1RowsWrittenPerMillion + f.rowsRead * PRICES.d1RowsReadPerMillion;
  const queue = f.queueOperations * PRICES.queueOperationsPerMillion;
  const workers = f.invocations * PRICES.workerRequestsPerMillion;
  const r = (x) => Math.round(x * 100) / 100;
  return { d1: r(d1), queue: r(queue), workers: r(workers), total: r(d1 + queue + workers) };
}

const createJobs = (url, headers, n, fields = () => ({})) =>
  createThrough(url, headers, n, (i) => ({ taskName: `Cost ${i}`, payload: { n: i, email: `cost${i}@example.com` }, ...fields(i) }), 8);

async function waitDelivered(receiver, ids, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (ids.some((id) => !receiver.delivered.has(`whd_${id}_1`)) && Date.now() < deadline) await sleep(100);
}

/** `work` measured from a fresh tally until the app has gone quiet. */
async function measured(url, work) {
  await settledMeter(url);
  await meter(url, true);
  await work();
  return settledMeter(url);
}

/** Seeds `count` far-future one-off scheduled runs (beyond a message's reach: the sweep's to watch). */
function seedScheduled(state, count) {
  const due = Date.now() + 30 * 86_400_000;
  const statements = [];
  for (let from = 0; from < count; from += 500) {
    const rows = [];
    for (let n = from; n < Math.min(count, from + 500); n++) rows.push(`('sched${String(n).padStart(7, "0")}','Later ${n}','{"n":${n}}','MEDIUM','SCHEDULED',${due},${Date.now()},${Date.now()})`);
    statements.push(`INSERT INTO jobs (id, taskName, payload, priority, status, nextRunAt, createdAt, updatedAt) VALUES ${rows.join(",")};`);
  }
  statements.push(
    `INSERT INTO runs (jobId, number, status, taskName, payload, priority, dueAt, rank, expectedAt, recoveries)
     SELECT id, 1, 'SCHEDULED', taskName, payload, priority, nextRunAt, nextRunAt + 30000, NULL, 0 FROM jobs WHERE id LIKE 'sched%';`,
  );
  const file = `${state}/seed-scheduled.sql`;
  writeFileSync(file, statements.join("\n"));
  executeSql(state, file);
}

/** Every phase on one app on workerd, its state in `state`; `receiver` takes the webhooks. */
export async function measureCost(state, receiver, headers, { largeJobs = 100_000, largeScheduled = 100_000, recurring = true } = {}) {
  migrate(state);
  const vars = { WEBHOOK_URL: receiver.url, JOB_DURATION_SECONDS: "3", WEBHOOK_RETRY_SCHEDULE: "1s", WEBHOOK_RETRY_JITTER: "0", COST_METER: "true" };
  // No sweep ticker: the sweep is measured on its own, and its passes must not mix into other figures.
  let app = await startWorkerd("app", { state, vars, sweepEverySeconds: 0 });
  const ops = {};
  try {
    let ids = [];
    ops.create = perJob(await measured(app.url, async () => (ids = await createJobs(app.url, headers, N))), N);
    // The run calls are read as soon as they answered, before the runs end (their duration is 3 s): completion is its own phase.
    await settledMeter(app.url);
    await meter(app.url, true);
    await runLoad(app.url, { total: N, concurrency: 8, request: (i) => ({ method: "POST", path: `/api/jobs/${ids[i]}/run`, headers }) });
    ops.run = perJob(await meter(app.url), N);
    await waitDelivered(receiver, ids);
    ops.completeAndDeliver = minus(perJob(await settledMeter(app.url), N), ops.run);

    const failing = await createJobs(app.url, headers, N, () => ({ webhookUrl: `${receiver.origin}/fail-once/hook` }));
    const withRetry = perJob(
      await measured(app.url, async () => {
        await runLoad(app.url, { total: N, concurrency: 8, request: (i) => ({ method: "POST", path: `/api/jobs/${failing[i]}/run`, headers }) });
        await waitDelivered(receiver, failing);
      }),
      N,
    );
    ops.retry = minus(withRetry, plus(ops.run, ops.completeAndDeliver));

    const page = (path) => () => runLoad(app.url, { total: N, concurrency: 4, request: () => ({ path, headers }) });
    ops.listPage = perJob(await measured(app.url, page("/api/jobs?limit=10")), N);
    ops.search = perJob(await measured(app.url, page(`/api/jobs?limit=10&search=${SEARCH_WORD}`)), N);

    const scheduledTotal = perJob(
      await measured(app.url, async () => {
        const later = await createJobs(app.url, headers, N, () => ({ delaySeconds: 2 }));
        await waitDelivered(receiver, later);
      }),
      N,
    );
    ops.scheduledRun = minus(scheduledTotal, ops.create);

    // Recurring: every job's occurrence at the next minute starts, completes, is delivered, and makes the next.
    // It waits for that minute (up to 60 s), so --quick leaves it to test/cost.test.ts, which pins the same count.
    if (recurring) {
      const minutely = await createJobs(app.url, headers, N, () => ({ schedule: { cron: "* * * * *" } }));
      ops.recurringRun = perJob(await measured(app.url, () => waitDelivered(receiver, minutely, 150_000)), N);
      await runLoad(app.url, { total: N, concurrency: 8, request: (i) => ({ method: "POST", path: `/api/jobs/${minutely[i]}/pause`, headers }) });
    }

    // A pass first: the first sweep after new rows rolls up the overview's hours that are over (work of
    // its own, once an hour); the one measured then has nothing to do.
    const idleSweep = async () => {
      await app.scheduled(new Date());
      return perJob(await measured(app.url, () => app.scheduled(new Date())), 1);
    };
    ops.idleSweep = await idleSweep();
    await app.stop();

    // The same sweep with 100 000 jobs and 100 000 scheduled runs in the tables.
    seedJobs(state, 0, largeJobs);
    seedScheduled(state, largeScheduled);
    app = await startWorkerd("app", { state, vars, sweepEverySeconds: 0 });
    ops.idleSweepLarge = await idleSweep();
    ops.listPageLarge = perJob(await measured(app.url, page("/api/jobs?limit=10")), N);
    ops.searchLarge = perJob(await measured(app.url, page(`/api/jobs?limit=10&search=${SEARCH_WORD}`)), N);
  } finally {
    await app.stop();
  }
  const lifecycle = plus(ops.create, ops.run, ops.completeAndDeliver);
  return { jobsPerPhase: N, largeJobs, largeScheduled, prices: PRICES, perJob: ops, lifecycle, lifecyclePricePerMillion: pricePerMillion(lifecycle) };
}

const LABELS = {
  create: "create (POST /api/jobs)",
  run: "run (POST /api/jobs/:id/run)",
  completeAndDeliver: "complete + deliver (consumer: run, delivery, log row)",
  retry: "one retry of a delivery (extra)",
  listPage: "list page (GET /api/jobs?limit=10)",
  search: "search (GET /api/jobs?search=...)",
  scheduledRun: "scheduled run (delaySeconds: start, complete, deliver)",
  recurringRun: "recurring occurrence (start, complete, deliver, next made)",
  idleSweep: "sweep with nothing to do",
  idleSweepLarge: "sweep with nothing to do, large tables",
  listPageLarge: "list page, large tables",
  searchLarge: "search, large tables",
};

export function costTable(cost) {
  const lines = [
    `cost per job (per request for lists, per pass for the sweep); large tables: ${cost.largeJobs} jobs + ${cost.largeScheduled} scheduled runs`,
    `${"operation".padEnd(60)} ${["D1 trips", "stmts", "rows read", "rows written", "queue ops", "invocations"].map((h) => h.padStart(12)).join("")}`,
  ];
  const row = (label, f) => `${label.padEnd(60)} ${[f.d1RoundTrips, f.d1Statements, f.rowsRead, f.rowsWritten, f.queueOperations, f.invocations].map((v) => String(v).padStart(12)).join("")}`;
  for (const [key, f] of Object.entries(cost.perJob)) lines.push(row(LABELS[key] ?? key, f));
  lines.push(row("lifecycle (create + run + complete + deliver + log)", cost.lifecycle));
  const p = cost.lifecyclePricePerMillion;
  lines.push(
    `price of 1 000 000 lifecycles at list prices (${cost.prices.readOn}): $${p.total} (D1 $${p.d1}, Queues $${p.queue}, Workers requests $${p.workers}); QStash: $${cost.prices.qstashMessagesPerMillion}`,
  );
  return lines.join("\n");
}
