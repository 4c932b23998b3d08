/**
 * The overview: jobs by status, runs started and finished per hour over the last 24 h, the webhooks of
 * the latest runs finished in that window by state and their lag (run finished -> delivered) at
 * p50/p95, the deliveries still under way (the retry backlog), and the oldest due run still waiting.
 * The API (/api/stats) and the dashboard (/overview) show the same figures. Every figure reads a
 * bounded number of rows (see repository.ts); counts stop at COUNT_LIMIT.
 */
import { getDb } from "../db/client";
import { bindingOf } from "../db/sessions";
import { eachShard } from "../db/shards";
import { DELIVERY_STATES, JOB_STATUSES, type DeliveryState, type JobStatus } from "../db/schema";
import type { Env } from "../env";
import { COUNT_LIMIT, DELIVERY_SAMPLE, HOUR_MS, statsQueries, type HourFigureRows } from "./repository";

/** The window the hourly figures cover, in whole hours (the current hour is the last, partial one). */
export const STATS_WINDOW_HOURS = 24;

export interface HourStats {
  hour: Date;
  started: number;
  completed: number;
  failed: number;
  cancelled: number;
}

export interface Stats {
  generatedAt: Date;
  since: Date;
  windowHours: number;
  /** Counts stop here: a count equal to it means that many or more. */
  countLimit: number;
  jobs: { total: number; totalExact: boolean; byStatus: Record<JobStatus, number> };
  runs: {
    inProgress: number;
    /** Due runs not started yet (waiting for a slot, or for their start message); the oldest among the first countLimit in line. */
    waiting: { count: number; oldestDueAt: Date | null; oldestWaitMs: number | null };
    hourly: HourStats[];
    totals: Omit<HourStats, "hour">;
  };
  deliveries: {
    /** The runs the webhook figures cover: the latest finished in the window, at most `limit`. */
    sample: { runs: number; limit: number };
    /** The webhooks of those runs, by state. */
    byState: Record<DeliveryState, number>;
    lagMs: { p50: number | null; p95: number | null; samples: number };
    /** The deliveries not finished yet, whatever their age: the work still ahead of the sender (the countLimit soonest when `exact` is false). */
    backlog: { pending: number; sending: number; retrying: number; nextAttemptAt: Date | null; exact: boolean };
  };
}

/** How long figures are reused: many open overviews cost one read per isolate per 10 s, not one each. */
export const STATS_MAX_AGE_MS = 10_000;

const recent = new WeakMap<D1Database, { at: number; stats: Promise<Stats> }>();

/** The figures, reused for up to STATS_MAX_AGE_MS per database within this isolate. */
export function getRecentStats(env: Env): Promise<Stats> {
  const now = Date.now();
  // Per database, not per request's session (db/sessions.ts).
  const db = bindingOf(env.DB);
  const cached = recent.get(db);
  if (cached && now - cached.at < STATS_MAX_AGE_MS) return cached.stats;
  const stats = getStats(env, new Date(now));
  recent.set(db, { at: now, stats });
  stats.catch(() => recent.delete(db));
  return stats;
}

const zeros = <K extends string>(keys: readonly K[]) => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;

/** Empty hours from `firstHour`, `count` of them. */
export const emptyHours = (firstHour: number, count: number): HourStats[] =>
  Array.from({ length: count }, (_, i) => ({ hour: new Date((firstHour + i) * HOUR_MS), started: 0, completed: 0, failed: 0, cancelled: 0 }));

/** Adds what hourFigures read to the hours (those outside them are left out). */
export function addFigures(hours: HourStats[], [finishedRows, startedDone, startedRunning]: HourFigureRows) {
  const first = hours[0] ? hours[0].hour.getTime() / HOUR_MS : 0;
  const at = (hour: number) => hours[hour - first];
  for (const row of [...startedDone, ...startedRunning]) {
    const bucket = at(row.hour);
    if (bucket) bucket.started += row.n;
  }
  for (const row of finishedRows) {
    const bucket = at(row.hour);
    if (!bucket) continue;
    if (row.status === "COMPLETED") bucket.completed += row.n;
    else if (row.status === "FAILED") bucket.failed += row.n;
    else bucket.cancelled += row.n;
  }
}

/**
 * The figures of every shard, added up: counts and hours add; the oldest waiting run and the next
 * attempt are the earliest; a count at the limit anywhere is not exact. Each shard samples its own latest
 * DELIVERY_SAMPLE runs, and the lag percentiles are the shards' own, weighted by their samples (exact for
 * one shard, an estimate for several).
 */
export async function getStats(env: Env, now = new Date()): Promise<Stats> {
  const shards = await Promise.all(eachShard(env).map((shard) => shardStats(shard, now)));
  if (shards.length === 1) return shards[0]!;
  const [first, ...rest] = shards;
  return rest.reduce(addStats, structuredClone(first!));
}

const earliest = (a: Date | null, b: Date | null) => (a === null ? b : b === null ? a : a.getTime() <= b.getTime() ? a : b);
const weighted = (a: number | null, aN: number, b: number | null, bN: number) => (a === null ? b : b === null ? a : Math.round((a * aN + b * bN) / (aN + bN)));

