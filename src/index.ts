/**
 * The Worker's entry: HTTP requests go to the Hono app, queue batches to the job consumer, and the
 * Cron Trigger to the sweep that recovers runs and deliveries whose message was lost.
 */
import { createApp } from "./app";
import { ConfigError, type Env } from "./env";
import { sweep } from "./execution/sweep";
import { handleJobBatch } from "./queue/consumer";

const app = createApp();

export default {
  fetch: app.fetch,
  queue: (batch, env) => handleJobBatch(batch, env),
  scheduled: async (controller, env) => {
    try {
      const report = await sweep(env, new Date(controller.scheduledTime));
      if (Object.values(report).some((n) => n > 0)) console.log("sweep", JSON.stringify(report));
    } catch (err) {
      // Under a bad configuration the sweep changes nothing (no run is counted as lost) until it is fixed.
      if (!(err instanceof ConfigError)) throw err;
      console.error(`sweep skipped until the configuration is fixed: ${err.message}`);
    }
  },
} satisfies ExportedHandler<Env, unknown>;
