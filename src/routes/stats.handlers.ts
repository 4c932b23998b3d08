/** GET /api/stats: the overview's figures (the dashboard's /overview shows the same). */
import { createFactory } from "hono/factory";
import type { AppEnv } from "../env";
import { doc } from "../openapi/describe";
import * as body from "../openapi/responses";
import { getRecentStats } from "../stats/service";

export const stats = createFactory<AppEnv>().createHandlers(
  doc({
    summary: "Overview figures",
    description:
      "Jobs by status (each counted up to countLimit); runs started and finished per hour over the last 24 h (hours that are over from a rollup); the webhooks of the latest 1 000 runs finished in that window by state, and their lag (run finished to delivered) at p50 and p95; the deliveries still under way; the oldest due run still waiting. Every figure reads a bounded number of rows. Figures are at most 10 s old (reused across callers).",
    tag: "Stats",
    ok: [200, "The figures", body.ok(body.stats)],
  }),
  async (c) => c.json({ success: true, data: await getRecentStats(c.env) }),
);
