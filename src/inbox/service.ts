/**
 * The built-in webhook inbox: a receiver inside the app that records every request it gets, so the
 * whole job -> webhook loop can be watched offline. Enabled by WEBHOOK_INBOX_ENABLED (local dev only).
 * It accepts only correctly signed webhooks, as a real receiver should; with no signing secret
 * configured it can verify nothing, so it refuses everything and says what to set.
 */
import { Webhook } from "standardwebhooks";
import { getDb } from "../db/client";
import { getConfig, type Env } from "../env";
import { notFound, unauthorized } from "../lib/errors";
import { readPage, type PageRequest } from "../lib/pagination";
import * as repo from "./repository";

/** Headers worth keeping from a received webhook (the rest is transport noise). */
const KEPT_HEADERS = /^(content-type|user-agent|webhook-.*)$/i;

function ensureEnabled(env: Env) {
  if (!getConfig(env).inboxEnabled) throw notFound("Route", "/webhooks/inbox");
}

/** Standard Webhooks verification (signature and a 5-minute timestamp window) with any configured secret. */
function verified(secrets: string[], headers: Headers, rawBody: string): boolean {
  const h = Object.fromEntries(headers);
  return secrets.some((secret) => {
    try {
      new Webhook(secret).verify(rawBody, h);
      return true;
    } catch {
      return false;
    }
  });
}

export async function receive(env: Env, headers: Headers, rawBody: string) {
  ensureEnabled(env);
  const { signingSecrets } = getConfig(env);
  if (signingSecrets.length === 0) {
    throw unauthorized("The inbox accepts only signed webhooks and no signing secret is configured: set WEBHOOK_SECRET");
  }
  if (!verified(signingSecrets, headers, rawBody)) {
    throw unauthorized("Webhook signature missing, invalid or too old (Standard Webhooks, WEBHOOK_SECRET)");
  }
  let body: unknown = rawBody;
  try {
    body = JSON.parse(rawBody);
  } catch {
    // Not JSON: keep the text as it came.
  }
  const kept = Object.fromEntries([...headers].filter(([name]) => KEPT_HEADERS.test(name)));
  return repo.insertEntry(getDb(env.DB), { receivedAt: new Date(), headers: kept, body });
}

export async function list(env: Env, page: PageRequest) {
  ensureEnabled(env);
  const db = getDb(env.DB);
  return readPage(page, (start, from, countLimit) => repo.listEntries(db, page.limit, start, from, countLimit), { list: "inbox" });
}

export async function clear(env: Env) {
  ensureEnabled(env);
  return repo.clearEntries(getDb(env.DB));
}
