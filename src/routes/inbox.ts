/**
 * The built-in webhook inbox: POST records a (signed) delivery, as any receiver would; reading and
 * emptying it need an API token.
 */
import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../env";
import * as inbox from "../inbox/service";
import { pageQueryOf } from "../jobs/schemas";
import { validate } from "../lib/validate";
import { apiAuth } from "../security/api-auth";

export const inboxRoutes = new Hono<AppEnv>()
  .post(
    "/",
    async (c) => {
      const entry = await inbox.receive(c.env, c.req.raw.headers, await c.req.text());
      return c.json({ success: true, message: "Webhook received", data: { id: entry.id } });
    },
  )
  .get("/", apiAuth, validate("query", z.object(pageQueryOf("inbox"))), async (c) => {
    const { items, pagination } = await inbox.list(c.env, c.req.valid("query"));
    return c.json({ success: true, data: items, pagination });
  })
  .delete("/", apiAuth, async (c) => {
    const removed = await inbox.clear(c.env);
    return c.json({ success: true, message: `Removed ${removed} entries`, data: { removed } });
  });
