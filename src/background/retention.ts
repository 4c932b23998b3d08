/**
 * Retention (its own Cron Trigger, hourly; `npm start` fires it locally): deletes finished runs older
 * than RETENTION_DAYS with their deliveries and log rows, and expired Idempotency-Key records, in
 * bounded batches. It owns no SQL: the record kinds' modules say what may go (runs/retention.ts).
 *
 * A pass walks the finished runs in the order they finished (runs_finished_idx), `runBatch` at a time,
 * from where the last pass stopped: runs that are kept (a job's latest run, a webhook under way) are
 * examined once per walk, never at the head of every pass. At the end of the aged runs the walk starts
 * again from the oldest, where a run kept then (its job has run since) may now go.
 *
 * A pass that stops at its limits with aged runs left says so (the `retention.behind` mark), and every
 * sweep (each minute) then runs another pass until it has caught up: retention keeps up with up to about
 * a pass's worth of runs a minute, not an hour (docs/performance.md measures the rate).
 */
import { changes, getDb, removed } from "../db/client";
import { onEveryShard } from "../db/shards";
import { readCursor, writeCursor, type Cursor } from "../db/cursors";
import { deleteDeliveries } from "../webhooks/deliveries";
import { getConfig, type Env } from "../env";
import { deleteExpiredKeys } from "../jobs/state";
import { IDEMPOTENCY_WINDOW_MS } from "../jobs/service";
import { deleteRuns, findAgedRuns } from "../runs/retention";
import { deleteRunLogs } from "../webhooks/log";

/** Retention's Cron Trigger (as in wrangler.toml): every hour at :17, apart from the per-minute sweep. */
export const RETENTION_CRON = "17 * * * *";
const DAY_MS = 86_400_000;
const CURSOR = "retention.runs";
/** Present while the last pass stopped at its limits with work left: the sweep runs another. */
const BEHIND = "retention.behind";

export interface RetentionLimits {
  /** Most runs examined (so deleted, with as many deliveries) per batch. */
  runBatch: number;
  /** Most log rows deleted per batch; a run whose log is longer goes in a later batch. */
  logBatch: number;
  /** Most expired Idempotency-Key records deleted per pass. */
  keyBatch: number;
  /** Batches per pass; what is left goes in the next pass. */
  maxBatches: number;
  /** A pass starts no batch after this long (ms); what is left goes in the next pass. */
  budgetMs: number;
}

/**
 * A pass examines at most 30 000 runs within 20 s, each statement at most 500 runs or 2 000 log rows;
 * while a pass stops with work left, every sweep runs another (docs/scaling.md).
 */
export const RETENTION_LIMITS: RetentionLimits = { runBatch: 500, logBatch: 2000, keyBatch: 2000, maxBatches: 60, budgetMs: 20_000 };

export interface RetentionReport {
  runsDeleted: number;
  deliveriesDeleted: number;
  logsDeleted: number;
  idempotencyKeysDeleted: number;
  /** 1 when the pass stopped at its limits with work left (the next sweep runs another), else 0. */
  behind: number;
}

/** Retention on every shard (each its own aged runs and keys). */
export const retention = (env: Env, now: Date, limits: RetentionLimits = RETENTION_LIMITS): Promise<RetentionReport> => onEveryShard(env, (shard) => retentionShard(shard, now, limits));

async function retentionShard(env: Env, now: Date, limits: RetentionLimits): Promise<RetentionReport> {
  const report: RetentionReport = { runsDeleted: 0, deliveriesDeleted: 0, logsDeleted: 0, idempotencyKeysDeleted: 0, behind: 0 };
  const { retentionDays } = getConfig(env);
  const db = getDb(env.DB);
  if (retentionDays === 0) {
    await writeCursor(db, BEHIND, null); // keeps everything: nothing to catch up on
    return report;
  }
  const before = new Date(now.getTime() - retentionDays * DAY_MS);

  const [[stored], [wasBehind], keys] = await db.batch([
    readCursor(db, CURSOR),
    readCursor(db, BEHIND),
    deleteExpiredKeys(db, new Date(now.getTime() - IDEMPOTENCY_WINDOW_MS), limits.keyBatch),
  ]);
  report.idempotencyKeysDeleted = changes(keys);

  let cursor: Cursor | null = stored ?? null;
  let next: Cursor | null = cursor;
  // The walk stopped at the end of the aged runs (or found none): nothing is left for another pass.
  let walked = false;
  const until = Date.now() + limits.budgetMs;
  for (let batch = 0; batch < limits.maxBatches && Date.now() < until; batch++) {
    const aged = await findAgedRuns(db, before, cursor, limits.runBatch);
    const last = aged.at(-1);
    // Fewer than a batch: the walk reached the end, and the next one starts from the oldest.
    next = last && aged.length === limits.runBatch ? { at: last.completedAt!.getTime(), id: last.id } : null;
    if (aged.length === 0) {
      walked = true;
      break;
    }
    const ids = aged.map((run) => run.id);
    // Logs first, then deliveries without logs, then runs without either: a cut-off batch leaves no orphan.
    const [logs, deliveries, runs] = await db.batch([deleteRunLogs(db, ids, before, limits.logBatch), deleteDeliveries(db, ids, before), deleteRuns(db, ids, before)]);
    report.logsDeleted += removed(logs);
    report.deliveriesDeleted += changes(deliveries);
    report.runsDeleted += removed(runs);
    // The log cap cut this batch short: the same runs again (with fewer log rows left), not the next ones.
    if (removed(logs) === limits.logBatch) next = cursor;
    else if (!next) {
      walked = true;
      break;
    }
    cursor = next;
  }
  // Behind only when the pass was cut short while deleting: a walk past runs that are kept (jobs' latest
  // runs, often most of the aged ones) goes on in the next hourly pass, not every minute.
  const deleting = report.runsDeleted >= limits.runBatch || report.logsDeleted >= limits.logBatch;
  report.behind = (!walked && deleting) || report.idempotencyKeysDeleted === limits.keyBatch ? 1 : 0;
  const writes = [];
  if (next?.at !== stored?.at || next?.id !== stored?.id) writes.push(writeCursor(db, CURSOR, next));
  if (Boolean(report.behind) !== Boolean(wasBehind)) writes.push(writeCursor(db, BEHIND, report.behind ? { at: now.getTime(), id: 0 } : null));
  const [head, ...rest] = writes;
  if (head) await db.batch([head, ...rest]);
  return report;
}

/** Whether the last retention pass stopped with work left (one row read): the sweep then runs another. */
export async function retentionBehind(env: Env): Promise<boolean> {
  const db = getDb(env.DB);
  const [mark] = await readCursor(db, BEHIND);
  return mark !== undefined;
}
