/**
 * The response bodies of the API, as zod schemas for the OpenAPI document: derived from the Drizzle
 * tables (drizzle-zod), shaped as the views in runs/views.ts and webhooks/log.ts shape them.
 * Times are ISO 8601 strings on the wire (Date objects serialize so). A test checks real responses
 * against the document, so a view that drifts from these fails it.
 */
import { createSelectSchema } from "drizzle-zod";
import { z } from "zod";
import { deliveries, DELIVERY_STATES, JOB_STATUSES, jobs, MISSED_POLICIES, OVERLAP_POLICIES, PRIORITIES, RUN_STATUSES, runs, WEBHOOK_EVENTS, webhookLogs } from "../db/schema";

const payload = z.record(z.string(), z.unknown()).meta({ description: "The job's JSON object, as given", examples: [{ to: "ada@example.com" }] });

const schedule = z
  .object({
    cron: z.string().meta({ examples: ["0 9 * * 1-5"] }),
    timezone: z.string().meta({ examples: ["Europe/London"] }),
    startAt: z.string().optional(),
    endAt: z.string().optional(),
    limit: z.number().int().optional(),
    missed: z.enum(MISSED_POLICIES),
    overlap: z.enum(OVERLAP_POLICIES),
  })
  .meta({ id: "Schedule", description: "A recurring schedule: five-field cron read in an IANA time zone" });

export const delivery = createSelectSchema(deliveries)
  .omit({ webhookId: true, body: true, leaseUntil: true })
  .extend({ id: z.string().meta({ description: "The webhook-id, the same on every attempt (receivers de-duplicate on it)", examples: ["whd_ck2x9f3a7_1"] }) })
  .meta({ id: "Delivery", description: "The webhook a finished run owes" });

const runRow = createSelectSchema(runs, { payload: () => payload }).omit({ occurrenceKey: true });

/** The latest run as a job shows it: no copy of what ran. */
const runSummary = runRow.omit({ taskName: true, payload: true, priority: true }).extend({ delivery: delivery.nullable() }).meta({ id: "RunSummary" });

export const job = createSelectSchema(jobs, { payload: () => payload, schedule: () => schedule.nullable() })
  .extend({ latestRun: runSummary.nullable().meta({ description: "Its latest run; null before the first" }) })
  .meta({ id: "Job" });

export const jobWithNextRuns = job.extend({ nextRuns: z.array(z.date()).meta({ description: "The next run times (up to 5)" }) }).meta({ id: "JobWithNextRuns" });

export const run = runRow.extend({ delivery: delivery.nullable() }).meta({ id: "Run", description: "One execution of a job, with what ran frozen" });

// deliveryId is stored only where it differs from its delivery's webhook-id; reads always fill it in.
export const log = createSelectSchema(webhookLogs, { requestBody: () => z.unknown(), responseBody: () => z.unknown(), deliveryId: () => z.string() }).meta({
  id: "WebhookLog",
  description: "One attempt of a delivery: the exact bytes sent and what came back",
});

export const listedLog = log
  .extend({
    taskName: z.string(),
    runNumber: z.number().int().nullable(),
    jobDeleted: z.boolean().meta({ description: "The job was deleted since: its attempts stay listed until they are purged, within minutes of its last webhook" }),
  })
  .meta({ id: "ListedWebhookLog" });

export const runDetail = runRow
  .extend({
    delivery: delivery.extend({ body: z.unknown().meta({ description: "The exact body sent, parsed" }) }).nullable(),
    attempts: z.array(log),
  })
  .meta({ id: "RunDetail" });

const pagination = z
  .object({
    page: z.number().int(),
    limit: z.number().int(),
    total: z.number().int().meta({ description: "Counted ten pages ahead of this page and no further: a lower bound when totalExact is false" }),
    totalPages: z.number().int().meta({ description: "At least this many pages when the total is not exact" }),
    totalExact: z.boolean().meta({ description: "False when the count stopped ten pages ahead (GET /api/jobs: ask count=exact)" }),
    nextCursor: z.string().nullable().meta({ description: "Pass as `cursor` to read the next page, at any depth for the cost of one page; null on the last page" }),
    prevCursor: z.string().nullable().meta({ description: "Pass as `cursor` to read the page before; null on the first page" }),
  })
  .meta({ id: "Pagination" });

/** `{ success: true, message?, data }`. */
export const ok = <T extends z.ZodType>(data: T) => z.object({ success: z.literal(true), message: z.string().optional(), data });

/** `{ success: true, data: [...], pagination }`. */
export const page = <T extends z.ZodType>(item: T) => z.object({ success: z.literal(true), data: z.array(item), pagination });

