/**
 * The queue consumer: parse each message, hand it to the job service, then ack or retry that message
 * alone. Messages of a batch are handled concurrently; one failing never retries the others.
 */
import { z } from "zod";
import type { Env, JobMessage } from "../env";
import { processRunMessage } from "../jobs/service";
import { backoffSeconds } from "./backoff";

const messageSchema = z.object({ jobId: z.string().min(1), runId: z.number().int().min(1) });

/** Delay before the queue redelivers a message whose handling threw (a bug or a D1 outage). */
const CRASH_RETRY_BASE_SECONDS = 2;

export async function handleJobBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  await Promise.all(batch.messages.map((message) => handleMessage(message, env)));
}

async function handleMessage(message: Message<unknown>, env: Env): Promise<void> {
  const parsed = messageSchema.safeParse(message.body);
  if (!parsed.success) {
    // Retrying a message that can never parse would only fill the log: drop it, loudly.
    console.error("dropping malformed queue message", message.id, JSON.stringify(message.body));
    message.ack();
    return;
  }
  try {
    const outcome = await processRunMessage(env, parsed.data satisfies JobMessage);
    if (outcome.kind === "ack") message.ack();
    else message.retry({ delaySeconds: outcome.delaySeconds });
  } catch (err) {
    console.error("queue message failed; it will be retried", message.id, err);
    message.retry({ delaySeconds: backoffSeconds(message.attempts, CRASH_RETRY_BASE_SECONDS) });
  }
}
