/**
 * The Worker's entry: HTTP requests go to the Hono app, queue batches to the job consumer, and the
 * Cron Trigger to the sweep that recovers runs and deliveries whose message was lost. With
 * COST_METER=true each invocation runs on counted bindings (src/lib/meter.ts).
 */
import { createApp } from "./app";
import { ConfigError, type Env } from "./env";
import { sweep } from "./execution/sweep";
import { logEvent } from "./lib/log";
import { meteredBatch, meteredEnv, meterEnabled, meterResponse } from "./lib/meter";
import { handleJobBatch } from "./queue/consumer";

const app = createApp();

async function runSweep(controller: ScheduledController, env: Env) {
  try {
    const report = await sweep(env, new Date(controller.scheduledTime));
    if (Object.values(report).some((n) => n > 0)) logEvent("sweep", { ...report });
  } catch (err) {
    // Under a bad configuration the sweep changes nothing (no run is counted as lost) until it is fixed.
    if (!(err instanceof ConfigError)) throw err;
    console.error(`sweep skipped until the configuration is fixed: ${err.message}`);
  }
}

export default {
  fetch: (request: Request, env: Env, ctx?: ExecutionContext) => {
    if (!meterEnabled(env)) return app.fetch(request, env, ctx);
    if (new URL(request.url).pathname === "/__meter") return meterResponse(request);
    return app.fetch(request, meteredEnv(env, "fetch"), ctx);
  },
  queue: async (batch, env) => {
    if (!meterEnabled(env)) return handleJobBatch(batch, env);
    const metered = meteredBatch(batch);
    await handleJobBatch(metered.batch, meteredEnv(env, "queue"));
    metered.settle();
  },
  scheduled: (controller, env) => runSweep(controller, meterEnabled(env) ? meteredEnv(env, "scheduled") : env),
} satisfies ExportedHandler<Env, unknown>;
