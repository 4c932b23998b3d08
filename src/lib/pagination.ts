/**
 * Pages of a list, by number or by cursor, with a bounded count. Every list (jobs, logs, a job's runs,
 * the inbox) is in the order of a unique integer key (rowid, id, run number), so a page can start
 * after a key (a cursor: it reads one page at any depth) or after `offset` matches (a page number: it
 * skips `offset` index entries first). The count walks the matches from where the page starts through
 * COUNT_PAGES pages and stops: past that the total is a lower bound (`totalExact: false`), so a page
 * costs about eleven pages of index entries however long the list is.
 */
import { z } from "zod";

/** How many pages ahead of the one asked for a list counts its matches (100 at the default limit of 10). */
export const COUNT_PAGES = 10;

export const LISTS = ["jobs", "logs", "runs", "inbox"] as const;
export type ListName = (typeof LISTS)[number];

/** Where a page starts: after `offset` matches (a page number), or past a key in either direction (a cursor). */
export type Start = { offset: number } | { after: number } | { before: number };
/** Where the count starts: the list's start, past a key, or at a key (included). */
export type CountFrom = { start: true } | { after: number } | { from: number };

/**
 * What a cursor holds: the list it belongs to (and the order, for jobs), the direction, the key it
 * starts past, and how many items come before the page it leads to (for the page number and total).
 */
export interface Cursor {
  list: ListName;
  sort?: "newest" | "oldest";
  dir: "next" | "prev";
  key: number;
  at: number;
}

const cursorShape = z.object({
  l: z.enum(LISTS),
  s: z.enum(["newest", "oldest"]).optional(),
  d: z.enum(["next", "prev"]),
  k: z.number().int(),
  a: z.number().int().min(0),
});

const base64url = (text: string) => btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

/** Opaque to clients: base64url of a small JSON object. */
export function encodeCursor({ list, sort, dir, key, at }: Cursor): string {
  return base64url(JSON.stringify({ l: list, ...(sort ? { s: sort } : {}), d: dir, k: key, a: at }));
}

/** The cursor a string holds, or null when it is not one this API made. */
export function decodeCursor(text: string): Cursor | null {
  try {
    const json = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    const parsed = cursorShape.safeParse(JSON.parse(json));
    if (!parsed.success) return null;
    const { l, s, d, k, a } = parsed.data;
    return { list: l, ...(s ? { sort: s } : {}), dir: d, key: k, at: a };
  } catch {
    return null;
  }
}

export const BAD_CURSOR = "cursor is not valid: pass pagination.nextCursor or prevCursor exactly as an answer of this list gave it";

/** The `cursor` query parameter of a list: an opaque string from a previous answer, checked here (400 if not). */
export const cursorParam = (list: ListName) =>
  z
    .preprocess((v) => (v === "" ? undefined : v), z.string().max(400, BAD_CURSOR).optional())
    .refine((v) => v === undefined || decodeCursor(v)?.list === list, BAD_CURSOR)
    .meta({ description: "pagination.nextCursor or prevCursor of a previous answer: the page next to that one, read at any depth for the cost of one page (page is then ignored)" });

export interface PageRequest {
  limit: number;
  page: number;
  /** An encoded cursor (validated by cursorParam); it wins over `page`. */
  cursor?: string;
}

export interface PageInfo {
  page: number;
  limit: number;
  total: number;
  /** At least this many pages when the total is not exact. */
  totalPages: number;
  /** False when the count stopped COUNT_PAGES pages ahead: there are `total` items, and more. */
  totalExact: boolean;
  /** The next page, read by key (null on the last page). */
  nextCursor: string | null;
  /** The page before, read by key (null on the first page). */
  prevCursor: string | null;
}

export interface Page<T> {
  items: T[];
  pagination: PageInfo;
}

/** A row of a list with its key (the cursor of a page that starts past it). */
export interface Keyed<T> {
  key: number;
  item: T;
}

/**
 * One page's rows and the count of matches from `count` (at most `countLimit`, when given).
 * `countCutShort`: the count stopped walking before it found `countLimit` (a lower bound, whatever it is).
 * `walkedTo`: for a page that walked a bounded window to its end, the last key it examined (null: it
 * reached the end of the list first).
 */
