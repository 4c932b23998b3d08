/** Dashboard pages for the built-in webhook inbox: what the app's own receiver got (local development). */
import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../env";
import * as inbox from "../inbox/service";
import { listLogsQuery } from "../jobs/schemas";
import { cursorParam, emptyPage } from "../lib/pagination";
import { InboxList, InboxPage } from "../views/inbox";
import { renderPage, trigger, validPageQuery, wantsFragment } from "./ui.shared";

const inboxQuery = z.object({ page: listLogsQuery.shape.page, cursor: cursorParam("inbox") });

export const uiInbox = new Hono<AppEnv>()
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
