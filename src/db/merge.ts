/**
 * A list across shards: each shard reads its own page of the list (from the same start, in the same
 * order of keys, which sort across shards: db/shards.ts), and the pages merge into the one a single
 * database would have given, with the counts added up. A page by cursor asks each shard for one page;
 * a page by number (`offset` matches skipped) asks each for `offset + limit` keys, since any shard may
 * hold all of the skipped ones: deep pages by number cost shards times more, pages by cursor do not.
 */
import type { Env } from "../env";
import type { CountFrom, ReadPage, Start } from "../lib/pagination";
import { type Db, getDb } from "./client";
import { eachShard } from "./shards";

/** One shard's page of `limit` keys from `start`, and its count (as a ReadPage answers). */
export type ReadShard<T> = (db: Db, limit: number, start: Start, count: CountFrom, countLimit: number | null) => ReturnType<ReadPage<T>>;

/** The list's page reader over every shard of `env` (the shard's own reader when there is one). */
export function acrossShards<T>(env: Env, limit: number, order: "asc" | "desc", readShard: ReadShard<T>): ReadPage<T> {
  const dbs = eachShard(env).map((shard) => getDb(shard.DB));
  if (dbs.length === 1) return (start, count, countLimit) => readShard(dbs[0]!, limit, start, count, countLimit);
  /** Whether key `a` comes before key `b` in the list. */
  const before = (a: number, b: number) => (order === "desc" ? a > b : a < b);
  const inOrder = (a: { key: number }, b: { key: number }) => (before(a.key, b.key) ? -1 : 1);
  return async (start, count, countLimit) => {
    const offset = "offset" in start ? start.offset : 0;
    const wanted = offset + limit;
    const answers = await Promise.all(dbs.map((db) => readShard(db, wanted, "offset" in start ? { offset: 0 } : start, count, countLimit)));
    const counted = answers.reduce((sum, answer) => sum + answer.counted, 0);
    const countCutShort = answers.some((answer) => answer.countCutShort);
    const rows = answers.flatMap((answer) => answer.rows).sort(inOrder);
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
}
