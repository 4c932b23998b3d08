/**
 * A job's timing as statements for the batch that creates or edits it: a one-off run at a time or
 * after a delay, or the first occurrence of a recurring schedule. An edit first cancels the runs still
 * to come (a SCHEDULED run is a plan, not a run: nothing ran), so a job has one timing at a time.
 */
import { and, inArray, sql } from "drizzle-orm";
import { jsonValues } from "../db/json-rows";
import type { Db } from "../db/client";
import { runs, type Schedule } from "../db/schema";
import { expectedStart } from "../runs/dispatch";
import { insertRuns, scheduled, type NewRun } from "../runs/transitions";
import { nextOccurrence } from "./occurrences";
import { dueAtOf } from "./schemas";

export interface TimingInput {
  runAt?: Date;
  delaySeconds?: number;
  /** null removes the job's schedule. */
  schedule?: Schedule | null;
}

/** What a timing input asks for: the run to make (if any) and the job's schedule fields (if they change). */
export interface Timing {
  run: NewRun | null;
  /** undefined: the job's schedule is left as it is. */
  schedule?: { schedule: Schedule | null; paused: false; scheduleCursor: Date | null; occurrences: number };
  /** Its runs still to come are cancelled first, with this reason. */
  replaces: string | null;
}

export function timingOf(jobId: string, input: TimingInput, now: Date): Timing {
  const dueAt = dueAtOf(input, now);
  if (dueAt) {
    return {
      run: { jobId, dueAt, occurrenceAt: null, expectedAt: expectedStart(dueAt, now) },
      schedule: { schedule: null, paused: false, scheduleCursor: null, occurrences: 0 },
      replaces: "rescheduled: the job was given a new time",
    };
  }
  if (input.schedule === null) return { run: null, schedule: { schedule: null, paused: false, scheduleCursor: null, occurrences: 0 }, replaces: "the job's schedule was removed" };
  if (input.schedule) {
    const first = nextOccurrence(input.schedule, now);
    return {
      run: first ? { jobId, dueAt: first, occurrenceAt: first, expectedAt: expectedStart(first, now) } : null,
      schedule: { schedule: input.schedule, paused: false, scheduleCursor: first, occurrences: first ? 1 : 0 },
      replaces: "the job's schedule changed",
    };
  }
  return { run: null, replaces: null };
}

/**
 * Cancels a job's runs still to come (SCHEDULED, through runs_job_scheduled_idx): its schedule's
 * occurrences, and its one-off runs set for later unless `occurrencesOnly` (a "run now" waiting for a
 * slot is a request to run, not a plan, and stays).
 */
export function cancelScheduledOf(db: Db, jobIds: string[], reason: string, now: Date, { occurrencesOnly = false } = {}) {
  const which = occurrencesOnly ? sql`${runs.occurrenceAt} IS NOT NULL` : sql`(${runs.occurrenceAt} IS NOT NULL OR ${runs.dueAt} > ${now.getTime()})`;
  return db
    .update(runs)
    .set({ status: "CANCELLED", completedAt: now, expectedAt: null, failureReason: reason })
    .where(and(inArray(runs.jobId, jsonValues(jobIds)), scheduled, which))
    .returning();
}

/** The run a timing asks for, as a statement (it makes nothing for an empty list). */
export const insertTimingRun = (db: Db, timing: Timing) => insertRuns(db, timing.run ? [timing.run] : []);
