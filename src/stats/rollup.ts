/**
 * The rollup pass (the sweep calls it every minute): once an hour is over, its runs per hour are
 * written to run_hours, one row per hour, so the overview reads 24 rows instead of every run of the
 * last day. It writes one row an hour (23 on its first pass) and nothing on a run's own path; a minute
 * with nothing to roll up reads one row.
 */
import { sql } from "drizzle-orm";
import { getDb } from "../db/client";
import { onEveryShard } from "../db/shards";
import type { RunHour } from "../db/schema";
import type { Env } from "../env";
import { HOUR_MS, hourFigures, insertHours, latestRolledHour } from "./repository";
import { addFigures, emptyHours, STATS_WINDOW_HOURS } from "./service";

/**
 * An hour is rolled up this long after it ends: a run finished by a Worker whose clock is behind (or
 * failed by a sweep with its scheduled time) may be written a little after its completion time.
 */
export const ROLLUP_DELAY_MS = 5 * 60_000;

/** Rolls up the hours of the window that are over and not rolled up yet; answers how many it wrote. */
export const rollupHours = async (env: Env, now: Date): Promise<number> => (await onEveryShard(env, async (shard) => ({ hours: await rollupShard(shard, now) }))).hours;

async function rollupShard(env: Env, now: Date): Promise<number> {
  const db = getDb(env.DB);
  const lastOver = Math.floor((now.getTime() - ROLLUP_DELAY_MS) / HOUR_MS) - 1;
  const [latest] = await latestRolledHour(db);
  // Hours before the window are never shown: a pass after a long stop starts at the window's first.
  const first = Math.max(Math.floor(now.getTime() / HOUR_MS) - (STATS_WINDOW_HOURS - 1), (latest?.hour ?? -Infinity) + 1);
  if (first > lastOver) return 0;
  const figures = await db.batch(hourFigures(db, sql`${first * HOUR_MS}`, sql`${(lastOver + 1) * HOUR_MS}`, null));
  // Every hour is written, those in which nothing ran too: the next pass then has nothing to look at
  // until the next hour is over (one row read a minute, one written an hour).
  const hours = emptyHours(first, lastOver - first + 1);
  addFigures(hours, figures);
  const rows: RunHour[] = hours.map(({ hour, ...counts }) => ({ hour: hour.getTime() / HOUR_MS, ...counts, rolledAt: now }));
  const [head, ...rest] = insertHours(db, rows);
  await db.batch([head!, ...rest]);
  return rows.length;
}
