/** Dashboard bulk actions: the boxes at the start of the jobs table's rows, a confirmation, then the action. */
import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../env";
import { bulkAction } from "../jobs/bulk";
import { BULK_ACTIONS, BULK_RUN_MAX, type BulkAction } from "../jobs/schemas";
import { invalid } from "../lib/errors";
import { BulkConfirm } from "../views/job-form";
import { Modal } from "../views/layout";
import { afterChange } from "./ui.jobs-list";
import { backTo, renderPage, validPageInput, wantsFragment } from "./ui.shared";

const bulkForm = z.object({
  action: z.enum(BULK_ACTIONS, { error: `action must be one of ${BULK_ACTIONS.join(", ")}` }),
  ids: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]))
    .pipe(z.array(z.string().min(1, "a job id must not be empty").max(64, "a job id must be at most 64 characters")).max(BULK_RUN_MAX, `at most ${BULK_RUN_MAX} jobs at once`)),
});

const bulkDone: Record<BulkAction, string> = { run: "Started", cancel: "Cancelled the current run of", pause: "Paused", resume: "Resumed", delete: "Deleted" };
export const uiBulk = new Hono<AppEnv>()
  .post("/jobs/bulk/confirm", validPageInput("form", bulkForm), async (c) => {
    const { action, ids } = c.req.valid("form");
    if (ids.length === 0) throw invalid("Select at least one job first (the boxes at the start of the rows)");
    const form = <BulkConfirm action={action} ids={ids} />;
    if (wantsFragment(c)) return c.html(<Modal title="Are you sure?">{form}</Modal>);
    return renderPage(c, "jobs", "Are you sure?", <article class="standalone-form"><h1>Are you sure?</h1>{form}</article>);
  })

  .post("/jobs/bulk", validPageInput("form", bulkForm), async (c) => {
    const { action, ids } = c.req.valid("form");
    if (ids.length === 0) throw invalid("Select at least one job first");
    const result = await bulkAction(c.env, action, ids.slice(0, BULK_RUN_MAX));
    if (!wantsFragment(c)) return c.redirect(backTo(c, "/"), 303);
    const refused = result.refused.length + result.notFound.length;
    return afterChange(c, `${bulkDone[action]} ${result.done.length} of ${ids.length} jobs${refused > 0 ? ` (${refused} could not be: ${[...result.refused.map((r) => r.message), ...result.notFound.map((id) => `'${id}' not found`)].slice(0, 2).join("; ")})` : ""}`, "/");
  });
