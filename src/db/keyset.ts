/**
 * The two statements of a page of a list (see lib/pagination.ts): the keys of the page, read from an
 * index alone, and the bounded count of the matches. A list is its matches (`FROM ... WHERE ...`) in
 * the order of a unique integer key that an index keeps, so a page past a key is an index seek and
 * never a walk from the start.
 */
import { count as countAll, sql, type SQL } from "drizzle-orm";
import type { CountFrom, Start } from "../lib/pagination";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Db } from "./client";

export interface KeysetList {
  /** The list's key: unique, and the order of the list (rowid, id, run number). */
  key: SQL;
  /** `table(s) WHERE condition` of the matches: more conditions are ANDed to it. */
  matches: SQL;
  order: "asc" | "desc";
  /** For a page by number: an order the same as the key's whose index is more compact to skip through. */
  offsetOrder?: SQL;
  /** The table, when the list is all of it: an exact count is then SQLite's count of its smallest index. */
  whole?: SQLiteTable;
}

const flip = { asc: "desc", desc: "asc" } as const;
/** The comparison that keeps keys past `key` in the list's order (and the reverse, and from `key` on). */
const past = { asc: ">", desc: "<" } as const;
const from = { asc: ">=", desc: "<=" } as const;

/**
 * The key written into the statement as an integer (it is one: cursors are checked): D1 binds a JS
 * number as REAL, and the search index (FTS5) seeks by rowid only for an integer; bound, it walks its
 * matches from the end instead.
 */
const compare = (key: SQL, op: string, value: number) => sql`${key} ${sql.raw(op)} ${sql.raw(String(Math.trunc(value)))}`;

/**
 * The keys of the page that starts at `start`, `limit` of them: after an offset (the skipped index
 * entries are read), past a cursor's key (an index seek), or the `limit` keys just before a key (read
 * backwards from it; the caller orders the rows).
 */
export function pageKeys({ key, matches, order, offsetOrder }: KeysetList, start: Start, limit: number): SQL {
  if ("offset" in start) {
    return sql`
      SELECT ${key}
      FROM ${matches}
      ORDER BY ${offsetOrder ?? sql`${key} ${sql.raw(order)}`}
      LIMIT ${limit} OFFSET ${start.offset}`;
  }
  const [bound, op, dir] = "after" in start ? [start.after, past[order], order] : [start.before, past[flip[order]], flip[order]];
  return sql`
    SELECT ${key}
    FROM ${matches}
      AND ${compare(key, op, bound)}
    ORDER BY ${key} ${sql.raw(dir)}
    LIMIT ${limit}`;
}

/**
 * How many matches there are from `from` on, counting no further than `countLimit` (null: all): a
 * statement for the page's db.batch(). The walk stops after `countLimit` index entries, whatever order
 * it takes them in.
 */
export function countMatches(db: Db, { key, matches, order, whole }: KeysetList, count: CountFrom, countLimit: number | null) {
  // A bare count(*) of a table: SQLite counts the entries of its smallest index page by page (about
  // twice as fast as walking them), which a WHERE clause, even `WHERE 1`, would prevent.
  if (whole && countLimit === null && "start" in count) return db.select({ n: countAll() }).from(whole);
  const condition = "after" in count ? compare(key, past[order], count.after) : "from" in count ? compare(key, from[order], count.from) : sql`1`;
  const walked = sql`(
    SELECT 1
    FROM ${matches}
      AND ${condition}
    ${countLimit === null ? sql`` : sql`LIMIT ${countLimit}`}
  )`;
  return db.select({ n: countAll() }).from(walked);
}