export type ReadPage<T> = (
  start: Start,
  count: CountFrom,
  countLimit: number | null,
) => Promise<{ rows: Keyed<T>[]; counted: number; countCutShort?: boolean; walkedTo?: number | null }>;

export interface ListOf {
  list: ListName;
  sort?: "newest" | "oldest";
  /** Count every match (the original /get-jobs, `count=exact`): the cost of the whole list. */
  exact?: boolean;
}

/**
 * Reads a page as `request` asks (by cursor, or by number) through `read`, and says where it is: its
 * number, the total (exact or a lower bound) and the cursors of the pages beside it.
 */
export async function readPage<T>(request: PageRequest, read: ReadPage<T>, { list, sort, exact = false }: ListOf): Promise<Page<T>> {
  const { limit } = request;
  const cursor = request.cursor === undefined ? null : decodeCursor(request.cursor);
  if (request.cursor !== undefined && !cursor) throw new Error(BAD_CURSOR); // validated before: a bug if reached
  const ahead = COUNT_PAGES * limit;

  const readFrom = async (offset: number) => {
    const answer = await read({ offset }, { start: true }, exact ? null : offset + ahead + 1);
    return { answer, before: offset, total: exact ? answer.counted : Math.min(answer.counted, offset + ahead), totalExact: exact || answer.counted <= offset + ahead };
  };
  const readPast = async (key: number, at: number) => {
    const answer = await read({ after: key }, exact ? { start: true } : { after: key }, exact ? null : ahead + 1);
    return { answer, before: at, total: exact ? answer.counted : at + Math.min(answer.counted, ahead), totalExact: exact || answer.counted <= ahead };
  };
  const readBack = async (key: number, at: number) => {
    const answer = await read({ before: key }, exact ? { start: true } : { from: key }, exact ? null : ahead + 1);
    // Fewer than a page before the key: this is the start of the list, read as page 1.
    if (answer.rows.length < limit) return readFrom(0);
    return { answer, before: at, total: exact ? answer.counted : at + answer.rows.length + Math.min(answer.counted, ahead), totalExact: exact || answer.counted <= ahead };
  };
  const found = !cursor ? await readFrom((request.page - 1) * limit) : cursor.dir === "next" ? await readPast(cursor.key, cursor.at) : await readBack(cursor.key, cursor.at);
  const { answer, before } = found;
  const rows = answer.rows;
  let { total, totalExact } = found;
  if (answer.countCutShort) {
    // The count stopped walking before it found enough: at least what was found, and more to come.
    total = Math.max(total, before + rows.length + (rows.length === limit ? 1 : 0));
    totalExact = false;
  }
  // A short page whose walk stopped before the end of the list: the next page goes on from there.
  const stoppedAt = rows.length < limit ? (answer.walkedTo ?? null) : null;
  if (stoppedAt !== null) {
    total = Math.max(total, before + rows.length + 1);
    totalExact = false;
  }

  const page = Math.floor(before / limit) + 1;
  const first = rows[0];
  const last = rows.at(-1);
  const more = rows.length === limit && total > before + rows.length;
  const next = stoppedAt !== null ? stoppedAt : more && last !== undefined ? last.key : null;
  return {
    items: rows.map((row) => row.item),
    pagination: {
      page,
      limit,
      total,
      totalPages: Math.max(Math.ceil(total / limit), rows.length > 0 ? page : 0),
      totalExact,
      nextCursor: next === null ? null : encodeCursor({ list, sort, dir: "next", key: next, at: before + rows.length }),
      prevCursor: before > 0 && first !== undefined ? encodeCursor({ list, sort, dir: "prev", key: first.key, at: Math.max(0, before - limit) }) : null,
    },
  };
}

/** A page of nothing (the inbox just cleared). */
export const emptyPage = (limit: number): PageInfo => ({ page: 1, limit, total: 0, totalPages: 0, totalExact: true, nextCursor: null, prevCursor: null });
