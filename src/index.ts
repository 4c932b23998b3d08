/** The Worker's entry: HTTP requests go to the Hono app, queue batches to the job consumer. */
import { createApp } from "./app";
import type { Env } from "./env";
import { handleJobBatch } from "./queue/consumer";

const app = createApp();

export default {
  fetch: app.fetch,
  queue: (batch, env) => handleJobBatch(batch, env),
} satisfies ExportedHandler<Env, unknown>;
