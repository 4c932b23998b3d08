/** Run handlers: a job's runs, one run with its delivery and attempts, and redelivery by hand. */
import { createFactory } from "hono/factory";
import { z } from "zod";
import * as body from "../openapi/responses";
import * as runs from "../runs/service";
import type { AppEnv } from "../env";
import { jobIdParam, pageQueryOf, runIdParam } from "../jobs/schemas";
import { validate } from "../lib/validate";
import { doc } from "../openapi/describe";

const factory = createFactory<AppEnv>();

/** Redelivers the webhook of the job's latest run. */
export const redeliverJob = factory.createHandlers(
  doc({ summary: "Redeliver the latest run's webhook", description: "A new series of attempts, same webhook-id and same bytes.", tag: "Runs", ok: [202, "Redelivery queued", body.ok(body.run)], errors: [404, 409] }),
  validate("param", jobIdParam),
  async (c) => {
    const run = await runs.redeliverLatest(c.env, c.req.valid("param").id);
    return c.json({ success: true, message: "Redelivery queued", data: run }, 202);
  },
);

export const listJobRuns = factory.createHandlers(
  doc({ summary: "List a job's runs", description: "Newest first, each with its delivery's state.", tag: "Runs", ok: [200, "A page of runs", body.page(body.run)], errors: [404] }),
  validate("param", jobIdParam),
  validate("query", z.object(pageQueryOf("runs"))),
  async (c) => {
    const { items, pagination } = await runs.listJobRuns(c.env, c.req.valid("param").id, c.req.valid("query"));
    return c.json({ success: true, data: items, pagination });
  },
);

export const getRun = factory.createHandlers(
  doc({ summary: "Get a run", description: "What ran, its delivery with the exact body, and every attempt (newest first).", tag: "Runs", ok: [200, "The run", body.ok(body.runDetail)], errors: [404] }),
  validate("param", runIdParam),
  async (c) => {
    return c.json({ success: true, data: await runs.getRun(c.env, c.req.valid("param").runId) });
  },
);

export const redeliverRun = factory.createHandlers(
  doc({ summary: "Redeliver a run's webhook", description: "A new series of attempts of a finished delivery, same webhook-id and same bytes.", tag: "Runs", ok: [202, "Redelivery queued", body.ok(body.run)], errors: [404, 409] }),
  validate("param", runIdParam),
  async (c) => {
    const run = await runs.redeliverRun(c.env, c.req.valid("param").runId);
    return c.json({ success: true, message: "Redelivery queued", data: run }, 202);
  },
);
