/** A schedule in words for people ("At 09:00, Monday through Friday (Europe/London)"), by cronstrue. */
import cronstrue from "cronstrue";
import type { Schedule } from "../db/schema";

export function describeSchedule(schedule: Schedule): string {
  let words: string;
  try {
    words = cronstrue.toString(schedule.cron, { use24HourTimeFormat: true, verbose: false });
  } catch {
    words = schedule.cron;
  }
  return `${words} (${schedule.timezone})`;
}