function addStats(sum: Stats, shard: Stats): Stats {
  for (const status of JOB_STATUSES) sum.jobs.byStatus[status] += shard.jobs.byStatus[status];
  sum.jobs.total += shard.jobs.total;
  sum.jobs.totalExact &&= shard.jobs.totalExact;
  sum.runs.inProgress += shard.runs.inProgress;
  const waiting = sum.runs.waiting;
  waiting.count += shard.runs.waiting.count;
  waiting.oldestDueAt = earliest(waiting.oldestDueAt, shard.runs.waiting.oldestDueAt);
  waiting.oldestWaitMs = waiting.oldestDueAt === null ? null : Math.max(0, sum.generatedAt.getTime() - waiting.oldestDueAt.getTime());
  sum.runs.hourly.forEach((hour, i) => {
    const other = shard.runs.hourly[i]!;
    hour.started += other.started;
    hour.completed += other.completed;
    hour.failed += other.failed;
    hour.cancelled += other.cancelled;
  });
  for (const key of Object.keys(sum.runs.totals) as (keyof Stats["runs"]["totals"])[]) sum.runs.totals[key] += shard.runs.totals[key];
  const d = sum.deliveries;
  d.sample.runs += shard.deliveries.sample.runs;
  d.sample.limit += shard.deliveries.sample.limit;
  for (const state of DELIVERY_STATES) d.byState[state] += shard.deliveries.byState[state];
  const lag = shard.deliveries.lagMs;
  d.lagMs = { p50: weighted(d.lagMs.p50, d.lagMs.samples, lag.p50, lag.samples), p95: weighted(d.lagMs.p95, d.lagMs.samples, lag.p95, lag.samples), samples: d.lagMs.samples + lag.samples };
  const backlog = shard.deliveries.backlog;
  d.backlog.pending += backlog.pending;
  d.backlog.sending += backlog.sending;
  d.backlog.retrying += backlog.retrying;
  d.backlog.nextAttemptAt = earliest(d.backlog.nextAttemptAt, backlog.nextAttemptAt);
  d.backlog.exact &&= backlog.exact;
  return sum;
}

async function shardStats(env: Env, now: Date): Promise<Stats> {
  const db = getDb(env.DB);
  const firstHour = Math.floor(now.getTime() / HOUR_MS) - (STATS_WINDOW_HOURS - 1);
  const since = firstHour * HOUR_MS;
  const [[jobCounts], rolled, finishedRows, startedDone, startedRunning, stateRows, [lag], backlogRows, [running], [waiting]] = await db.batch(statsQueries(db, firstHour, STATS_WINDOW_HOURS, now.getTime()));

  const byStatus = { ...zeros(JOB_STATUSES), ...jobCounts };
  const jobRows = Object.values(byStatus);

  // Hours that are over come rolled up; the rest (from the first one not rolled up) from the runs.
  const hourly = emptyHours(firstHour, STATS_WINDOW_HOURS);
  for (const row of rolled) {
    const bucket = hourly[row.hour - firstHour];
    if (!bucket) continue;
    bucket.started += row.started;
    bucket.completed += row.completed;
    bucket.failed += row.failed;
    bucket.cancelled += row.cancelled;
  }
  addFigures(hourly, [finishedRows, startedDone, startedRunning]);
  const totals = { started: 0, completed: 0, failed: 0, cancelled: 0 };
  for (const bucket of hourly) for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += bucket[key];

  const byState = zeros(DELIVERY_STATES);
  let sampled = 0;
  for (const row of stateRows) {
    sampled += row.n;
    if (row.state !== null) byState[row.state] = row.n;
  }
  const backlog = { pending: 0, sending: 0, retrying: 0, nextAttemptAt: null as Date | null, exact: true };
  let next: number | null = null;
  let underWay = 0;
  for (const row of backlogRows) {
    underWay += row.n;
    if (row.state === "PENDING") backlog.pending = row.n;
    else if (row.state === "SENDING") backlog.sending = row.n;
    else if (row.state === "RETRYING") backlog.retrying = row.n;
    if (row.oldest !== null && (next === null || row.oldest < next)) next = row.oldest;
  }
  backlog.nextAttemptAt = next === null ? null : new Date(next);
  backlog.exact = underWay < COUNT_LIMIT;

  const oldestDue = waiting?.oldest ?? null;
  return {
    generatedAt: now,
    since: new Date(since),
    windowHours: STATS_WINDOW_HOURS,
    countLimit: COUNT_LIMIT,
    jobs: { total: jobRows.reduce((sum, n) => sum + n, 0), totalExact: jobRows.every((n) => n < COUNT_LIMIT), byStatus },
    runs: {
      inProgress: running?.n ?? 0,
      waiting: { count: waiting?.n ?? 0, oldestDueAt: oldestDue === null ? null : new Date(oldestDue), oldestWaitMs: oldestDue === null ? null : Math.max(0, now.getTime() - oldestDue) },
      hourly,
      totals,
    },
    deliveries: { sample: { runs: sampled, limit: DELIVERY_SAMPLE }, byState, lagMs: { p50: lag?.p50 ?? null, p95: lag?.p95 ?? null, samples: lag?.samples ?? 0 }, backlog },
  };
}
