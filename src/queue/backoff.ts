/** Delays for queue retries: the webhook retry schedule (with jitter) and the backoff after a crash. */

/** Longest delay a queue message accepts, in seconds (Cloudflare Queues' limit); longer waits take several hops. */
export const MAX_QUEUE_DELAY_SECONDS = 43_200;

/**
 * Seconds to wait after failed attempt `failedAttempt` (1-based): the schedule's delay for it (the
 * last one repeats), moved by up to `jitter` of itself either way so many retries do not arrive at once.
 */
export function retryDelaySeconds(failedAttempt: number, scheduleSeconds: number[], jitter: number, random = Math.random): number {
  const base = scheduleSeconds[Math.min(failedAttempt, scheduleSeconds.length) - 1] ?? 0;
  const spread = base * jitter * (random() * 2 - 1);
  return Math.max(0, Math.round(base + spread));
}

/** Backoff for a message whose handling threw (a bug or a D1 outage): 2, 4, 8 ... s, at most 5 min. */
export function crashBackoffSeconds(attempts: number): number {
  return Math.min(2 ** Math.max(1, attempts), 300);
}

/**
 * Backoff for a message that waits for a bad configuration to be fixed: 30 s, 1 min, 2 min ... at most
 * 10 min, so the queue's 100 retries last about 16 hours before the dead-letter queue (which waits the
 * same way) and the sweep take over.
 */
export function configBackoffSeconds(attempts: number): number {
  return Math.min(30 * 2 ** Math.max(0, attempts - 1), 600);
}
