/**
 * What a route says about itself in the OpenAPI document (hono-openapi's describeRoute): a summary,
 * its answer and the errors it can give, each with its schema. Parameters and bodies are not written
 * here: they come from the zod schema the route validates with (lib/validate.ts).
 */
import { describeRoute, resolver } from "hono-openapi";
import type { z } from "zod";
import { errorBody } from "./responses";

/** Every error a route can give, and what it means here. */
const ERRORS = {
  400: "Invalid input: the message names each failing field (also in `errors`)",
  401: "Missing or invalid API token",
  404: "No job or run with this id",
  409: "The job or run is not in a state that allows this",
  413: "The request body is larger than 64 KiB",
  415: "The request body is not declared as JSON",
  429: "Too many requests for this API token (see Retry-After)",
  503: "The API is not configured (no API_TOKENS), or the queue could not take the work (nothing was changed, or the sweep finishes it)",
} as const;

export type ErrorStatus = keyof typeof ERRORS;

/** Errors every route can give: a control character in its query string, a body over the limit. */
const EVERY_ROUTE: ErrorStatus[] = [400, 413];
/** And every API route: its token, its rate, its configuration. */
const API_ROUTE: ErrorStatus[] = [401, 429, 503];

const json = (schema: z.ZodType) => ({ "application/json": { schema: resolver(schema, { options: { io: "output" } }) } });

export interface RouteDoc {
  summary: string;
  description?: string;
  tag: "Jobs" | "Runs" | "Logs" | "Stats" | "Health";
  /** The success answer: status, what it means, its body. */
  ok: [status: 200 | 201 | 202, description: string, body: z.ZodType];
  /** Errors beyond those every route gives (400, 413; and 401, 429, 503 on the API). */
  errors?: ErrorStatus[];
  /** A route anyone may call (no token). */
  public?: boolean;
  /** The success answer's media types, when it is a file rather than JSON (its body schema: a string). */
  content?: string[];
  /** More answers (a second success status, a 503 with a body of its own). */
  more?: Record<number, [description: string, body: z.ZodType]>;
}

export function doc(route: RouteDoc) {
  const errors = [...new Set([...(route.errors ?? []), ...EVERY_ROUTE, ...(route.public ? [] : API_ROUTE)])].sort();
  const okContent = route.content ? Object.fromEntries(route.content.map((type) => [type, { schema: resolver(route.ok[2]) }])) : json(route.ok[2]);
  const responses: Record<string, unknown> = { [route.ok[0]]: { description: route.ok[1], content: okContent } };
  for (const status of errors) responses[status] = { description: ERRORS[status], content: json(errorBody) };
  for (const [status, [description, body]] of Object.entries(route.more ?? {})) responses[status] = { description, content: json(body) };
  return describeRoute({
    summary: route.summary,
    description: route.description,
    tags: [route.tag],
    ...(route.public ? { security: [] } : {}),
    responses: responses as never,
  });
}
