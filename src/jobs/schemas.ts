/**
 * Request schemas for jobs, written once and shared by the JSON API and (later) the dashboard forms.
 * Body schemas are strict: an unknown or misspelt field is a 400, not silently dropped.
 */
import { createInsertSchema } from "drizzle-zod";
import { z } from "zod";
import { JOB_STATUSES, PRIORITIES, jobs } from "../db/schema";
import { cursorParam, decodeCursor, type ListName } from "../lib/pagination";
import { oneTimingAtMost, timingFields } from "../schedules/schemas";

export const TASK_NAME_MAX = 200;
export const SEARCH_MAX = 200;
export const PAGE_LIMIT_MAX = 100;

export const PAYLOAD_MAX_DEPTH = 20;

/** Characters that draw nothing on their own: blanks, controls, format characters (zero-width, BOM), marks. */
const INVISIBLE = /^[\p{White_Space}\p{Cc}\p{Cf}\p{M}\u115F\u1160\u3164\uFFA0\u2800]*$/u;
/** Bidirectional controls reorder the text around them, so a name could display as something else (U+202E). */
const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;

const taskName = z
  .string({ error: (iss) => (iss.input === undefined ? "taskName is required" : "taskName must be a string") })
  .trim()
  .min(1, "taskName must not be empty")
  .max(TASK_NAME_MAX, `taskName must be at most ${TASK_NAME_MAX} characters`)
  .refine((s) => !/[\u0000-\u001f\u007f-\u009f]/.test(s), "taskName must not contain control characters (such as NUL or newlines)")
  .refine((s) => s.isWellFormed(), "taskName must be valid Unicode (no lone surrogates)")
  .refine((s) => !INVISIBLE.test(s), "taskName must contain a visible character (not only spaces, zero-width or other invisible characters)")
  .refine((s) => !BIDI_CONTROLS.test(s), "taskName must not contain bidirectional control characters (such as U+202E)");

/** Nesting depth within bounds and no `__proto__` key anywhere (walked without recursion). */
function checkJsonShape(value: unknown, ctx: z.core.$RefinementCtx) {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    if (depth > PAYLOAD_MAX_DEPTH) {
      ctx.addIssue({ code: "custom", message: `payload is nested deeper than ${PAYLOAD_MAX_DEPTH} levels` });
      return;
    }
    for (const [key, child] of Object.entries(node)) {
      if (key === "__proto__") {
        ctx.addIssue({ code: "custom", message: "payload must not use the key __proto__" });
        return;
      }
      stack.push([child, depth + 1]);
    }
  }
}

// The shape is checked on the parsed JSON as it came: a `__proto__` key would not survive into a record.
const payload = z
  .unknown()
  .superRefine(checkJsonShape)
  .pipe(z.record(z.string(), z.unknown(), { error: "payload must be a JSON object (not an array, string or null)" }));

/** Accepts `HIGH`, `high`, ... and names the allowed values when it fails. */
const upperEnum = <T extends readonly [string, ...string[]]>(name: string, values: T) =>
  z.preprocess(
    (v) => (typeof v === "string" ? v.trim().toUpperCase() : v),
    z.enum(values, { error: `${name} must be one of ${values.join(", ")}` }),
  );

const insertJob = createInsertSchema(jobs, {
  taskName: () => taskName,
  payload: () => payload,
  priority: () => upperEnum("priority", PRIORITIES),
});

/** Where the job's webhooks go (checked again against the target rules when it is used); null: WEBHOOK_URL. */
const webhookUrl = z
  .url({ protocol: /^https?$/, error: "webhookUrl must be an http(s) URL" })
  .max(2000, "webhookUrl must be at most 2000 characters");

/** The fields a job has beside its definition: where its webhooks go, and when it runs. */
const extraFields = {
  webhookUrl: webhookUrl.nullable().optional(),
  notifyOnCancel: z.boolean({ error: "notifyOnCancel must be true or false" }).optional(),
  ...timingFields,
};

const createJobObject = insertJob
  .pick({ taskName: true, payload: true, priority: true })
  .extend({ payload: payload.default({}), priority: upperEnum("priority", PRIORITIES).default("MEDIUM"), ...extraFields })
  .strict();

export const createJobSchema = createJobObject.superRefine(oneTimingAtMost).meta({
  examples: [
    { taskName: "send-welcome-email", payload: { to: "ada@example.com" }, priority: "HIGH" },
    { taskName: "nightly-report", payload: { format: "pdf" }, schedule: { cron: "0 2 * * *", timezone: "Europe/London" } },
    { taskName: "reminder", payload: { userId: 42 }, delaySeconds: 3600, webhookUrl: "https://example.com/hooks/jobs" },
  ],
});

export { payload as payloadSchema };

const EDITABLE = ["taskName", "payload", "priority", "webhookUrl", "notifyOnCancel", "runAt", "delaySeconds", "schedule"];

export const updateJobSchema = insertJob
  .pick({ taskName: true, payload: true, priority: true })
  .partial()
  .extend(extraFields)
  .strict()
  .refine((v) => Object.keys(v).length > 0, `Provide at least one of ${EDITABLE.join(", ")}`)
  .superRefine(oneTimingAtMost);

export type CreateJobInput = z.infer<typeof createJobSchema>;
export type UpdateJobInput = z.infer<typeof updateJobSchema>;

/**
 * A whole number from a query string, with a message that names the parameter and the range. Only
 * plain digits become a number ("01" is 1); any other text ("1.5", "-1", "1e3", " 1") reaches the
 * number check unchanged and is refused. The document shows the number check (an integer with its
 * range and default), so a generated client sends a number, not text.
 */
