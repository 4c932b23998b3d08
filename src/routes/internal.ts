/**
 * `POST /internal/sweep`: runs the Cron Trigger's sweep now. Only with SWEEP_ROUTE_ENABLED (local dev,
 * where wrangler cannot fire the cron with static assets configured); a 404 everywhere else.
 */
import { Hono } from "hono";
import { getConfig, type AppEnv } from "../env";
import { sweep } from "../jobs/execution";
import { notFound } from "../lib/errors";
import { apiAuth } from "../security/api-auth";

export const internal = new Hono<AppEnv>().post("/sweep", apiAuth, async (c) => {
  if (!getConfig(c.env).sweepRouteEnabled) throw notFound("Route", "/internal/sweep");
  return c.json({ success: true, data: await sweep(c.env, new Date()) });
});
