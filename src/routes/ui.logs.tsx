/** Dashboard pages for webhook deliveries and the built-in inbox. */
import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../env";
import * as inbox from "../inbox/service";
import { listLogsQuery } from "../jobs/schemas";
import * as jobs from "../jobs/service";
import { cursorParam, emptyPage } from "../lib/pagination";
import { InboxList, InboxPage } from "../views/inbox";
import { LogsPage, LogsTable, logsUrl } from "../views/logs";
import { renderPage, trigger, validPageQuery, wantsFragment } from "./ui.shared";

const logsPageQuery = listLogsQuery.extend({ limit: listLogsQuery.shape.limit.default(20) });
const inboxQuery = z.object({ page: listLogsQuery.shape.page, cursor: cursorParam("inbox") });

export const uiLogs = new Hono<AppEnv>()
  .get("/logs", validPageQuery(logsPageQuery), async (c) => {
    const query = c.req.valid("query");
    const { items, pagination } = await jobs.listLogs(c.env, query);
    const now = new Date();
    if (wantsFragment(c, "logs-table")) {
      c.header("HX-Push-Url", logsUrl(query));
      return c.html(<LogsTable logs={items} info={pagination} query={query} now={now} />);
    }
    return renderPage(c, "logs", "Webhook logs", <LogsPage logs={items} info={pagination} query={query} now={now} />);
  })

  .get("/inbox", validPageQuery(inboxQuery), async (c) => {
    const { items, pagination } = await inbox.list(c.env, { ...c.req.valid("query"), limit: 20 });
    const now = new Date();
    if (wantsFragment(c, "inbox-list")) return c.html(<InboxList entries={items} info={pagination} now={now} />);
    return renderPage(c, "inbox", "Webhook inbox", <InboxPage entries={items} info={pagination} now={now} />);
  })

  .post("/inbox/clear", async (c) => {
    const removed = await inbox.clear(c.env);
    if (!wantsFragment(c)) return c.redirect("/inbox", 303);
    trigger(c, { toast: `Inbox cleared (${removed} ${removed === 1 ? "entry" : "entries"})` });
    return c.html(<InboxList entries={[]} info={emptyPage(20)} now={new Date()} />);
  });