const intParam = (name: string, min: number, max: number, fallback: number) => {
  const wholeNumber = `${name} must be a whole number between ${min} and ${max}`;
  return z
    .preprocess(
      (v) => (v === "" || v === undefined ? undefined : typeof v === "string" && /^\d{1,9}$/.test(v) ? Number(v) : v),
      z
        .number({ error: wholeNumber })
        .int(wholeNumber)
        .min(min, `${name} must be at least ${min}`)
        .max(max, `${name} must be at most ${max}`)
        .default(fallback),
    )
    .meta({ description: `A whole number from ${min} to ${max}; default ${fallback}` });
};

const optionalEnum = <T extends readonly [string, ...string[]]>(name: string, values: T) =>
  z.preprocess((v) => (v === "" ? undefined : v), upperEnum(name, values).optional());

export const pageQuery = {
  limit: intParam("limit", 1, PAGE_LIMIT_MAX, 10),
  page: intParam("page", 1, 1_000_000, 1),
};

/** A page by number (`page`) or by cursor (`cursor`, from the answer's pagination) of the list `list`. */
export const pageQueryOf = (list: ListName) => ({ ...pageQuery, cursor: cursorParam(list) });

const listJobsObject = z.object({
  ...pageQueryOf("jobs"),
  search: z
    .string()
    .trim()
    .max(SEARCH_MAX, `search must be at most ${SEARCH_MAX} characters`)
    .optional()
    .transform((v) => v || undefined),
  status: optionalEnum("status", JOB_STATUSES),
  priority: optionalEnum("priority", PRIORITIES),
  sort: z.preprocess(
    (v) => (v === "" ? undefined : v),
    z.enum(["newest", "oldest"], { error: "sort must be newest or oldest" }).default("newest"),
  ),
  /** `exact`: count every match (by default a list counts ten pages ahead and stops; see docs/api.md#counts). */
  count: z.preprocess(
    (v) => (v === "" ? undefined : v),
    z.enum(["bounded", "exact"], { error: "count must be bounded or exact" }).default("bounded"),
  ),
});

/** A cursor reads on in the order it was made in: with another `sort` it would jump, so it is refused. */
export const listJobsQuery = listJobsObject.superRefine((q, ctx) => {
  const made = q.cursor === undefined ? undefined : decodeCursor(q.cursor)?.sort;
  if (made !== undefined && made !== q.sort) ctx.addIssue({ code: "custom", path: ["cursor"], message: `cursor belongs to the list sorted ${made}, not ${q.sort}` });
});

export const EXPORT_FORMATS = ["csv", "ndjson"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** An export: the list's filters and order (no page: every match), and the file format (CSV by default). */
export const exportJobsQuery = listJobsObject.pick({ search: true, status: true, priority: true, sort: true }).extend({
  format: z.preprocess(
    (v) => (v === "" || v === undefined ? undefined : typeof v === "string" ? v.trim().toLowerCase() : v),
    z.enum(EXPORT_FORMATS, { error: `format must be one of ${EXPORT_FORMATS.join(", ")}` }).default("csv"),
  ),
});

export type ExportJobsQuery = z.infer<typeof exportJobsQuery>;

/** The original `GET /get-jobs`: its clients loop over `totalPages`, so its totals are always exact. */
export const legacyListJobsQuery = listJobsQuery.transform((q) => ({ ...q, count: "exact" as const }));

export const listLogsQuery = z.object({
  ...pageQueryOf("logs"),
  jobId: z.preprocess((v) => (v === "" ? undefined : v), z.string().trim().max(64).optional()),
  outcome: z.preprocess(
    (v) => (v === "" ? undefined : v),
    z.enum(["success", "failure"], { error: "outcome must be success or failure" }).optional(),
  ),
});

export type ListJobsQuery = z.infer<typeof listJobsQuery>;

export const BULK_RUN_MAX = 100;

const bulkIds = z
  .array(z.string().min(1).max(64), { error: "ids must be an array of job ids" })
  .min(1, "ids must name at least one job")
  .max(BULK_RUN_MAX, `ids may name at most ${BULK_RUN_MAX} jobs per call`)
  .refine((ids) => new Set(ids).size === ids.length, "ids must not repeat a job");

export const bulkRunSchema = z.object({ ids: bulkIds }).strict();

export const BULK_ACTIONS = ["run", "cancel", "pause", "resume", "delete"] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];

export const bulkActionSchema = z
  .object({
    action: z.enum(BULK_ACTIONS, { error: `action must be one of ${BULK_ACTIONS.join(", ")}` }),
    ids: bulkIds,
  })
  .strict();

/** `Idempotency-Key`: 1-255 visible ASCII characters. */
export const idempotencyKey = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/, "Idempotency-Key must be 1 to 255 visible ASCII characters")
  .optional();

export const jobIdParam = z.object({
  id: z.string().min(1).max(64, "job id must be at most 64 characters"),
});

/** A run's id: digits only, no leading zero; documented as the integer it is. */
const RUN_ID = /^[1-9]\d{0,14}$/;
const runIdMessage = "run id must be a positive whole number";

export const runIdParam = z.object({
  runId: z.preprocess(
    (v) => (typeof v === "string" && RUN_ID.test(v) ? Number(v) : v),
    z.number({ error: runIdMessage }).int(runIdMessage).min(1, runIdMessage).max(999_999_999_999_999, runIdMessage),
  ),
});
