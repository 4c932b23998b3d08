/** Dashboard page for webhook deliveries: every attempt, newest first, by job and outcome. */
import { Hono } from "hono";
import type { AppEnv } from "../env";
import { listLogsQuery } from "../jobs/schemas";
import { LogsPage, LogsTable, logsUrl } from "../views/logs";
import * as logs from "../webhooks/service";
import { renderPage, validPageQuery, wantsFragment } from "./ui.shared";

const logsPageQuery = listLogsQuery.extend({ limit: listLogsQuery.shape.limit.default(20) });

export const uiLogs = new Hono<AppEnv>().get("/logs", validPageQuery(logsPageQuery), async (c) => {
  const query = c.req.valid("query");
  const { items, pagination } = await logs.listLogs(c.env, query);
  const now = new Date();
  if (wantsFragment(c, "logs-table")) {
    c.header("HX-Push-Url", logsUrl(query));
    return c.html(<LogsTable logs={items} info={pagination} query={query} now={now} />);
  }
  return renderPage(c, "logs", "Webhook logs", <LogsPage logs={items} info={pagination} query={query} now={now} />);
});
