/**
 * The statements of a page of a list (see lib/pagination.ts): the keys of the page, read from an index
 * alone, and the bounded count of the matches. A list is its matches (`FROM ... WHERE ...`) in the order
 * of a unique integer key that an index keeps, so a page past a key is an index seek and never a walk
 * from the start.
 *
 * Some lists walk an index and `check` a condition on each row the index cannot answer (a search with a
 * status filter walks the search index and reads each match's status). When few rows pass, finding a
 * page could mean walking every entry; instead a page and its count each walk at most `walkLimit`
 * entries. A page that found fewer rows than asked before its walk ended says where it stopped, and the
 * next page goes on from there (see readPage).
 */
import { sql, type SQL } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import { COUNT_PAGES, type CountFrom, type Start } from "../lib/pagination";
import type { Db } from "./client";

export interface KeysetList {
  /** The list's key: unique, and the order of the list (rowid, id, run number). */
  key: SQL;
  /** `table(s) WHERE condition` of the entries walked: more conditions are ANDed to it. */
  matches: SQL;
  order: "asc" | "desc";
  /** A condition each walked row must also pass, that the walked index does not answer. */
  check?: SQL;
  /**
   * The table, when the list is all of it: an exact count is then SQLite's count of its smallest index,
   * less the rows `less` counts (a scalar subquery: rows of the table that no list shows).
   */
  whole?: { table: SQLiteTable; less?: SQL };
}

/**
 * Most entries a page of a checked list, or its count, walks: ten for each match the count looks for
 * (1 010 at the default limit of 10), so a page fills whenever one entry in ten passes the check.
 */
export const walkLimit = (limit: number, offset = 0) => 10 * (COUNT_PAGES * limit + 1 + offset);

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

/** The entries a page starting at `start` walks, in order: past an offset, past a key, or back from one. */
function walk({ key, matches, order }: KeysetList, start: Start) {
  if ("offset" in start) return { from: sql`${matches}`, orderBy: sql`${key} ${sql.raw(order)}` };
  const [bound, op, dir] = "after" in start ? [start.after, past[order], order] : [start.before, past[flip[order]], flip[order]];
  return { from: sql`${matches} AND ${compare(key, op, bound)}`, orderBy: sql`${key} ${sql.raw(dir)}` };
}

/** Whether a page from `start` walks a bounded window (a checked list, read forward). */
export const windowed = (list: KeysetList, start: Start) => list.check !== undefined && !("before" in start);

/**
 * The keys of the page that starts at `start`, `limit` of them: after an offset (the skipped index
 * entries are read), past a cursor's key (an index seek), or the `limit` keys just before a key (read
 * backwards from it; the caller orders the rows). A checked list read forward stops after walkLimit
 * entries, with fewer keys if fewer passed (unless `exact`).
 */
export function pageKeys(list: KeysetList, start: Start, limit: number, { exact = false } = {}): SQL {
  const { key, check } = list;
  const { from: walked, orderBy } = walk(list, start);
  const offset = "offset" in start ? start.offset : 0;
  // (An exact count walks every match anyway: its page is not cut short either.)
  if (check && windowed(list, start) && !exact) {
    return sql`
      SELECT k
      FROM (
        SELECT ${key} AS k, (${check}) AS passed
        FROM ${walked}
        ORDER BY ${orderBy}
        LIMIT ${walkLimit(limit, offset)}
      )
      WHERE passed
      LIMIT ${limit} OFFSET ${offset}`;
  }
  return sql`
    SELECT ${key} AS k
    FROM ${walked}
      AND ${check ?? sql`1`}
    ORDER BY ${orderBy}
    LIMIT ${limit} OFFSET ${offset}`;
}

/** The keys of a page alone, as a statement for a db.batch() (read back with keyedOnly). */
export const pageKeysOnly = (db: Db, list: KeysetList, start: Start, limit: number, countLimit: number | null) =>
  db.select({ k: sql<number>`k`.mapWith(Number) }).from(sql`(${pageKeys(list, start, limit, { exact: countLimit === null })})`);

/** What pageKeysOnly read: each key, with no item. */
export const keyedOnly = (rows: { k: number }[]) => rows.map(({ k }) => ({ key: k, item: undefined }));

/**
 * How many matches there are from `count` on, counting no further than `countLimit` (null: all): a
 * statement for the page's db.batch(). A checked list's count walks the same window as its page (the
 * same entries, from the same start), so it also says how many entries it examined and the last one:
 * where a short page's walk stopped (see windowEnd).
 */
export function countMatches(db: Db, list: KeysetList, count: CountFrom, countLimit: number | null) {
  const { key, matches, order, whole, check } = list;
  // A bare count(*) of a table: SQLite counts the entries of its smallest index page by page (about
  // twice as fast as walking them), which a WHERE clause, even `WHERE 1`, would prevent.
  if (whole && countLimit === null && "start" in count) return db.select(counts(sql`count(*) - ${whole.less ?? sql`0`}`, sql`0`, sql`NULL`)).from(whole.table);
  const condition = "after" in count ? compare(key, past[order], count.after) : "from" in count ? compare(key, from[order], count.from) : sql`1`;
  if (check && countLimit !== null && !("from" in count)) {
    const walked = sql`(
      SELECT ${key} AS k, (${check}) AS passed
      FROM ${matches}
        AND ${condition}
      ORDER BY ${key} ${sql.raw(order)}
      LIMIT ${10 * countLimit}
    )`;
    const last = sql`${sql.raw(order === "desc" ? "min" : "max")}(k)`;
    return db.select(counts(sql`min(coalesce(sum(passed), 0), ${sql.raw(String(countLimit))})`, sql`count(*)`, last)).from(walked);
  }
  const walked = sql`(
    SELECT 1
    FROM ${matches}
      AND ${condition}
      AND ${check ?? sql`1`}
    ${countLimit === null ? sql`` : sql`LIMIT ${countLimit}`}
  )`;
  return db.select(counts(sql`count(*)`, sql`0`, sql`NULL`)).from(walked);
}

/** What a checked list's count says of its window: cut short (a lower bound), and where a short page stopped. */
export function windowEnd(list: KeysetList, start: Start, counted: { examined: number; last: number | null } | undefined, countLimit: number | null) {
  const full = list.check !== undefined && countLimit !== null && counted !== undefined && counted.examined >= 10 * countLimit;
  // The page walked the same window when it read forward from the count's start.
  return { countCutShort: full, walkedTo: full && windowed(list, start) ? counted.last : null };
}

/**
 * The count's columns, each named: D1 hands a batch's rows back as objects keyed by column name, and
 * an unnamed `0` would be keyed "0", which JavaScript puts first, before "count(*)".
 */
const counts = (n: SQL, examined: SQL, last: SQL) => ({
  n: sql<number>`${n}`.mapWith(Number).as("n"),
  examined: sql<number>`${examined}`.mapWith(Number).as("examined"),
  last: sql<number | null>`${last}`.as("last"),
});
