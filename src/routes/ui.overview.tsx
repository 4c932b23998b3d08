/** The dashboard's overview: the figures of GET /api/stats as cards and charts, refreshing in place. */
import { Hono } from "hono";
import type { AppEnv } from "../env";
import { getRecentStats } from "../stats/service";
import { OverviewLive, OverviewPage } from "../views/overview";
import { renderPage, wantsFragment } from "./ui.shared";

export const uiOverview = new Hono<AppEnv>().get("/overview", async (c) => {
  const stats = await getRecentStats(c.env);
  if (wantsFragment(c, "overview-live")) return c.html(<OverviewLive stats={stats} />);
  return renderPage(c, "overview", "Overview", <OverviewPage stats={stats} />);
});
