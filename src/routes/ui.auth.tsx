/** Dashboard sign-in and sign-out. Sign-in is limited per client IP against brute force. */
import { zValidator } from "@hono/zod-validator";
import { Hono, type Context } from "hono";
import { z } from "zod";
import type { AppEnv } from "../env";
import { csrfGuard } from "../security/csrf";
import { clientIp, overLimit, RATE_LIMIT_PERIOD_SECONDS, tooManyMessage } from "../security/rate-limit";
import { endSession, matchingToken, requireSession, startSession } from "../security/session";
import { SignInPage } from "../views/sign-in";
import { renderPage } from "./ui.shared";

/** Only a path on this site (never `//evil.example`), so sign-in cannot redirect elsewhere. */
const localPath = z
  .string()
  .max(2000)
  .regex(/^\/(?!\/)[^\s\\]*$/)
  .catch("/");

const signInForm = z.object({ token: z.string().max(512).catch(""), next: localPath });

const page = (c: Context<AppEnv>, next: string, error?: string, status: 200 | 401 | 429 = 200) =>
  renderPage(c, "jobs", "Sign in", <SignInPage next={next} error={error} />, status, { signedIn: false });

export const uiAuth = new Hono<AppEnv>()
  .get("/login", zValidator("query", z.object({ next: localPath.optional() })), (c) => page(c, c.req.valid("query").next ?? "/"))

  .post("/login", csrfGuard, zValidator("form", signInForm), async (c) => {
    const { token, next } = c.req.valid("form");
    if (await overLimit(c.env.SIGNIN_RATE_LIMITER, `signin:${clientIp(c)}`)) {
      c.header("Retry-After", String(RATE_LIMIT_PERIOD_SECONDS));
      return page(c, next, tooManyMessage("sign-in attempts"), 429);
    }
    const matched = token ? await matchingToken(c, token) : null;
    if (!matched) return page(c, next, "That token is not valid.", 401);
    await startSession(c, matched);
    return c.redirect(next, 303);
  })

  .post("/logout", requireSession, csrfGuard, (c) => {
    endSession(c);
    return c.redirect("/login", 303);
  });
