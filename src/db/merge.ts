/**
 * A list across shards: each shard reads its own page of the list (from the same start, in the same
 * order of keys, which sort across shards: db/shards.ts), and the pages merge into the one a single
 * database would have given, with the counts added up. A page by cursor asks each shard for one page;
 * a page by number (`offset` matches skipped) asks each for `offset + limit` keys, since any shard may
 * hold all of the skipped ones (keys alone, then the page's rows from the shards that hold them): deep
 * pages by number cost shards times more index entries, pages by cursor do not.
 */
import type { Env } from "../env";
import type { CountFrom, Keyed, ReadPage, Start } from "../lib/pagination";
import { type Db, getDb } from "./client";
import { byShard, eachShard } from "./shards";

/** One shard's page of `limit` keys from `start`, and its count (as a ReadPage answers). */
export type ReadShard<T> = (db: Db, limit: number, start: Start, count: CountFrom, countLimit: number | null) => ReturnType<ReadPage<T>>;

/**
 * How a deep page by number is read: each shard's keys alone (`offset + limit` of them, without their
 * rows), then only the page's rows, from the shards its keys name.
 */
export interface ByKeys<T> {
  keys: ReadShard<undefined>;
  rows: (db: Db, keys: number[]) => Promise<Keyed<T>[]>;
}

/** The list's page reader over every shard of `env` (the shard's own reader when there is one). */
export function acrossShards<T>(env: Env, limit: number, order: "asc" | "desc", readShard: ReadShard<T>, byKeys?: ByKeys<T>): ReadPage<T> {
  const shards = eachShard(env);
  const dbs = shards.map((shard) => getDb(shard.DB));
  if (dbs.length === 1) return (start, count, countLimit) => readShard(dbs[0]!, limit, start, count, countLimit);
  /** Whether key `a` comes before key `b` in the list. */
  const before = (a: number, b: number) => (order === "desc" ? a > b : a < b);
  const inOrder = (a: { key: number }, b: { key: number }) => (before(a.key, b.key) ? -1 : 1);
  const merge = async <R>(read: ReadShard<R>, start: Start, count: CountFrom, countLimit: number | null) => {
    const offset = "offset" in start ? start.offset : 0;
    const wanted = offset + limit;
    const answers = await Promise.all(dbs.map((db) => read(db, wanted, "offset" in start ? { offset: 0 } : start, count, countLimit)));
    const counted = answers.reduce((sum, answer) => sum + answer.counted, 0);
    const countCutShort = answers.some((answer) => answer.countCutShort);
    // Each row with the shard that gave it (a deep page's rows are read back from there).
    const rows = answers.flatMap((answer, shard) => answer.rows.map((row) => ({ ...row, shard }))).sort(inOrder);
    // Read back from a key: each shard's keys just before it; the page is the merged ones nearest the key.
    if ("before" in start) return { rows: rows.slice(-limit), counted, countCutShort };
    // Read forward: each shard knows its list up to its frontier (its page's last key when the page is
    // full, where its walk stopped when a bounded walk cut it short, else the end). The merged list is
    // known up to the nearest frontier: keys past it may still be missing from a shard.
    let frontier: number | null = null;
    for (const answer of answers) {
      const edge = answer.rows.length === wanted ? answer.rows.at(-1)!.key : (answer.walkedTo ?? null);
      if (edge !== null && (frontier === null || before(edge, frontier))) frontier = edge;
    }
    const known = frontier === null ? rows : rows.filter((row) => !before(frontier, row.key));
    const page = known.slice(offset, wanted);
    return { rows: page, counted, countCutShort, walkedTo: page.length < limit ? frontier : null };
  };
  return async (start, count, countLimit) => {
    if (!byKeys || !("offset" in start) || start.offset === 0) return merge(readShard, start, count, countLimit);
    const { rows: keys, ...rest } = await merge(byKeys.keys, start, count, countLimit);
    const found = await Promise.all(byShard(env, keys, ({ shard }) => shard).map(([k, group]) => byKeys.rows(dbs[k]!, group.map(({ key }) => key))));
    return { rows: found.flat().sort(inOrder), ...rest };
  };
}
