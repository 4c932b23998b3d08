/**
 * The Worker's entry: HTTP requests go to the Hono app, queue batches to the job consumer, and the
 * Cron Triggers to the sweep that recovers runs and deliveries whose message was lost (every minute)
 * or to retention (hourly). With COST_METER=true each invocation runs on counted bindings (src/lib/meter.ts).
 */
import { createApp } from "./app";
import { ConfigError, type Env } from "./env";
import { retention, RETENTION_CRON } from "./background/retention";
import { sweep } from "./background/sweep";
import { errorSummary, logEvent, logFailure } from "./lib/log";
import { meteredBatch, meteredEnv, meterEnabled, meterResponse } from "./lib/meter";
import { handleJobBatch } from "./background/consumer";

const app = createApp();

/** Retention on its own cron; any other (the per-minute trigger, a bare /__scheduled) is the sweep. */
async function onSchedule(controller: ScheduledController, env: Env) {
  const [name, pass] = controller.cron === RETENTION_CRON ? ["retention", retention] as const : ["sweep", sweep] as const;
  try {
    const report = await pass(env, new Date(controller.scheduledTime));
    if (Object.values(report).some((n) => n > 0)) logEvent(name, { ...report });
  } catch (err) {
    // Under a bad configuration a pass changes nothing (no run is counted as lost, nothing deleted) until it is fixed.
    if (!(err instanceof ConfigError)) throw logged(name, err);
    console.error(`${name} skipped until the configuration is fixed: ${err.message}`);
  }
}

/**
 * An error thrown out of a handler is printed by the runtime, message and all: it is logged here
 * through logFailure (no values), and what is thrown instead only names its kind, so the invocation
 * still counts as failed (the cron run, the batch retried).
 */
function logged(handler: string, err: unknown): Error {
  logFailure("handler.failed", { handler }, err);
  return new Error(`${handler} failed: ${errorSummary(err)}`);
}

export default {
  fetch: (request: Request, env: Env, ctx?: ExecutionContext) => {
    if (!meterEnabled(env)) return app.fetch(request, env, ctx);
    if (new URL(request.url).pathname === "/__meter") return meterResponse(request);
    return app.fetch(request, meteredEnv(env, "fetch"), ctx);
  },
  queue: async (batch, env) => {
    try {
      if (!meterEnabled(env)) return await handleJobBatch(batch, env);
      const metered = meteredBatch(batch);
      await handleJobBatch(metered.batch, meteredEnv(env, "queue"));
      metered.settle();
    } catch (err) {
      throw logged("queue batch", err);
    }
  },
  scheduled: (controller, env) => onSchedule(controller, meterEnabled(env) ? meteredEnv(env, "scheduled") : env),
} satisfies ExportedHandler<Env, unknown>;
