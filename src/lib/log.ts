/**
 * Structured logs: one JSON object per line, which Workers Logs (wrangler.toml [observability]) indexes
 * field by field, so a run or a delivery can be followed by its ids. One line per request, per run
 * transition and per delivery attempt; nothing else logs on the happy path. Failures go through
 * `logFailure`, which never prints a value (see errorFields).
 */
import { DrizzleQueryError } from "drizzle-orm/errors";
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { Run } from "../db/schema";
import { ConfigError } from "../env";

export type LogEventName =
  | "request"
  | "run.started"
  | "run.scheduled"
  | "run.completed"
  | "run.failed"
  | "run.cancelled"
  | "delivery.attempt"
  | "sweep"
  | "retention";

export function logEvent(event: LogEventName, fields: Record<string, unknown>) {
  console.log(JSON.stringify({ event, ...fields }));
}

/** A run's identity in every line about it: its job, its id and its number within the job. */
export const runFields = (run: Pick<Run, "jobId" | "id" | "number">) => ({ jobId: run.jobId, runId: run.id, run: run.number });

/** Runs that just started: each with how long it waited past its due time (its queue wait). */
export function logStarted(started: Run[]) {
  for (const run of started) {
    logEvent("run.started", { ...runFields(run), priority: run.priority, waitMs: run.startedAt ? run.startedAt.getTime() - run.dueAt.getTime() : null });
  }
}

/** Runs made SCHEDULED: each with when it is due. */
export function logScheduled(made: Run[]) {
  for (const run of made) if (run.status === "SCHEDULED") logEvent("run.scheduled", { ...runFields(run), priority: run.priority, dueAt: run.dueAt.toISOString() });
}

/** Runs cancelled (by a person, an edit or a schedule's policy), each with the reason. */
export function logCancelled(cancelled: Run[]) {
  for (const run of cancelled) logEvent("run.cancelled", { ...runFields(run), reason: run.failureReason });
}

/**
 * The pattern of the route the request was for (`/api/jobs/:id/run`), even when a middleware answered
 * it (a 401, a 429): the last matching route registered for its method; else the middleware's (`/*`).
 */
function routeOf(c: Context) {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) if (routes[i]!.method !== "ALL") return routes[i]!.path;
  return routes.at(-1)?.path ?? null;
}

/** One line per request: its path, the route pattern (to group by), its status and duration. */
export const requestLog = (): MiddlewareHandler => async (c, next) => {
  const started = Date.now();
  await next();
  logEvent("request", {
    method: c.req.method,
    path: new URL(c.req.url).pathname,
    route: routeOf(c),
    status: c.res.status,
    durationMs: Date.now() - started,
    ray: c.req.header("cf-ray") ?? null,
  });
};

/**
 * Work that failed: named, with the ids it concerns. Most is recovered later (the sweep, a retry); a
 * request that failed is a bug answered with a 500, and a handler that failed counts as failed.
 */
export type FailureEventName =
  | "sweep.phase_failed"
  | "dispatch.failed"
  | "queue.send_failed"
  | "consumer.batch_failed"
  | "consumer.read_failed"
  | "consumer.message_failed"
  | "dead_letter.failed"
  | "request.failed"
  | "export.failed"
  | "readiness.check_failed"
  | "handler.failed";

/**
 * One line per failure, with the ids it concerns and what kind of error it was (errorFields: never a
 * statement's bound values, which may carry a user's payload).
 */
export function logFailure(event: FailureEventName, fields: Record<string, unknown>, err: unknown) {
  console.error(JSON.stringify({ event, ...fields, error: errorFields(err) }));
}

/** Longest reason kept in an error line (a database reason is a few words; anything longer is noise). */
const REASON_MAX_CHARS = 300;

/** Stack frames kept: where the error came from, enough to find the bug. */
const FRAMES_KEPT = 8;

export interface ErrorFields {
  /** DrizzleQueryError, D1_ERROR, TypeError, ... */
  kind: string;
  /** The statement that failed, as its verb and tables ("insert inbox_entries"): never its SQL or values. */
  statement?: string;
  /** The innermost cause's message with anything quoted in it replaced by '…'. */
  reason: string;
  frames?: string[];
}

/** "insert into "runs" ... from "jobs" ..." -> "insert runs,jobs": the verb and the tables named. */
function statementLabel(query: string): string {
  const verb = /^\s*(\w+)/.exec(query)?.[1]?.toLowerCase() ?? "statement";
  const tables = new Set<string>();
  for (const m of query.matchAll(/\b(?:from|into|update|join)\s+"?([A-Za-z_]\w*)"?/gi)) tables.add(m[1]!);
  return [verb, [...tables].join(",")].filter(Boolean).join(" ");
}

/** Quoted text is where messages carry values: D1's "for value '...'", V8's JSON errors quoting their input. */
const unquoted = (message: string) => message.replace(/'[^']*'|"[^"]*"|`[^`]*`/g, "'…'").slice(0, REASON_MAX_CHARS);

/**
 * What the log may say about an error: its kind, the statement that failed and the database's reason,
 * and where in the code. Never the error's own message when it is Drizzle's: that one quotes the
 * statement's parameters (job payloads, search terms, webhook bodies), which must not reach the logs.
 */
export function errorFields(err: unknown): ErrorFields {
  if (!(err instanceof Error)) return { kind: typeof err, reason: unquoted(String(err)) };
  // Written by getConfig to name the variable and what is wrong with it, never a secret: kept whole for the operator.
  if (err instanceof ConfigError) return { kind: err.name, reason: err.message };
  const chain: Error[] = [];
  for (let e: unknown = err; e instanceof Error && chain.length < 10; e = e.cause) chain.push(e);
  const inner = chain.at(-1)!;
  const query = chain.find((e): e is DrizzleQueryError => e instanceof DrizzleQueryError)?.query;
  const d1Kind = chain.map((e) => /^(D1_[A-Z_]+):/.exec(e.message)?.[1]).find(Boolean);
  const kind = err instanceof DrizzleQueryError ? `DrizzleQueryError${d1Kind ? ` (${d1Kind})` : ""}` : (d1Kind ?? err.name);
  // Frames only: the stack's first lines repeat the message (and Drizzle's spans several lines).
  const frames = (err.stack ?? "").split("\n").filter((line) => /^\s+at /.test(line)).slice(0, FRAMES_KEPT).map((line) => line.trim());
  return { kind, ...(query !== undefined ? { statement: statementLabel(query) } : {}), reason: unquoted(inner.message), ...(frames.length > 0 ? { frames } : {}) };
}

/** A short summary of an error for a message that leaves this code (a rethrown error): no values either. */
export function errorSummary(err: unknown): string {
  const { kind, statement, reason } = errorFields(err);
  return `${kind}${statement ? ` in ${statement}` : ""}: ${reason}`;
}
