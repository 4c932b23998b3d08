/**
 * The dashboard's job form: its fields (all text, as a form sends them) turned into the API's request
 * shape, then checked by the API's own schemas, so the form applies every rule the API applies. The
 * payload is JSON text (empty means {}); times are the form's local date-times in its time zone.
 */
import { z } from "zod";
import { parseJsonText } from "../lib/json";
import { clockChange, zoneOffsetMs } from "../lib/zones";
import { createJobSchema, updateJobSchema } from "./schemas";

export const WHEN = ["keep", "none", "at", "delay", "schedule", "unschedule"] as const;
export type When = (typeof WHEN)[number];

const text = z.string().default("");

export const jobFormFields = z.object({
  taskName: text,
  priority: text,
  payload: text,
  when: z.enum(WHEN).catch("keep"),
  runAt: text,
  delaySeconds: text,
  cron: text,
  timezone: text,
  startAt: text,
  endAt: text,
  limit: text,
  missed: text,
  overlap: text,
  webhookUrl: text,
  notifyOnCancel: z.string().optional(),
});

export type JobFormFields = z.infer<typeof jobFormFields>;

/**
 * "2026-12-01T09:00" in `timezone` as an ISO instant; the text itself when it is not such a date-time.
 * As schedules do across daylight saving time: a time that happens twice is its first pass; a time in
 * the spring-forward gap is the first valid instant after it (the moment the clocks jump).
 */
export function localToIso(local: string, timezone: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(local.trim());
  if (!m) return local.trim();
  const wall = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +(m[6] ?? 0));
  try {
    // The offsets in force around that day; each gives a candidate instant that shows this wall time, or not.
    const offsets = [zoneOffsetMs(wall - 86_400_000, timezone), zoneOffsetMs(wall + 86_400_000, timezone)];
    const fits = offsets.map((offset) => wall - offset).filter((at) => wall - zoneOffsetMs(at, timezone) === at);
    if (fits.length > 0) return new Date(Math.min(...fits)).toISOString();
    // In the gap: the first instant after it, the clock change between the two candidates.
    const [lo, hi] = [Math.min(wall - offsets[0]!, wall - offsets[1]!), Math.max(wall - offsets[0]!, wall - offsets[1]!)];
    return new Date(clockChange(lo, hi, timezone)).toISOString();
  } catch {
    return local.trim(); // an unknown time zone: the schema names it
  }
}

/** The API's request body for what the form says (a payload that does not parse is reported with the rest). */
function toRequest(f: JobFormFields, creating: boolean): { body: Record<string, unknown>; payloadError: string | null } {
  const body: Record<string, unknown> = {};
  if (f.taskName !== "" || creating) body.taskName = f.taskName;
  body.priority = f.priority || "MEDIUM";
  const parsed = f.payload.trim() === "" ? { value: {} } : parseJsonText(f.payload);
  body.payload = "error" in parsed ? {} : parsed.value;
  const url = f.webhookUrl.trim();
  body.webhookUrl = url === "" ? (creating ? undefined : null) : url;
  body.notifyOnCancel = f.notifyOnCancel === "on" || f.notifyOnCancel === "true";
  const timezone = f.timezone.trim() || "UTC";
  if (f.when === "at") body.runAt = localToIso(f.runAt, timezone);
  if (f.when === "delay") body.delaySeconds = /^\d+$/.test(f.delaySeconds.trim()) ? Number(f.delaySeconds) : f.delaySeconds;
  if (f.when === "unschedule") body.schedule = null;
  if (f.when === "schedule") {
    body.schedule = {
      cron: f.cron,
      timezone,
      ...(f.startAt.trim() ? { startAt: localToIso(f.startAt, timezone) } : {}),
      ...(f.endAt.trim() ? { endAt: localToIso(f.endAt, timezone) } : {}),
      ...(f.limit.trim() ? { limit: /^\d+$/.test(f.limit.trim()) ? Number(f.limit) : f.limit } : {}),
      missed: f.missed || "skip",
      overlap: f.overlap || "skip",
    };
  }
  return { body, payloadError: "error" in parsed ? `payload ${parsed.error}` : null };
}

/** The form's fields that were sent more than once (taskName=a&taskName=b): no form does that, and neither value is guessed at. */
export const repeatedFields = (raw: Record<string, unknown>) => Object.keys(jobFormFields.shape).filter((field) => Array.isArray(raw[field]));

/** The fields to show again after a failure, whatever was sent: a repeated field's first value, anything but text left out. */
export function formValuesOf(raw: Record<string, unknown>): JobFormFields {
  const sent = Object.entries(raw).map(([field, value]) => [field, Array.isArray(value) ? value[0] : value]);
  return jobFormFields.parse(Object.fromEntries(sent.filter(([, value]) => typeof value === "string")));
}

/** The form checked by the API's schema; every problem is reported at once, each under its API field. */
const formOf = <S extends typeof createJobSchema | typeof updateJobSchema>(schema: S, creating: boolean) =>
  z
    .record(z.string(), z.unknown())
    .superRefine((raw, ctx) => {
      for (const field of repeatedFields(raw)) ctx.addIssue({ code: "custom", path: [field], message: `${field} was given more than once` });
    })
    .pipe(
      jobFormFields.transform((f, ctx): z.output<S> => {
        const { body, payloadError } = toRequest(f, creating);
        const checked = schema.safeParse(body);
        if (payloadError) ctx.addIssue({ code: "custom", path: ["payload"], message: payloadError });
        for (const issue of checked.error?.issues ?? []) {
          if (!(payloadError && issue.path[0] === "payload")) ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
        }
        return payloadError || !checked.success ? z.NEVER : (checked.data as z.output<S>);
      }),
    );

export const jobCreateForm = formOf(createJobSchema, true);
export const jobEditForm = formOf(updateJobSchema, false);
