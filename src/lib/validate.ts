/**
 * Request validation: every input goes through zod via @hono/zod-validator, and every failure has
 * the same 400 shape, `{ success: false, message, errors: [{ field, message }] }`.
 */
import { zValidator } from "@hono/zod-validator";
import { resolver, uniqueSymbol } from "hono-openapi";
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { parseJsonText } from "./json";
import { HTTPException } from "hono/http-exception";
import type { z } from "zod";

type Target = "json" | "query" | "param" | "header";

const targetNames: Record<Target, string> = { json: "request body", query: "query string", param: "path", header: "headers" };

export function formatIssues(issues: z.core.$ZodIssue[]) {
  return issues.map((issue) => ({
    field: issue.path.length > 0 ? issue.path.join(".") : null,
    message: issue.message,
  }));
}

/**
 * The validator of `target`. It also carries the schema for the OpenAPI document (hono-openapi reads
 * it from the route): the parameters and bodies documented are the ones checked, never a second copy.
 */
export const validate = <T extends z.ZodType, Tg extends Target>(target: Tg, schema: T) =>
  Object.assign(
    zValidator(target, schema, (result, c) => {
      if (result.success) return;
      const errors = formatIssues(result.error.issues);
      const summary = errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join("; ");
      return c.json({ success: false, message: `Invalid ${targetNames[target]}: ${summary}`, errors }, 400);
    }),
    { [uniqueSymbol]: { target, ...resolver(schema) } },
  );

/** Largest JSON body accepted on any route, in bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

/** 413 with the shared error shape once a body passes MAX_BODY_BYTES (declared or streamed). */
export const limitBody = () =>
  bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      throw new HTTPException(413, { message: `Request body is larger than ${MAX_BODY_BYTES} bytes` });
    },
  });

const jsonMediaType = /^application\/([\w.-]+\+)?json$/i;

/**
 * A JSON body: 415 unless declared as JSON, 400 when it does not parse or repeats a key in an object
 * (`{"a":1,"a":2}` would otherwise mean whatever the last one says). The size limit is app-wide.
 */
export const jsonBody = (): MiddlewareHandler => async (c, next) => {
  const mediaType = (c.req.header("content-type") ?? "").split(";")[0]!.trim();
  if (!jsonMediaType.test(mediaType)) {
    throw new HTTPException(415, { message: `Content-Type must be application/json (got '${mediaType || "none"}')` });
  }
  const parsed = parseJsonText(await c.req.text());
  if ("error" in parsed) throw new HTTPException(400, { message: `Invalid JSON body: it ${parsed.error}` });
  // The validator reads the body through c.req.json(): hand it this parse instead of a second one.
  c.req.bodyCache.json = Promise.resolve(parsed.value);
  await next();
};

const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * 400 for a query parameter (name or value) with a control character in it (`%00`, a newline, ...),
 * on every route, whether or not the route reads that parameter: no such text reaches a query.
 */
export const rejectControlCharacters = (): MiddlewareHandler => async (c, next) => {
  const query = c.req.url.indexOf("?");
  if (query >= 0) {
    for (const [name, value] of new URLSearchParams(c.req.url.slice(query + 1))) {
      if (CONTROL_CHARACTERS.test(name) || CONTROL_CHARACTERS.test(value)) {
        const shown = name.replace(new RegExp(CONTROL_CHARACTERS, "g"), "\uFFFD").slice(0, 40);
        throw new HTTPException(400, { message: `Invalid query string: parameter '${shown}' must not contain control characters (such as NUL or newlines)` });
      }
    }
  }
  await next();
};
