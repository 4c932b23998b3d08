/**
 * What the dashboard routes share: full page or htmx fragment, HTML error pages (plain text for htmx,
 * which app.js shows as a toast), and input validation that answers with a page instead of JSON.
 */
import { zValidator } from "@hono/zod-validator";
import type { Context } from "hono";
import { html } from "hono/html";
import { HTTPException } from "hono/http-exception";
import type { Child } from "hono/jsx";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import { ConfigError, getConfig, misconfigured, type AppEnv } from "../env";
import { DomainError, statusOfKind } from "../lib/errors";
import { logFailure } from "../lib/log";
import { formatIssues } from "../lib/validate";
import { Layout, type Section } from "../views/layout";

type Ctx = Context<AppEnv>;

/** An htmx request that wants a fragment (a history restore wants the whole page). */
export const wantsFragment = (c: Ctx, target?: string) =>
  c.req.header("HX-Request") === "true" &&
  !c.req.header("HX-History-Restore-Request") &&
  (target === undefined || c.req.header("HX-Target") === target);

/** The inbox link shows when it is on; an error page under a bad configuration still renders. */
function inboxEnabled(c: Ctx) {
  try {
    return getConfig(c.env).inboxEnabled;
  } catch {
    return false;
  }
}

export function renderPage(c: Ctx, section: Section, title: string, body: Child, status: ContentfulStatusCode = 200, { signedIn = true } = {}) {
  const page = (
    <Layout title={title} section={section} inboxEnabled={inboxEnabled(c)} signedIn={signedIn}>
      {body}
    </Layout>
  );
  return c.html(html`<!doctype html>${page}`, status);
}

/** Events for app.js: close the open dialog and/or show a toast. */
export function trigger(c: Ctx, events: { closeModal?: boolean; toast?: string; toastKind?: "success" | "error" }) {
  const payload: Record<string, unknown> = {};
  if (events.closeModal) payload.closeModal = true;
  if (events.toast) payload.toast = { message: events.toast, kind: events.toastKind ?? "success" };
  // After the swap: closing the dialog first would detach the element whose request is being swapped.
  // Header values must be ASCII: task names in the toast are sent as \u escapes.
  const ascii = JSON.stringify(payload).replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
  c.header("HX-Trigger-After-Swap", ascii);
}

function errorResponse(c: Ctx, status: ContentfulStatusCode, message: string, signedIn = true) {
  if (c.req.header("HX-Request") === "true") return c.text(message, status);
  const title = status === 404 ? "Not found" : status >= 500 ? "Something went wrong" : "Request problem";
  return renderPage(
    c,
    "jobs",
    title,
    <div class="error-page">
      <h1>{title}</h1>
      <p>{message}</p>
      <p>
        <a href="/">Back to the jobs</a>
      </p>
    </div>,
    status,
    { signedIn },
  );
}

/** A path no route serves, asked for by a browser: a page that says so (whoever is signed in or not). */
export const notFoundPage = (c: Ctx) => errorResponse(c, 404, `There is no page at ${new URL(c.req.url).pathname}.`, false);

export function uiErrorHandler(err: Error, c: Ctx) {
  if (err instanceof DomainError) {
    return errorResponse(c, statusOfKind[err.kind], err.message);
  }
  if (err instanceof HTTPException) return errorResponse(c, err.status as ContentfulStatusCode, err.message || "Request failed");
  if (err instanceof ConfigError) return errorResponse(c, 500, misconfigured(err));
  logFailure("request.failed", { method: c.req.method, path: new URL(c.req.url).pathname, page: true }, err);
  return errorResponse(c, 500, "Internal server error");
}

const problemOf = { query: "Invalid link", param: "Invalid link", form: "Invalid form" } as const;

/**
 * Validates a page's query, path or form; a bad value answers a 400 page naming it (plain text to htmx),
 * never the validator's JSON, which a browser would show raw.
 */
export const validPageInput = <Tg extends keyof typeof problemOf, T extends z.ZodType>(target: Tg, schema: T) =>
  zValidator(target, schema, (result, c) => {
    if (result.success) return;
    const message = formatIssues(result.error.issues)
      .map((e) => e.message)
      .join("; ");
    return errorResponse(c as Ctx, 400, `${problemOf[target]}: ${message}`);
  });

export const validPageQuery = <T extends z.ZodType>(schema: T) => validPageInput("query", schema);

/** The URL a request header names; null when it is missing or not a URL (a client can send anything). */
function urlInHeader(c: Ctx, name: string): URL | null {
  const value = c.req.header(name);
  if (!value) return null;
  try {
    return new URL(value);
  } catch {
    return null;
  }
}

/** The page the browser is showing, as htmx tells it (HX-Current-URL). */
export const currentUrl = (c: Ctx) => urlInHeader(c, "HX-Current-URL");

/** Same-origin page the request came from, to return to after a plain (no-JavaScript) form post. */
export function backTo(c: Ctx, fallback: string) {
  const url = urlInHeader(c, "Referer");
  return url?.origin === new URL(c.req.url).origin ? `${url.pathname}${url.search}` : fallback;
}
