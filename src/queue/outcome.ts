/** What the consumer does with a message once a service has handled it. */
export type MessageOutcome = { kind: "ack" } | { kind: "retry"; delaySeconds: number };

export const ack: MessageOutcome = { kind: "ack" };
export const retryIn = (delaySeconds: number): MessageOutcome => ({
  kind: "retry",
  delaySeconds: Math.max(0, Math.ceil(delaySeconds)),
});
