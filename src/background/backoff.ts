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
 * 10 min. Past CONFIG_WAIT_MAX_ATTEMPTS (about 15 hours) the message is dropped instead, before the
 * queue would hand it to the dead-letter queue: D1 still holds the run, and the sweep (which waits
 * too while the configuration is bad) queues it again once the configuration is fixed.
 */
export function configBackoffSeconds(attempts: number): number {
  return Math.min(30 * 2 ** Math.max(0, attempts - 1), 600);
}

/** Below the queue's max_retries (100): a message waiting out a bad configuration never reaches the dead letters. */
export const CONFIG_WAIT_MAX_ATTEMPTS = 90;
