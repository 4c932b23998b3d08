/** Delivery-log handlers: every attempt, or a job's, newest first. */
import { createFactory } from "hono/factory";
import { z } from "zod";
import * as body from "../openapi/responses";
import * as logs from "../webhooks/service";
import type { AppEnv } from "../env";
import { jobIdParam, listLogsQuery, pageQueryOf } from "../jobs/schemas";
import { validate } from "../lib/validate";
import { doc } from "../openapi/describe";

const factory = createFactory<AppEnv>();

export const listJobLogs = factory.createHandlers(
  doc({ summary: "List a job's delivery attempts", description: "Every webhook attempt of its runs, newest first.", tag: "Logs", ok: [200, "A page of attempts", body.page(body.listedLog)], errors: [404] }),
  validate("param", jobIdParam),
  validate("query", z.object(pageQueryOf("logs"))),
  async (c) => {
    const { items, pagination } = await logs.listJobLogs(c.env, c.req.valid("param").id, c.req.valid("query"));
    return c.json({ success: true, data: items, pagination });
  },
);

export const listLogs = factory.createHandlers(
  doc({ summary: "List delivery attempts", description: "Every webhook attempt, newest first; filter by job or outcome.", tag: "Logs", ok: [200, "A page of attempts", body.page(body.listedLog)] }),
  validate("query", listLogsQuery),
  async (c) => {
    const { items, pagination } = await logs.listLogs(c.env, c.req.valid("query"));
    return c.json({ success: true, data: items, pagination });
  },
);
