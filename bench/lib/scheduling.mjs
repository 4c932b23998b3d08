// Scheduling figures: how close to their time scheduled runs start (runs due across one minute), and
// how MAX_CONCURRENT_RUNS and priority order a burst (runs of three priorities due at once).
import { createJobs, percentile, runLoad } from "./load.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Creates `n` jobs through the API, `fields(i)` merged into each body; returns their ids (in order). */
const create = (url, headers, n, fields) => createJobs(url, headers, n, (i) => ({ taskName: `Scheduled ${i}`, payload: { n: i }, ...fields(i) }));

/** Each job's latest run (dueAt, startedAt) once every one has started, through the API. */
async function startedRuns(url, headers, ids, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let runs = [];
  while (Date.now() < deadline) {
    runs = [];
    await runLoad(url, {
      total: ids.length,
      concurrency: 32,
      request: (i) => ({ path: `/api/jobs/${ids[i]}`, headers }),
      onResponse: (_, status, body) => {
        if (status !== 200) return;
        const job = JSON.parse(body).data;
        if (job.latestRun?.startedAt) runs.push({ priority: job.priority, dueAt: Date.parse(job.latestRun.dueAt), startedAt: Date.parse(job.latestRun.startedAt) });
      },
    });
    if (runs.length === ids.length) break;
    await sleep(2000);
  }
  return runs;
}

const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, p50Ms: Math.round(percentile(sorted, 50)), p95Ms: Math.round(percentile(sorted, 95)), maxMs: Math.round(sorted.at(-1) ?? NaN) };
};

/** `n` runs due across one minute starting `leadMs` from now: start time minus due time. */
export async function measureAccuracy(url, headers, n = 1000, leadMs = 20_000) {
  const from = Date.now() + leadMs;
  const ids = await create(url, headers, n, (i) => ({ runAt: new Date(from + Math.floor((i * 60_000) / n)).toISOString() }));
  const runs = await startedRuns(url, headers, ids, leadMs + 60_000 + 120_000);
  return { scheduled: ids.length, started: runs.length, startMinusDue: stats(runs.map((r) => r.startedAt - r.dueAt)) };
}

/** `n` runs of mixed priority due at the same moment under the concurrency limit: each priority's wait to start. */
export async function measurePriority(url, headers, n = 5000, leadMs = 30_000) {
  const at = new Date(Date.now() + leadMs).toISOString();
  const priorities = ["HIGH", "MEDIUM", "LOW"];
  const ids = await create(url, headers, n, (i) => ({ runAt: at, priority: priorities[i % 3] }));
  const runs = await startedRuns(url, headers, ids, leadMs + 600_000);
  const byPriority = Object.fromEntries(priorities.map((p) => [p, stats(runs.filter((r) => r.priority === p).map((r) => r.startedAt - r.dueAt))]));
  return { scheduled: ids.length, started: runs.length, waitByPriority: byPriority };
}
