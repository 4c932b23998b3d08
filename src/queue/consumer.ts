/**
 * The queue consumer: parse each message, hand it to the execution service, then ack or retry that
 * message alone. Messages of a batch are handled concurrently; one failing never retries the others.
 * Batches from the dead-letter queue go to the dead-letter handler.
 */
import { z } from "zod";
import { DEAD_LETTER_QUEUE, type Env, type JobMessage } from "../env";
import { handleDeadLetter, processRunMessage } from "../jobs/execution";
import { crashBackoffSeconds } from "./backoff";

const messageSchema = z.object({ jobId: z.string().min(1).max(64), runId: z.number().int().min(1) });

export async function handleJobBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const deadLetters = batch.queue === DEAD_LETTER_QUEUE;
  await Promise.all(batch.messages.map((message) => handleMessage(message, env, deadLetters)));
}

async function handleMessage(message: Message<unknown>, env: Env, deadLetter: boolean): Promise<void> {
  const parsed = messageSchema.safeParse(message.body);
  if (!parsed.success) {
    // Retrying a message that can never parse would only fill the log: drop it, loudly.
    console.error("dropping malformed queue message", message.id, JSON.stringify(message.body));
    message.ack();
    return;
  }
  const body: JobMessage = parsed.data;
  try {
    if (deadLetter) {
      await handleDeadLetter(env, body);
      message.ack();
      return;
    }
    const outcome = await processRunMessage(env, body);
    if (outcome.kind === "ack") message.ack();
    else message.retry({ delaySeconds: outcome.delaySeconds });
  } catch (err) {
    console.error("queue message failed; it will be retried", message.id, err);
    message.retry({ delaySeconds: crashBackoffSeconds(message.attempts) });
  }
}
