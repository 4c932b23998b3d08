/**
 * The Worker's entry: HTTP requests go to the Hono app, queue batches to the job consumer, and the
 * Cron Trigger to the sweep that recovers runs and deliveries whose message was lost.
 */
import { createApp } from "./app";
import type { Env } from "./env";
import { sweep } from "./jobs/execution";
import { handleJobBatch } from "./queue/consumer";

const app = createApp();

export default {
  fetch: app.fetch,
  queue: (batch, env) => handleJobBatch(batch, env),
  scheduled: async (controller, env) => {
    const report = await sweep(env, new Date(controller.scheduledTime));
    if (report.requeuedRuns + report.failedRuns + report.requeuedDeliveries > 0) console.log("sweep", JSON.stringify(report));
  },
} satisfies ExportedHandler<Env, unknown>;
