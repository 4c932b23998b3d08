/**
 * When a job runs, as a request says it (zod, shared by the API and the dashboard form): at a time
 * (`runAt`, ISO 8601 with an offset), after a delay (`delaySeconds`), or on a recurring `schedule`.
 */
import { z } from "zod";
import { MISSED_POLICIES, OVERLAP_POLICIES } from "../db/schema";
import { invalidSchedule, nextOccurrence } from "./occurrences";

/** How far ahead a run may be scheduled. */
export const MAX_SCHEDULE_AHEAD_SECONDS = 366 * 86_400;
/** A `runAt` this far in the past is still accepted (clock skew, a slow client) and runs at once. */
export const PAST_TOLERANCE_SECONDS = 60;

const instant = (field: string) =>
  z.iso
    .datetime({ offset: true, error: `${field} must be an ISO 8601 date and time with an offset, such as 2026-12-01T09:00:00Z or 2026-12-01T09:00:00+01:00` })
    .transform((text) => new Date(text));

/** A time in the accepted window: not (much) in the past, at most a year ahead. */
const runAt = instant("runAt").superRefine((at, ctx) => {
  const now = Date.now();
  if (at.getTime() < now - PAST_TOLERANCE_SECONDS * 1000) ctx.addIssue({ code: "custom", message: "runAt is in the past" });
  else if (at.getTime() > now + MAX_SCHEDULE_AHEAD_SECONDS * 1000) ctx.addIssue({ code: "custom", message: "runAt is more than a year ahead" });
});

const delaySeconds = z
  .number({ error: "delaySeconds must be a whole number of seconds" })
  .int("delaySeconds must be a whole number of seconds")
  .min(0, "delaySeconds must not be negative")
  .max(MAX_SCHEDULE_AHEAD_SECONDS, "delaySeconds must be at most a year (31 622 400 s)");

export const scheduleSchema = z
  .object({
    cron: z
      .string({ error: "schedule.cron must be a five-field cron expression such as 0 9 * * 1-5" })
      .trim()
      .max(200)
      .refine((c) => c.split(/\s+/).length === 5, "schedule.cron must have five fields (minute hour day-of-month month day-of-week), such as 0 9 * * 1-5"),
    timezone: z.string().trim().min(1, "schedule.timezone must name an IANA time zone (such as Europe/London), or be left out for UTC").max(64).default("UTC"),
    startAt: z.iso
      .datetime({ offset: true, error: "schedule.startAt must be an ISO 8601 date and time with an offset" })
      .refine((at) => Date.parse(at) <= Date.now() + MAX_SCHEDULE_AHEAD_SECONDS * 1000, "schedule.startAt is more than a year ahead")
      .optional(),
    endAt: z.iso.datetime({ offset: true, error: "schedule.endAt must be an ISO 8601 date and time with an offset" }).optional(),
    limit: z.number().int().min(1, "schedule.limit must be at least 1").max(1_000_000).optional(),
    missed: z.enum(MISSED_POLICIES, { error: "schedule.missed must be skip or once" }).default("skip"),
    overlap: z.enum(OVERLAP_POLICIES, { error: "schedule.overlap must be skip or allow" }).default("skip"),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (!s.timezone) return; // already reported by its own rule
    const problem = invalidSchedule(s.cron, s.timezone);
    if (problem) {
      ctx.addIssue({ code: "custom", path: [problem.startsWith("timezone") ? "timezone" : "cron"], message: `schedule.${problem}` });
      return;
    }
    if (s.startAt && s.endAt && Date.parse(s.endAt) <= Date.parse(s.startAt)) ctx.addIssue({ code: "custom", path: ["endAt"], message: "schedule.endAt must be after schedule.startAt" });
    else if (s.endAt && Date.parse(s.endAt) < Date.now()) ctx.addIssue({ code: "custom", path: ["endAt"], message: "schedule.endAt is in the past" });
    else if (!nextOccurrence(s, new Date())) ctx.addIssue({ code: "custom", path: ["cron"], message: "schedule never fires (the cron matches no date within its start and end)" });
  });

export type ScheduleInput = z.infer<typeof scheduleSchema>;

/** The timing fields of a create or an edit; at most one of them. */
export const timingFields = {
  runAt: runAt.optional(),
  delaySeconds: delaySeconds.optional(),
  schedule: scheduleSchema.nullable().optional(),
};

export const TIMING_KEYS = ["runAt", "delaySeconds", "schedule"] as const;

/** More than one of runAt, delaySeconds and schedule is a 400 naming them. */
export function oneTimingAtMost(value: Record<string, unknown>, ctx: z.core.$RefinementCtx) {
  const given = TIMING_KEYS.filter((k) => value[k] !== undefined && value[k] !== null);
  if (given.length > 1) ctx.addIssue({ code: "custom", path: [given[1]!], message: `give only one of runAt, delaySeconds and schedule (got ${given.join(" and ")})` });
}

/** When a one-off run is due, from runAt or delaySeconds (null: neither was given). */
export function dueAtOf(input: { runAt?: Date; delaySeconds?: number }, now: Date): Date | null {
  if (input.runAt) return new Date(Math.max(input.runAt.getTime(), now.getTime()));
  if (input.delaySeconds !== undefined) return new Date(now.getTime() + input.delaySeconds * 1000);
  return null;
}
