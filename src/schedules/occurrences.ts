/**
 * When a recurring schedule fires. Cron expressions are evaluated by croner (never with its own
 * timers) in the schedule's IANA time zone, within its start, end and limit.
 *
 * Daylight saving time: an occurrence that falls in the spring-forward gap (02:30 on a day that skips
 * from 02:00 to 03:00) runs at the first valid instant after it, the moment the clocks jump (croner
 * moves it there only for a pattern of one fixed time, so gaps are looked for here); a wall-clock time
 * that happens twice when clocks fall back runs once, at its first pass (the second is skipped here).
 */
import { Cron } from "croner";
import type { Schedule } from "../db/schema";
import { clockChange, zoneOffsetMs } from "../lib/zones";

/** DST shifts are an hour almost everywhere (30 minutes on Lord Howe Island, two hours at Troll in Antarctica). */
const DST_SHIFTS_MS = [3_600_000, 1_800_000, 7_200_000];

/** The largest of them. */
const MAX_SHIFT_MS = Math.max(...DST_SHIFTS_MS);

/**
 * True when `at` is the second pass of a wall-clock time repeated as clocks fall back: `shift` earlier,
 * the clocks were `shift` ahead of where they are now, so they showed the same time.
 */
const repeatsEarlierWallClock = (at: Date, timezone: string) =>
  DST_SHIFTS_MS.some((shift) => zoneOffsetMs(at.getTime() - shift, timezone) - zoneOffsetMs(at.getTime(), timezone) === shift);

/** A schedule stored with an empty zone (accepted before it was refused) is read in UTC, as croner read it. */
const zoned = (schedule: Schedule): Schedule => (schedule.timezone?.trim() ? schedule : { ...schedule, timezone: "UTC" });

const crons = new Map<string, Cron>();

function cronOf(schedule: Pick<Schedule, "cron" | "timezone">): Cron {
  const key = `${schedule.timezone} ${schedule.cron}`;
  let cron = crons.get(key);
  if (!cron) {
    // Evaluated only (nextRun); `paused` so croner never starts a timer of its own.
    cron = new Cron(schedule.cron, { timezone: schedule.timezone, paused: true });
    if (crons.size > 1000) crons.clear();
    crons.set(key, cron);
  }
  return cron;
}

const DAY_MS = 86_400_000;
/** Offsets are compared this far apart at most (no zone shifts its clock twice within four weeks). */
const GAP_SCAN_MS = 28 * 86_400_000;

const changesByZoneYear = new Map<string, boolean>();

/** Whether `timezone` changes its clocks in `year` (its offset on the 1st and 15th of each month differ). */
function changesClocks(timezone: string, year: number): boolean {
  const key = `${timezone} ${year}`;
  let changes = changesByZoneYear.get(key);
  if (changes === undefined) {
    const offsets = new Set<number>();
    for (let month = 0; month < 12; month++) for (const day of [1, 15]) offsets.add(zoneOffsetMs(Date.UTC(year, month, day), timezone));
    changes = offsets.size > 1;
    if (changesByZoneYear.size > 10_000) changesByZoneYear.clear();
    changesByZoneYear.set(key, changes);
  }
  return changes;
}

/** Whether `timezone` changes its clocks in any year from `fromMs` to `toMs`. */
function changesClocksBetween(timezone: string, fromMs: number, toMs: number): boolean {
  for (let year = new Date(fromMs).getUTCFullYear(); year <= new Date(toMs).getUTCFullYear(); year++) if (changesClocks(timezone, year)) return true;
  return false;
}

/**
 * The moment the clocks jump forward strictly between `after` and `before`, when the cron matches a
 * wall-clock time that the jump skips (an occurrence croner passed over); else null. Wall-clock times
 * are matched by the same cron read in UTC, where every wall-clock time exists.
 */
function gapOccurrence(schedule: Schedule, after: Date, before: Date): Date | null {
  if (!changesClocksBetween(schedule.timezone, after.getTime(), before.getTime())) return null; // UTC, and every zone without daylight saving time then
  for (let lo = after.getTime(); lo < before.getTime(); lo += GAP_SCAN_MS) {
    const hi = Math.min(lo + GAP_SCAN_MS, before.getTime());
    const offsetBefore = zoneOffsetMs(lo, schedule.timezone);
    const offsetAfter = zoneOffsetMs(hi, schedule.timezone);
    if (offsetAfter <= offsetBefore) continue;
    const jump = clockChange(lo, hi, schedule.timezone);
    if (jump <= after.getTime() || jump >= before.getTime()) continue;
    const skippedFrom = jump + offsetBefore; // the wall-clock times [skippedFrom, skippedTo) never happen
    const skippedTo = jump + offsetAfter;
    const match = cronOf({ cron: schedule.cron, timezone: "UTC" }).nextRun(new Date(skippedFrom - 1000));
    if (match && match.getTime() < skippedTo) return new Date(jump);
  }
  return null;
}

/**
 * The first occurrence strictly after `after`, within the schedule's start and end (the limit is the
 * caller's: it counts occurrences already made). Null when there is none.
 */
