import { drizzle } from "drizzle-orm/d1";
import { shardOf } from "./shards";

/**
 * A Drizzle client over the request's D1 binding; built per use, never kept in module scope.
 * No relational schema is passed: the code uses the query builder only, and extracting the relations
 * config would cost every request. `shard` says which shard of how many it reads (db/shards.ts): the
 * inserts that make keys need it.
 */
export function getDb(d1: D1Database) {
  return Object.assign(drizzle(d1), { shard: shardOf(d1) });
}

export type Db = ReturnType<typeof getDb>;

/** Rows an UPDATE or DELETE of a batch changed (D1 counts what its triggers wrote too). */
export const changes = (result: unknown) => (result as D1Result).meta.changes;

/**
 * Rows a DELETE ... RETURNING removed. Not its `changes`: D1 counts what triggers wrote too (the
 * high-water mark a delete of the newest row records, db/ids.ts).
 */
export const removed = (rows: readonly unknown[]) => rows.length;
