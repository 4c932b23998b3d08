/**
 * Builds the Hono app: the route modules, one 404 and one error handler that map domain and HTTP
 * errors to the shared `{ success: false, message }` shape (an HTML page for a browser on a dashboard
 * path) and hide the details of real bugs.
 */
import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { ConfigError, misconfigured, type AppEnv } from "./env";
import { DomainError, statusOfKind } from "./lib/errors";
import { logFailure, requestLog } from "./lib/log";
import { limitBody, rejectControlCharacters } from "./lib/validate";
import { d1Sessions } from "./db/sessions";
import { api } from "./routes/api";
import { health } from "./routes/health";
import { inboxRoutes } from "./routes/inbox";
import { legacy } from "./routes/legacy";
import { reference } from "./routes/reference";
import { uiAuth } from "./routes/ui.auth";
import { uiBulk } from "./routes/ui.bulk";
import { uiJobs } from "./routes/ui.jobs";
import { uiInbox } from "./routes/ui.inbox";
import { uiLogs } from "./routes/ui.logs";
import { uiOverview } from "./routes/ui.overview";
import { notFoundPage, uiErrorHandler } from "./routes/ui.shared";
import { csrfGuard } from "./security/csrf";
import { securityHeaders } from "./security/headers";
import { requireSession } from "./security/session";

/** Dashboard paths: each needs a signed-in session, and changes must pass the CSRF guard. */
const DASHBOARD_PATHS = ["/", "/overview", "/jobs", "/jobs/*", "/runs/*", "/logs", "/inbox", "/inbox/*"];

/** Paths that answer JSON whoever asks: the API, the inbox receiver and the original routes. */
const JSON_PATHS = /^\/(api|webhooks|create-job|run-job|get-jobs|update-job|delete-job|get-logs)(\/|$)/;

/** A person's browser (or htmx) on a dashboard path: errors and 404s are pages for it, not JSON. */
const wantsPage = (c: Context<AppEnv>) =>
  !JSON_PATHS.test(new URL(c.req.url).pathname) && (c.req.header("HX-Request") === "true" || (c.req.header("accept") ?? "").includes("text/html"));

/** The HTML pages: the same services as the API, with errors rendered as pages (or toasts for htmx). */
function dashboard() {
  const ui = new Hono<AppEnv>();
  for (const path of DASHBOARD_PATHS) ui.use(path, requireSession, csrfGuard);
  return ui.route("/", uiAuth).route("/", uiOverview).route("/", uiBulk).route("/", uiJobs).route("/", uiLogs).route("/", uiInbox).onError(uiErrorHandler);
}

export function createApp() {
  const app = new Hono<AppEnv>();

  app.use("*", requestLog());
  app.use("*", securityHeaders());
  // Every route has a body limit (413), whether or not it reads a body.
  app.use("*", limitBody());
  app.use("*", rejectControlCharacters());
  // Each request's queries in one D1 session: reads from a replica, a client's own writes seen (db/sessions.ts).
  app.use("*", ...d1Sessions());

  app.route("/health", health);
  app.route("/api", api);
  app.route("/", reference);
  app.route("/webhooks/inbox", inboxRoutes);
  app.route("/", legacy);
  app.route("/", dashboard());

  app.notFound((c) => {
    if (wantsPage(c)) return notFoundPage(c);
    return c.json({ success: false, message: `No route for ${c.req.method} ${new URL(c.req.url).pathname}` }, 404);
  });

  app.onError((err, c) => {
    if (wantsPage(c)) return uiErrorHandler(err, c);
    if (err instanceof DomainError) return c.json({ success: false, message: err.message }, statusOfKind[err.kind]);
    if (err instanceof HTTPException) {
      // Responses built by a middleware (401 with WWW-Authenticate, 429 with Retry-After) go out as they are.
      if (err.res) return err.getResponse();
      return c.json({ success: false, message: err.message || "Request failed" }, err.status);
    }
    if (err instanceof ConfigError) {
      console.error(err.message);
      return c.json({ success: false, message: misconfigured(err) }, 500);
    }
    // The path, not the URL: a query string is the caller's data (search terms).
    logFailure("request.failed", { method: c.req.method, path: new URL(c.req.url).pathname }, err);
    return c.json({ success: false, message: "Internal server error" }, 500);
  });

  return app;
}
