/**
 * A job's timing as statements for the batch that creates or edits it: a one-off run at a time or
 * after a delay, or the first occurrence of a recurring schedule. An edit first cancels the runs still
 * to come (a SCHEDULED run is a plan, not a run: nothing ran), so a job has one timing at a time.
 */
import type { Db } from "../db/client";
import type { Schedule } from "../db/schema";
import { expectedStart } from "../runs/dispatch";
import { insertRuns, type NewRun } from "../runs/lifecycle";
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

/** The run a timing asks for, as a statement (it makes nothing for an empty list). */
export const insertTimingRun = (db: Db, timing: Timing) => insertRuns(db, timing.run ? [timing.run] : []);