export function nextOccurrence(stored: Schedule, after: Date): Date | null {
  const schedule = zoned(stored);
  const cron = cronOf(schedule);
  const startAt = schedule.startAt ? new Date(schedule.startAt) : null;
  let from = startAt && startAt.getTime() - 1 > after.getTime() ? new Date(startAt.getTime() - 1) : after;
  // Repeated wall-clock times are skipped one match at a time: up to 120 for a minutely cron through a
  // two-hour fall-back. (At 100, such a schedule found no next occurrence and stopped.)
  for (let guard = 0; guard < 500; guard++) {
    const matched = cron.nextRun(from);
    const next = matched ? (gapOccurrence(schedule, from, matched) ?? matched) : null;
    if (!next) return null;
    if (schedule.endAt && next.getTime() > new Date(schedule.endAt).getTime()) return null;
    if (!repeatsEarlierWallClock(next, schedule.timezone)) return next;
    from = next;
  }
  return null;
}

/**
 * The latest occurrence at or before `at` and after `since` (an occurrence already made), within the
 * schedule's end: what a catch-up run stands for (the `missed: once` policy). `since` when there is none.
 * croner's previous match is it unless the clocks changed around it; then nextOccurrence is walked (so
 * DST is read as everywhere else) from the largest shift before that match: the latest occurrence is
 * that match, its first pass when it is a repeated time's second, or a later jump of a gap.
 */
export function latestOccurrence(stored: Schedule, at: Date, since: Date): Date {
  const schedule = zoned(stored);
  const cron = cronOf(schedule);
  const bound = schedule.endAt ? Math.min(at.getTime(), Date.parse(schedule.endAt)) : at.getTime();
  // croner looks strictly before its reference, to the second; occurrences fall on whole minutes.
  const [previous] = cron.previousRuns(1, new Date(Math.floor(bound / 1000) * 1000 + 1000));
  // Steady: no clock change from the largest shift before that match up to `bound` (checked by the
  // offsets at both ends when they are less than a day apart: no zone changes its clocks twice in a day).
  const from = (previous?.getTime() ?? since.getTime()) - MAX_SHIFT_MS;
  const steady = !changesClocksBetween(schedule.timezone, from, bound) || (bound - from < DAY_MS && zoneOffsetMs(from, schedule.timezone) === zoneOffsetMs(bound, schedule.timezone));
  if (steady) return previous && previous.getTime() > since.getTime() ? previous : since;
  let latest = since;
  let cursor = new Date(Math.max(since.getTime(), from - 1000));
  for (let next = nextOccurrence(schedule, cursor); next && next.getTime() <= bound; next = nextOccurrence(schedule, cursor)) {
    latest = next;
    cursor = next;
  }
  return latest;
}

/** True while the schedule may make another occurrence, `made` being those made so far. */
export const underLimit = (schedule: Schedule, made: number) => schedule.limit === undefined || made < schedule.limit;

/** The next `count` occurrences after `after`, given `made` occurrences already made (for the limit). */
export function upcomingOccurrences(schedule: Schedule, after: Date, count: number, made: number): Date[] {
  const out: Date[] = [];
  let cursor = after;
  const left = schedule.limit === undefined ? count : Math.min(count, schedule.limit - made);
  while (out.length < left) {
    const next = nextOccurrence(schedule, cursor);
    if (!next) break;
    out.push(next);
    cursor = next;
  }
  return out;
}

/** Why a cron expression or time zone cannot be used, or null. */
export function invalidSchedule(cron: string, timezone: string): string | null {
  const zoneProblem = `timezone '${timezone}' is not an IANA time zone (such as Europe/London)`;
  try {
    // croner reads an empty zone as the machine's own; Intl knows exactly the IANA names.
    new Intl.DateTimeFormat("en", { timeZone: timezone });
  } catch {
    return zoneProblem;
  }
  try {
    cronOf({ cron, timezone }).nextRun();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return /timezone/i.test(message) ? zoneProblem : `cron is not valid: ${message.replace(/^CronPattern: /, "")}`;
  }
  return null;
}

/** A job's next `count` run times: its run to come, then (for a schedule that runs) the occurrences after it. */
export function nextRunsOf(job: { nextRunAt: Date | null; schedule: Schedule | null; paused: boolean; occurrences: number }, count: number): Date[] {
  if (!job.nextRunAt) return [];
  if (!job.schedule || job.paused) return [job.nextRunAt];
  try {
    return [job.nextRunAt, ...upcomingOccurrences(job.schedule, job.nextRunAt, count - 1, job.occurrences)];
  } catch {
    // A stored schedule that no longer evaluates: its run to come only (the dispatcher cancels it, saying why).
    return [job.nextRunAt];
  }
}

/** The occurrence of `schedule` that follows a cancelled one, unless the schedule stops there. */
export function followingOccurrence(schedule: Schedule | null, paused: boolean, occurrences: number, after: Date): Date | null {
  if (!schedule || paused || !underLimit(schedule, occurrences)) return null;
  try {
    return nextOccurrence(schedule, after);
  } catch {
    return null; // a stored schedule that can no longer be read makes nothing more (the dispatcher says why)
  }
}
