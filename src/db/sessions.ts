/**
 * Read replicas, through D1's Sessions API. Every HTTP request runs its queries in one session: a read
 * (GET, HEAD) may be answered by a replica, a change starts at the primary. The response carries the
 * session's bookmark in `x-d1-bookmark` (and, for a signed-in browser, in a cookie), and a request that
 * sends it back is answered from a copy at least that recent, so a client always reads its own writes.
 * The queue consumer and the Cron Triggers use the primary, outside any session. On a database without
 * replication every session is served by the primary: the same answers, one header more.
 */
import type { MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { z } from "zod";
import type { AppEnv } from "../env";
import { shardBindings, withShards } from "./shards";
import { validate } from "../lib/validate";
import { isLocalhost, SESSION_COOKIE } from "../security/session";

export const BOOKMARK_HEADER = "x-d1-bookmark";
export const BOOKMARK_COOKIE = "d1_bookmark";

/** D1's bookmark: four hex groups (a position in the database's history, sortable as text). */
export const BOOKMARK = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;

/**
 * How long a browser keeps its bookmark: replicas lag seconds behind, so after a few minutes any copy has
 * the change, and a bookmark no copy will reach (one from a database since replaced) does not outlive it.
 */
export const BOOKMARK_COOKIE_SECONDS = 300;

/** A bookmark header: one bookmark, or one per shard comma-separated, each empty or a bookmark. */
export const BOOKMARKS = new RegExp(`^(${BOOKMARK.source.slice(1, -1)})?(,(${BOOKMARK.source.slice(1, -1)})?){0,63}$`);

export const bookmarkHeaders = z.object({
  // Empty is no bookmark, as D1 reads it (a client that echoes `getBookmark() ?? ""` sends one).
  [BOOKMARK_HEADER]: z
    .string()
    .transform((value) => value.replaceAll(" ", "").trim() || undefined)
    .pipe(z.string().regex(BOOKMARKS, `must be a bookmark as an earlier response's ${BOOKMARK_HEADER} header gave it`).optional())
    .optional(),
});

/** The binding behind each request's session: per-database caches key on it, not on the session. */
const bindings = new WeakMap<object, D1Database>();

/** The database binding `db` reads (itself outside a request's session). */
export const bindingOf = (db: D1Database): D1Database => bindings.get(db) ?? db;

const reads = new Set(["GET", "HEAD"]);

/**
 * Where a request's session starts: a change at the primary (which is past any bookmark), a read at the
 * bookmark it sent (a copy at least that recent), else wherever a copy can answer.
 */
export const sessionStart = (method: string, sent: string | undefined) => (!reads.has(method) ? "first-primary" : (sent ?? "first-unconstrained"));

/** The bookmarks a header or cookie holds: one per shard, comma-separated, in shard order (empty: none for that shard). */
const bookmarksOf = (text: string | undefined): (string | undefined)[] => (text === undefined ? [] : text.split(",").map((part) => part.trim() || undefined));

/** Bookmarks as a header or cookie says them: trailing shards without one are left out. */
const joinBookmarks = (marks: (string | undefined)[]) => {
  const kept = [...marks];
  while (kept.length > 0 && kept.at(-1) === undefined) kept.pop();
  return kept.length === 0 ? undefined : kept.map((mark) => mark ?? "").join(",");
};

/**
 * The request's session on every shard, from the bookmarks it sent (a malformed header is a 400; a
 * malformed cookie is ignored). With several shards the bookmark is one per shard, comma-separated.
 */
const session = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  // No binding (a broken deployment): the routes that need D1 say so (/health/ready names it).
  if (!c.env.DB) return next();
  const cookie = getCookie(c, BOOKMARK_COOKIE);
  const kept = cookie && bookmarksOf(cookie).every((mark) => mark === undefined || BOOKMARK.test(mark)) ? bookmarksOf(cookie) : [];
  const header = c.req.header(BOOKMARK_HEADER)?.trim();
  const sent = header ? bookmarksOf(header) : kept;
  const shards = shardBindings(c.env).map(bindingOf);
  const current = shards.map((binding, k) => binding.withSession(sessionStart(c.req.method, sent[k])));
  const handles = current.map((one, k) => {
    const db = one as unknown as D1Database;
    bindings.set(db, shards[k]!);
    return db;
  });
  c.env = withShards(c.env, handles);
  await next();
  // Null where nothing ran yet (a streamed export reads after this point): the one sent still holds.
  const marks = current.map((one, k) => one.getBookmark() ?? sent[k]);
  const bookmark = joinBookmarks(marks);
  if (!bookmark) return;
  try {
    c.res.headers.set(BOOKMARK_HEADER, bookmark);
  } catch {
    return; // a response with immutable headers (none of the app's own): it goes out without one
  }
  // A signed-in browser keeps a change's bookmark in a cookie, so the page after a change shows the change.
  // Only a change sets it: a read answered by a lagging copy (a slow poll arriving after a change's
  // response) would otherwise overwrite the browser's newer cookie with its older bookmark. Each shard
  // keeps the later of the two.
  if (!reads.has(c.req.method) && getCookie(c, SESSION_COOKIE) !== undefined) {
    const latest = joinBookmarks(marks.map((mark, k) => (mark !== undefined && (kept[k] === undefined || mark > kept[k]!) ? mark : kept[k])));
    if (latest && latest !== joinBookmarks(kept)) {
      setCookie(c, BOOKMARK_COOKIE, latest, { path: "/", httpOnly: true, sameSite: "Lax", secure: !isLocalhost(c), maxAge: BOOKMARK_COOKIE_SECONDS });
    }
  }
};

/** The middleware of every HTTP request: the bookmark header checked, then the session. */
export const d1Sessions = () => [validate("header", bookmarkHeaders) as MiddlewareHandler, session()] as const;
