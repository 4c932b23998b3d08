/**
 * Ids that are never given twice, without AUTOINCREMENT (whose `sqlite_sequence` row is one more row
 * written per insert): an insert takes the next id after both the table's largest and its high-water
 * mark, the largest id it ever gave, which a trigger records only when the newest rows are deleted
 * (migration 0012). A plain insert writes its row and its indexes, nothing else.
 * The triggers are hand-written SQL that drizzle-kit does not know: a migration that rebuilds `runs` or
 * `webhook_logs` must create them again (test/delete.test.ts purges the newest job and fails without them).
 */
import { type SQL, sql } from "drizzle-orm";
import type { Db } from "./client";
import { highWater, runs, webhookLogs } from "./schema";
import { MAX_SHARDS, shardedKeyFloor } from "./shards";

const tables = { runs, webhook_logs: webhookLogs } as const;

/**
 * The id of the row an INSERT ... SELECT makes `offset` (0, 1, ... within the statement; gaps allowed).
 * SQLite reads the whole SELECT before inserting into the table it reads, so every row of one statement
 * sees the same largest id and each adds its own offset. With more than one shard, ids are keys that
 * sort across shards and name theirs (db/shards.ts): `time * 64 + shard`, offsets 64 apart.
 */
export function nextId(db: Db, name: keyof typeof tables, offset: SQL): SQL {
  const table = tables[name];
  const largest = sql`max(coalesce((SELECT max(${sql.identifier("id")}) FROM ${table}), 0), coalesce((SELECT ${highWater.id} FROM ${highWater} WHERE ${highWater.name} = ${sql.raw(`'${name}'`)}), 0))`;
  if (db.shard.count === 1) return sql`(${largest} + 1 + ${offset})`;
  return sql`(max(${sql.raw(shardedKeyFloor(db.shard, Date.now()))}, ${largest} + ${sql.raw(String(MAX_SHARDS))}) + ${sql.raw(String(MAX_SHARDS))} * ${offset})`;
}
