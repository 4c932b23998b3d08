/**
 * Builds the Hono app: the route modules, one JSON 404 and one error handler that maps domain and
 * HTTP errors to the shared `{ success: false, message }` shape and hides the details of real bugs.
 */
import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { HTTPException } from "hono/http-exception";
import { ConfigError, type AppEnv } from "./env";
import { DomainError, type ErrorKind } from "./lib/errors";
import { api } from "./routes/api";
import { inboxRoutes } from "./routes/inbox";
import { internal } from "./routes/internal";
import { legacy } from "./routes/legacy";
import { uiErrorHandler } from "./routes/ui.shared";
import { uiJobs } from "./routes/ui.jobs";
import { uiLogs } from "./routes/ui.logs";

/** The HTML pages: the same services as the API, with errors rendered as pages (or toasts for htmx). */
function dashboard() {
  return new Hono<AppEnv>().route("/", uiJobs).route("/", uiLogs).onError(uiErrorHandler);
}

const statusOf: Record<ErrorKind, ContentfulStatusCode> = { not_found: 404, conflict: 409, unavailable: 503 };

export function createApp() {
  const app = new Hono<AppEnv>();

  app.get("/health", (c) => c.json({ success: true, data: { status: "ok" } }));
  app.route("/api", api);
  app.route("/webhooks/inbox", inboxRoutes);
  app.route("/internal", internal);
  app.route("/", legacy);
  app.route("/", dashboard());

  app.notFound((c) =>
    c.json({ success: false, message: `No route for ${c.req.method} ${new URL(c.req.url).pathname}` }, 404),
  );

  app.onError((err, c) => {
    if (err instanceof DomainError) return c.json({ success: false, message: err.message }, statusOf[err.kind]);
    if (err instanceof HTTPException) {
      return c.json({ success: false, message: err.message || "Request failed" }, err.status);
    }
    if (err instanceof ConfigError) {
      console.error(err.message);
      return c.json({ success: false, message: `Server misconfigured: ${err.message}` }, 500);
    }
    console.error("unhandled error", c.req.method, c.req.url, err);
    return c.json({ success: false, message: "Internal server error" }, 500);
  });

  return app;
}
