/**
 * Rate limiting with the Workers Rate Limiting binding: per API token, and per client IP for sign-in.
 * wrangler dev simulates the bindings locally; a deployment without them is not limited.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "../env";

/** The limiters' window (wrangler.toml `period`), sent as Retry-After. */
export const RATE_LIMIT_PERIOD_SECONDS = 60;

/** True when `key` has used up its allowance in the current window. */
export async function overLimit(limiter: RateLimit | undefined, key: string): Promise<boolean> {
  if (!limiter) return false;
  return !(await limiter.limit({ key })).success;
}

export const tooManyMessage = (what: string) => `Too many ${what}; try again in ${RATE_LIMIT_PERIOD_SECONDS} s`;

/** Throws a JSON 429 with Retry-After when `key` is over its limit. */
export async function enforceLimit(c: Context<AppEnv>, limiter: RateLimit | undefined, key: string, what: string) {
  if (!(await overLimit(limiter, key))) return;
  const res = c.json({ success: false, message: tooManyMessage(what) }, 429, { "retry-after": String(RATE_LIMIT_PERIOD_SECONDS) });
  throw new HTTPException(429, { res });
}

/** The client's address as Cloudflare reports it ("local" under a local proxy that does not set it). */
export const clientIp = (c: Context<AppEnv>) => c.req.header("cf-connecting-ip") ?? "local";

/** Keys already computed, per token (a handful of configured tokens: bounded). */
const tokenKeys = new Map<string, Promise<string>>();

/** A short, stable, non-reversible key for a token, so limiter keys and cookies never hold the token itself. */
export function tokenKey(token: string): Promise<string> {
  let key = tokenKeys.get(token);
  if (!key) {
    key = crypto.subtle
      .digest("SHA-256", new TextEncoder().encode(token))
      .then((digest) => `token:${[...new Uint8Array(digest).slice(0, 12)].map((b) => b.toString(16).padStart(2, "0")).join("")}`);
    // Only configured tokens reach here (after bearer-auth or a sign-in match), so the map stays small.
    tokenKeys.set(token, key);
  }
  return key;
}
