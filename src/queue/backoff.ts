/** Longest delay a queue message accepts, in seconds (Cloudflare Queues' limit). */
export const MAX_QUEUE_DELAY_SECONDS = 43_200;

/** Exponential backoff before attempt `failedAttempt + 1`: base, 2x base, 4x base ... clamped to the queue's limit. */
export function backoffSeconds(failedAttempt: number, baseSeconds: number): number {
  const delay = baseSeconds * 2 ** Math.max(0, failedAttempt - 1);
  return Math.min(Math.ceil(delay), MAX_QUEUE_DELAY_SECONDS);
}
