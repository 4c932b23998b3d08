/**
 * The dashboard's words for a form's errors. The form applies the API's rules (jobs/form.ts), whose
 * messages name request fields ("schedule.cron is not valid: Invalid value for minute: 61"); a person
 * reads them beside the field they typed in, in terms of what they typed ("minute 61 is out of range,
 * 0-59"). A message with no wording of its own here is shown as the API says it.
 */
import { cronProblemInWords } from "../schedules/describe";
import type { JobFormFields } from "./form";

type Wording = [pattern: RegExp, words: (values: JobFormFields) => string];

const A_DATE_AND_TIME = "enter a date and time";

const WORDINGS: Partial<Record<keyof JobFormFields, Wording[]>> = {
  taskName: [[/must not be empty/, () => "give the job a name"]],
  payload: [[/must be a JSON object/, () => 'the payload must be a JSON object, such as {"email": "ada@example.com"}, or left empty']],
  cron: [
    [/five fields|five-field|is not valid/, (v) => cronProblemInWords(v.cron) ?? "this is not a cron that can run: five fields (minute hour day month weekday), such as 0 9 * * 1-5"],
    [/never fires/, () => "this cron matches no date between the start and the end"],
  ],
  timezone: [[/IANA/, (v) => `${v.timezone.trim() || "this"} is not a time zone: use a name such as Europe/London or America/New_York`]],
  runAt: [
    [/in the past/, () => "this time has passed: choose a time from now on"],
    [/more than a year ahead/, () => "choose a time within a year from now"],
    [/ISO 8601/, () => A_DATE_AND_TIME],
  ],
  delaySeconds: [
    [/at most a year/, () => "at most a year (31 622 400 seconds)"],
    [/whole number|negative/, () => "enter a whole number of seconds, 0 or more"],
  ],
  startAt: [
    [/more than a year ahead/, () => "start within a year from now"],
    [/ISO 8601/, () => A_DATE_AND_TIME],
  ],
  endAt: [
    [/after schedule.startAt/, () => "the end must come after the start"],
    [/in the past/, () => "this end has passed already"],
    [/ISO 8601/, () => A_DATE_AND_TIME],
  ],
  limit: [
    [/too big|<=/i, () => "at most 1 000 000 runs"],
    [/at least/, () => "at least 1 run, or leave it empty"],
    [/expected/, () => "a whole number of runs, such as 10"],
  ],
};

/** The fields' names as the form labels them, for the messages that have no wording of their own. */
const LABELS: Record<string, string> = { taskName: "the task name", payload: "the payload", webhookUrl: "the webhook URL" };

/** The error beside `field` in a person's words, for the API's `message` about it. */
export function inWords(field: string, message: string, values: JobFormFields): string {
  const wording = WORDINGS[field as keyof JobFormFields]?.find(([pattern]) => pattern.test(message));
  if (wording) return wording[1](values);
  return message.replace(/^schedule\./, "").replace(/^(taskName|payload|webhookUrl)\b/, (name) => LABELS[name]!);
}
