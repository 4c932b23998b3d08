import { MAX_QUEUE_DELAY_SECONDS } from "./backoff";

/** What the consumer does with a message once a service has handled it. */
export type MessageOutcome = { kind: "ack" } | { kind: "retry"; delaySeconds: number };

export const ack: MessageOutcome = { kind: "ack" };

/** Retry after `delaySeconds`; past the queue's limit the message comes back early and waits again (a hop). */
export const retryIn = (delaySeconds: number): MessageOutcome => ({
  kind: "retry",
  delaySeconds: Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(0, Math.ceil(delaySeconds))),
});