export const errorBody = z
  .object({
    success: z.literal(false),
    message: z.string().meta({ description: "What went wrong, for a person" }),
    errors: z
      .array(z.object({ field: z.string().nullable(), message: z.string() }))
      .optional()
      .meta({ description: "Validation errors: each failing field and why" }),
  })
  .meta({ id: "Error", examples: [{ success: false, message: "Invalid request body: taskName: taskName is required", errors: [{ field: "taskName", message: "taskName is required" }] }] });

export const bulkResult = z
  .object({
    done: z.array(z.string()),
    refused: z.array(z.object({ id: z.string(), message: z.string() })),
    notFound: z.array(z.string()),
  })
  .meta({ id: "BulkResult" });

export const bulkRunResult = z
  .object({
    started: z.array(z.object({ id: z.string(), runId: z.number().int(), runNumber: z.number().int(), status: z.enum(RUN_STATUSES), startedAt: z.date().nullable() })),
    inProgress: z.array(z.string()),
    notFound: z.array(z.string()),
  })
  .meta({ id: "BulkRunResult" });

const check = z.object({ ok: z.boolean(), ms: z.number() });

export const readiness = z.object({
  success: z.boolean(),
  message: z.string().optional(),
  data: z.object({ status: z.enum(["ok", "failing"]), checks: z.object({ config: check, d1: check }) }),
});

export const deleted = z.object({ id: z.string() }).meta({ id: "Deleted" });

/** A run call's answer: the job, and its status beside it (as the original `POST /run-job` answered). */
export const started = ok(job).extend({ status: z.enum(JOB_STATUSES).meta({ description: "IN_PROGRESS, or SCHEDULED while every slot is busy" }) });

/** What a receiver gets (the bytes come from webhooks/body.ts; a test checks a real one against this). */
export const webhookBody = z
  .object({
    event: z.enum(WEBHOOK_EVENTS),
    deliveryId: z.string().meta({ description: "Equal to the webhook-id header: the same on every attempt of this run's delivery" }),
    jobId: z.string(),
    runId: z.number().int(),
    runNumber: z.number().int(),
    taskName: z.string(),
    priority: z.enum(PRIORITIES),
    payload: z.union([payload, z.string()]),
    status: z.enum(["COMPLETED", "FAILED", "CANCELLED"]),
    dueAt: z.string(),
    startedAt: z.string().nullable(),
    completedAt: z.string().nullable(),
    failureReason: z.string().nullable(),
  })
  .strict()
  .meta({ id: "WebhookBody", description: "The body POSTed when a run finishes, signed as Standard Webhooks" });

const counts = <K extends string>(keys: readonly K[]) => z.object(Object.fromEntries(keys.map((k) => [k, z.number().int()])) as Record<K, z.ZodNumber>);
const hourCounts = { started: z.number().int(), completed: z.number().int(), failed: z.number().int(), cancelled: z.number().int() };

export const stats = z
  .object({
    generatedAt: z.date(),
    since: z.date().meta({ description: "Start of the window the hourly figures cover (whole hours)" }),
    windowHours: z.number().int(),
    countLimit: z.number().int().meta({ description: "Counts stop here: a count equal to it means that many or more" }),
    jobs: z.object({
      total: z.number().int(),
      totalExact: z.boolean().meta({ description: "False when a status reached countLimit: the total is a lower bound" }),
      byStatus: counts(JOB_STATUSES).meta({ description: "Each counted up to countLimit" }),
    }),
    runs: z.object({
      inProgress: z.number().int(),
      waiting: z.object({ count: z.number().int(), oldestDueAt: z.date().nullable(), oldestWaitMs: z.number().nullable() }).meta({ description: "Due runs not started yet" }),
      hourly: z.array(z.object({ hour: z.date(), ...hourCounts })),
      totals: z.object(hourCounts),
    }),
    deliveries: z.object({
      sample: z.object({ runs: z.number().int(), limit: z.number().int() }).meta({ description: "The runs the webhook figures cover: the latest finished in the window, at most `limit`" }),
      byState: counts(DELIVERY_STATES).meta({ description: "The webhooks of the sample's runs, by state" }),
      lagMs: z.object({ p50: z.number().nullable(), p95: z.number().nullable(), samples: z.number().int() }).meta({ description: "Run finished -> webhook delivered" }),
      backlog: z
        .object({ pending: z.number().int(), sending: z.number().int(), retrying: z.number().int(), nextAttemptAt: z.date().nullable(), exact: z.boolean() })
        .meta({ description: "Deliveries under way; when exact is false, the countLimit due soonest" }),
    }),
  })
  .meta({ id: "Stats" });

/** An export: the file itself (CSV with a header line, or NDJSON: one job object per line). */
export const exportFile = z.string().meta({ description: "CSV (header line first) or NDJSON (one job per line), streamed" });
