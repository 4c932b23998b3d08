/**
 * Schedules in words for people: a cron as cronstrue reads it ("At 09:00, Monday through Friday"),
 * and what is wrong with a cron, said of the field a person typed ("minute 61 is out of range, 0-59").
 */
import cronstrue from "cronstrue";
import type { Schedule } from "../db/schema";

/** The cron in words; null when cronstrue cannot read it. */
export function cronInWords(cron: string): string | null {
  try {
    return cronstrue.toString(cron, { use24HourTimeFormat: true, verbose: false });
  } catch {
    return null;
  }
}

export function describeSchedule(schedule: Schedule): string {
  return `${cronInWords(schedule.cron) ?? schedule.cron} (${schedule.timezone})`;
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/** The five fields in order: their names for people, their ranges, the names they also accept (numbered from `min`). */
const CRON_FIELDS = [
  { name: "minute", min: 0, max: 59, names: [] as string[] },
  { name: "hour", min: 0, max: 23, names: [] },
  { name: "day of the month", min: 1, max: 31, names: [] },
  { name: "month", min: 1, max: 12, names: MONTHS },
  { name: "weekday", min: 0, max: 7, names: WEEKDAYS },
];

/**
 * What is wrong with `cron`, in a person's words, naming the field and the value; null when these plain
 * checks find nothing (the caller then says what the cron library said). Croner's extras (L, W, #, ?)
 * are left to croner.
 */
export function cronProblemInWords(cron: string): string | null {
  const fields = cron.trim().split(/\s+/).filter(Boolean);
  if (fields.length === 0) return "enter a cron such as 0 9 * * 1-5 (09:00, Monday to Friday)";
  if (fields.length !== 5) return `a cron has five fields (minute hour day month weekday); this one has ${fields.length}`;
  for (const [i, text] of fields.entries()) {
    const { name, min, max, names } = CRON_FIELDS[i]!;
    if (/[LW#?]/i.test(text)) continue;
    for (const item of text.split(",")) {
      const [range = "", step, extra] = item.split("/");
      if (extra !== undefined || (step !== undefined && !/^[1-9]\d*$/.test(step))) return `${name}: the step in ${item} must be a whole number from 1, as in */15`;
      if (range === "*") continue;
      const bounds = range.split("-");
      if (bounds.length > 2 || bounds.includes("")) return `${name} ${item} is not a value, a range (1-5), a list (1,15) or a step (*/15)`;
      const values: number[] = [];
      for (const bound of bounds) {
        const named = names.indexOf(bound.toUpperCase());
        const value = /^\d+$/.test(bound) ? Number(bound) : named >= 0 ? named + min : undefined;
        if (value === undefined) return `${name} ${bound} is not a number${names.length ? ` or a name such as ${names[0]}` : ""}`;
        if (value < min || value > max) return `${name} ${value} is out of range, ${min}-${max}`;
        values.push(value);
      }
      if (values.length === 2 && values[0]! > values[1]!) return `${name} range ${range} runs backwards: write it low to high, such as ${values[1]}-${values[0]}`;
    }
  }
  return null;
}
