/**
 * The queue consumer: parse each message, hand it to the execution service, then ack or retry that
 * message alone. Messages of a batch are handled concurrently; one failing never retries the others.
 * Batches from the dead-letter queue go to the dead-letter handler.
 */
import { z } from "zod";
import { DEAD_LETTER_QUEUE, type Env, type JobMessage } from "../env";
import { handleDeadLetter, processRunBatch, type BatchResult } from "../jobs/execution";
import { ack } from "./outcome";
import { crashBackoffSeconds } from "./backoff";

const messageSchema = z.object({ jobId: z.string().min(1).max(64), runId: z.number().int().min(1) });

export async function handleJobBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const valid: { message: Message<unknown>; body: JobMessage }[] = [];
  for (const message of batch.messages) {
    const parsed = messageSchema.safeParse(message.body);
    if (parsed.success) valid.push({ message, body: parsed.data });
    else {
      // Retrying a message that can never parse would only fill the log: drop it, loudly.
      console.error("dropping malformed queue message", message.id, JSON.stringify(message.body));
      message.ack();
    }
  }
  const results: BatchResult[] =
    batch.queue === DEAD_LETTER_QUEUE
      ? await Promise.all(valid.map(({ body }) => handleDeadLetter(env, body).then(() => ack, (err: unknown) => (err instanceof Error ? err : new Error(String(err))))))
      : await processRunBatch(env, valid.map((v) => v.body));
  valid.forEach(({ message }, i) => settle(message, results[i]!));
}

function settle(message: Message<unknown>, result: BatchResult) {
  if (result instanceof Error) {
    console.error("queue message failed; it will be retried", message.id, result);
    message.retry({ delaySeconds: crashBackoffSeconds(message.attempts) });
  } else if (result.kind === "ack") message.ack();
  else message.retry({ delaySeconds: result.delaySeconds });
}
