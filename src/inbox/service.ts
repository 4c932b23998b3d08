/**
 * The built-in webhook inbox: a receiver inside the app that records every request it gets, so the
 * whole job -> webhook loop can be watched offline. Enabled by WEBHOOK_INBOX_ENABLED (local dev only).
 */
import { getDb } from "../db/client";
import { getConfig, type Env } from "../env";
import { notFound } from "../lib/errors";
import { offsetOf, toPage, type PageRequest } from "../lib/pagination";
import * as repo from "./repository";

/** Headers worth keeping from a received webhook (the rest is transport noise). */
const KEPT_HEADERS = /^(content-type|user-agent|webhook-.*)$/i;

function ensureEnabled(env: Env) {
  if (!getConfig(env).inboxEnabled) throw notFound("Route", "/webhooks/inbox");
}

export async function receive(env: Env, headers: Headers, rawBody: string) {
  ensureEnabled(env);
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
  const { rows, total } = await repo.listEntries(getDb(env.DB), page.limit, offsetOf(page));
  return toPage(rows, total, page);
}

export async function clear(env: Env) {
  ensureEnabled(env);
  return repo.clearEntries(getDb(env.DB));
}
