/**
 * The queue consumer: parse each message, hand it to run-messages.ts (or the dead-letter handler), then ack or retry that
 * message alone. Messages of a batch are handled concurrently; one failing never retries the others.
 * Batches from a dead-letter queue (any environment's) go to the dead-letter handler. Under a bad
 * configuration nothing is touched: every message waits (retried with a backoff) until the
 * configuration is fixed.
 */
import { z } from "zod";
import type { RunRef } from "../webhooks/body";
import { ConfigError, getConfig, isDeadLetterQueue, type Env } from "../env";
import { byShard, onJobShard, onShard, shardOfJob } from "../db/shards";
import { handleDeadLetter } from "./dead-letter";
import { type BatchResult, inlineBudget, processRunBatch } from "./run-messages";
import { logFailure } from "../lib/log";
import { ack } from "./outcome";
import { CONFIG_WAIT_MAX_ATTEMPTS, configBackoffSeconds, crashBackoffSeconds } from "./backoff";

const jobId = z.string().min(1).max(64);
const runNumber = z.number().int().min(1);
/** `{ jobId, run }`; messages queued before runs were records say `runId` for the run's number. */
const messageSchema = z.union([
  z.object({ jobId, run: runNumber }).transform((m): RunRef => ({ jobId: m.jobId, number: m.run })),
  z.object({ jobId, runId: runNumber }).transform((m): RunRef => ({ jobId: m.jobId, number: m.runId })),
]);

export async function handleJobBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const valid: { message: Message<unknown>; ref: RunRef }[] = [];
  for (const message of batch.messages) {
    const parsed = messageSchema.safeParse(message.body);
    if (parsed.success) valid.push({ message, ref: parsed.data });
    else {
      // Retrying a message that can never parse would only fill the log: drop it, loudly.
      console.error("dropping malformed queue message", message.id, JSON.stringify(message.body));
      message.ack();
    }
  }
  try {
    getConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`queue batch waits for the configuration to be fixed: ${err.message}`);
    for (const { message } of valid) {
      // Near the queue's retry limit: drop it rather than let the dead-letter queue fail its run; the sweep re-queues the run.
      if (message.attempts >= CONFIG_WAIT_MAX_ATTEMPTS) message.ack();
      else message.retry({ delaySeconds: configBackoffSeconds(message.attempts) });
    }
    return;
  }
  if (isDeadLetterQueue(batch.queue)) {
    const results = await Promise.all(valid.map(({ ref }) => handleDeadLetter(onJobShard(env, ref.jobId), ref).then(() => ack, (err: unknown) => (err instanceof Error ? err : new Error(String(err))))));
    valid.forEach(({ message }, i) => settle(message, results[i]!));
    return;
  }
  // Each shard's messages are one batch of D1 work on that shard (db/shards.ts), side by side, sharing
  // the invocation's one budget of webhooks sent inline.
  const budget = inlineBudget();
  await Promise.all(
    byShard(env, valid, ({ ref }) => shardOfJob(env, ref.jobId)).map(async ([k, group]) => {
      const results = await processRunBatch(onShard(env, k), group.map((v) => v.ref), budget);
      group.forEach(({ message }, i) => settle(message, results[i]!));
    }),
  );
}

function settle(message: Message<unknown>, result: BatchResult) {
  if (result instanceof Error) {
    logFailure("consumer.message_failed", { messageId: message.id, then: "the message is retried" }, result);
    message.retry({ delaySeconds: crashBackoffSeconds(message.attempts) });
  } else if (result.kind === "ack") message.ack();
  else message.retry({ delaySeconds: result.delaySeconds });
}
