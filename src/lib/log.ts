/**
 * Structured logs: one JSON object per line, which Workers Logs (wrangler.toml [observability]) indexes
 * field by field, so a run or a delivery can be followed by its ids. One line per request, per run
 * transition and per delivery attempt; nothing else logs on the happy path.
 */
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { Run } from "../db/schema";

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

/** Work that failed and is recovered later (the sweep, a retry): named, with the ids it concerns. */
export type FailureEventName =
  | "sweep.phase_failed"
  | "dispatch.failed"
  | "queue.send_failed"
  | "consumer.batch_failed"
  | "consumer.read_failed"
  | "dead_letter.failed";

/**
 * One line per failure, with the ids it concerns and what kind of error it was: the error's name and the
 * first line of its message, without a statement's bound values (they may carry a user's payload).
 */
export function logFailure(event: FailureEventName, fields: Record<string, unknown>, err: unknown) {
  console.error(JSON.stringify({ event, ...fields, error: errorSummary(err) }));
}

export function errorSummary(err: unknown): string {
  if (!(err instanceof Error)) return typeof err;
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
  const first = (err.message.split("\n")[0] ?? "").replace(/\bparams:.*$/, "");
  return `${err.name}: ${first}${cause}`.slice(0, 300);
}
