/**
 * Dashboard sessions: signing in with an API token sets a signed, HttpOnly, SameSite=Lax cookie
 * (Secure except on localhost) that expires after SESSION_HOURS. The cookie names which token it
 * came from by a fingerprint, so rotating that token out signs its sessions out.
 */
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getSignedCookie, setSignedCookie } from "hono/cookie";
import { HTTPException } from "hono/http-exception";
import { timingSafeEqual } from "hono/utils/buffer";
import { BOOKMARK_COOKIE } from "../db/sessions";
import { getConfig, type AppEnv } from "../env";
import { NOT_CONFIGURED } from "./api-auth";
import { tokenKey } from "./rate-limit";

export const SESSION_COOKIE = "scheduler_session";
export const SESSION_HOURS = 12;

type Ctx = Context<AppEnv>;

export const isLocalhost = (c: Ctx) => ["localhost", "127.0.0.1", "[::1]"].includes(new URL(c.req.url).hostname);

function sessionSecret(c: Ctx): string {
  const { sessionSecret } = getConfig(c.env);
  if (!sessionSecret) throw new HTTPException(503, { message: NOT_CONFIGURED });
  return sessionSecret;
}

/** The configured token equal to `candidate` (constant-time), or null. */
export async function matchingToken(c: Ctx, candidate: string): Promise<string | null> {
  for (const token of getConfig(c.env).apiTokens) if (await timingSafeEqual(token, candidate)) return token;
  return null;
}

export async function startSession(c: Ctx, token: string) {
  const expires = Date.now() + SESSION_HOURS * 3600 * 1000;
  await setSignedCookie(c, SESSION_COOKIE, `${expires}.${await tokenKey(token)}`, sessionSecret(c), {
    httpOnly: true,
    secure: !isLocalhost(c),
    sameSite: "Lax",
    path: "/",
    maxAge: SESSION_HOURS * 3600,
  });
}

/** Signs out: the session cookie goes, and the database bookmark it kept (db/sessions.ts) with it. */
export function endSession(c: Ctx) {
  deleteCookie(c, SESSION_COOKIE, { path: "/", secure: !isLocalhost(c) });
  deleteCookie(c, BOOKMARK_COOKIE, { path: "/", secure: !isLocalhost(c) });
}

async function hasSession(c: Ctx): Promise<boolean> {
  const value = await getSignedCookie(c, sessionSecret(c), SESSION_COOKIE);
  if (!value) return false;
  const [expires, fingerprint] = value.split(".", 2);
  if (!(Number(expires) > Date.now())) return false;
  const current = await Promise.all(getConfig(c.env).apiTokens.map(tokenKey));
  return current.includes(fingerprint ?? "");
}

/**
 * Where to return after signing in: the page asked for; for anything but a GET (a form post, an htmx
 * action), the page the person was on (same site only), since a POST-only path is no page to land on.
 */
function returnPath(c: Ctx): string {
  const url = new URL(c.req.url);
  if (c.req.method === "GET" && c.req.header("HX-Request") !== "true") return url.pathname + url.search;
  const from = c.req.header("HX-Current-URL") ?? c.req.header("Referer");
  if (!from) return "/";
  try {
    const page = new URL(from);
    return page.origin === url.origin ? page.pathname + page.search : "/";
  } catch {
    return "/";
  }
}

/** Dashboard pages and fragments need a session: pages redirect to sign-in, htmx gets 401 + HX-Redirect. */
export const requireSession: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (await hasSession(c)) return next();
  const signIn = `/login?next=${encodeURIComponent(returnPath(c))}`;
  if (c.req.header("HX-Request") === "true") {
    c.header("HX-Redirect", signIn);
    return c.text("Your session has ended; sign in again", 401);
  }
  return c.redirect(signIn, 302);
};
