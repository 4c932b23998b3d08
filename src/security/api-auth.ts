/**
 * API authentication: `Authorization: Bearer <token>` against API_TOKENS (constant-time, via Hono's
 * bearer-auth), then the per-token rate limit. No tokens configured fails closed with a 503 that says
 * what to set.
 */
import type { MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { HTTPException } from "hono/http-exception";
import { getConfig, type AppEnv } from "../env";
import { enforceLimit, tokenKey } from "./rate-limit";

const message = (text: string) => ({ success: false, message: text });

export const NOT_CONFIGURED =
  "API authentication is not configured: set API_TOKENS (wrangler secret put API_TOKENS); every protected route is closed until then";

/** One bearer-auth middleware per token list (the config is parsed once per environment). */
const checkers = new WeakMap<readonly string[], MiddlewareHandler<AppEnv>>();

function bearerFor(apiTokens: string[]): MiddlewareHandler<AppEnv> {
  let check = checkers.get(apiTokens);
  if (!check) {
    check = bearerAuth({
      token: apiTokens,
      realm: "edge-job-scheduler",
      noAuthenticationHeader: { message: message("Missing Authorization header: send Authorization: Bearer <API token>") },
      invalidAuthenticationHeader: { message: message("Malformed Authorization header: expected Bearer <API token>") },
      invalidToken: { message: message("Invalid API token") },
    });
    checkers.set(apiTokens, check);
  }
  return check;
}

export const apiAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  const { apiTokens } = getConfig(c.env);
  if (apiTokens.length === 0) throw new HTTPException(503, { message: NOT_CONFIGURED });
  await bearerFor(apiTokens)(c, async () => {
    const token = c.req.header("authorization")!.slice("bearer ".length).trim();
    await enforceLimit(c, c.env.API_RATE_LIMITER, await tokenKey(token), "requests for this API token");
    await next();
  });
};
