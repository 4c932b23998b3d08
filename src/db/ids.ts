/**
 * Ids that are never given twice, without AUTOINCREMENT (whose `sqlite_sequence` row is one more row
 * written per insert): an insert takes the next id after both the table's largest and its high-water
 * mark, the largest id it ever gave, which a trigger records only when the newest rows are deleted
 * (migration 0012). A plain insert writes its row and its indexes, nothing else.
 * The triggers are hand-written SQL that drizzle-kit does not know: a migration that rebuilds `runs` or
 * `webhook_logs` must create them again (test/delete.test.ts purges the newest job and fails without them).
 */
import { type SQL, sql } from "drizzle-orm";
import { highWater, runs, webhookLogs } from "./schema";

const tables = { runs, webhook_logs: webhookLogs } as const;

/**
 * The id of the row an INSERT ... SELECT makes `offset` (0, 1, ... within the statement; gaps allowed).
 * SQLite reads the whole SELECT before inserting into the table it reads, so every row of one statement
 * sees the same largest id and each adds its own offset.
 */
export function nextId(name: keyof typeof tables, offset: SQL): SQL {
  const table = tables[name];
  return sql`(max(coalesce((SELECT max(${sql.identifier("id")}) FROM ${table}), 0), coalesce((SELECT ${highWater.id} FROM ${highWater} WHERE ${highWater.name} = ${sql.raw(`'${name}'`)}), 0)) + 1 + ${offset})`;
}
