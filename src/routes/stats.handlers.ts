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
      "Jobs by status; runs started and finished per hour over the last 24 h; their webhooks by state and the webhook lag (run finished to delivered) at p50 and p95; the deliveries still under way; the oldest due run still waiting. Figures are at most 10 s old (reused across callers).",
    tag: "Stats",
    ok: [200, "The figures", body.ok(body.stats)],
  }),
  async (c) => c.json({ success: true, data: await getRecentStats(c.env) }),
);
