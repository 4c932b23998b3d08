/**
 * CSRF for the cookie-authenticated dashboard: a state-changing request must be a form submission
 * (a request without Content-Type is refused too) from this origin (hono/csrf checks Origin and
 * Sec-Fetch-Site). htmx's same-origin requests pass; cross-site forms get 403.
 */
import type { MiddlewareHandler } from "hono";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "../env";

const FORM = /^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i;
const originCheck = csrf();

export const csrfGuard: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (/^(GET|HEAD|OPTIONS)$/.test(c.req.method)) return next();
  if (!FORM.test(c.req.header("content-type") ?? "")) {
    throw new HTTPException(403, { message: "Refused: a dashboard change must be a form submission (Content-Type missing or not a form)" });
  }
  try {
    await originCheck(c, async () => undefined);
  } catch {
    throw new HTTPException(403, { message: "Refused: cross-site request (Origin does not match this site)" });
  }
  return next();
};
