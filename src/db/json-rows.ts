/**
 * Set-based statements for a batch: the batch's values travel as one JSON array bound as a single
 * parameter and are read back with json_each(), so a batch of 100 costs one statement, not 100. (D1
 * caps a statement at 100 bound parameters; 100 log rows have 1 400 values.)
 */
import { getTableColumns, is, SQL, sql } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Db } from "./client";

/**
 * D1 caps one string value at 2 MB: a chunk's JSON stays under 512 Ki characters (at most 1.5 MB of
 * UTF-8). A longer row goes alone; its values are each bounded by the 64 KiB request limit.
 */
const CHUNK_JSON_CHARS = 512 * 1024;

/** `json_each(?)` over `rows`, each row an array: read its fields with `field(i)`. */
export const jsonEach = (rows: readonly unknown[]) => jsonEachOf(JSON.stringify(rows));

const jsonEachOf = (json: string) => sql`json_each(${json})`;

/** Field `i` of the current json_each row (`alias` names the json_each table when it has one). */
export const field = (i: number, alias = "value"): SQL => sql.raw(`json_extract(${alias}, '$[${i}]')`);

/** The values of a json_each(): `(select value from json_each(?))`, for `inArray(column, ...)`. */
export const jsonValues = (values: readonly (string | number)[]) => sql`(select value from ${jsonEach(values)})`;

/**
 * INSERT of many rows as few statements (one per chunk of JSON), each value encoded by its Drizzle
 * column exactly as `db.insert(table).values(row)` would store it. Every row must set the same keys;
 * a column no row sets gets its default, or `computed`'s SQL for it (given the row's offset in its
 * statement: json_each's key). Tables with generated columns are not supported (Drizzle's insert-select
 * lists every column).
 */
export function insertRows<T extends SQLiteTable>(db: Db, table: T, rows: T["$inferInsert"][], computed: Record<string, (offset: SQL) => SQL> = {}) {
  if (rows.length === 0) return [];
  const byKey = getTableColumns(table);
  const keys = Object.keys(rows[0]!);
  const encoded = rows.map((row) =>
    keys.map((key) => {
      const value = (row as Record<string, unknown>)[key];
      const column = byKey[key];
      return value === null || value === undefined || !column ? null : column.mapToDriverValue(value);
    }),
  );
  // Drizzle's insert-select lists every insertable column in table order: select them in that order.
  const select = (chunkJson: string) =>
    sql`select ${sql.join(
      Object.entries(byKey).map(([key, column]) => {
        const i = keys.indexOf(key);
        if (i >= 0) return field(i);
        if (computed[key]) return computed[key](sql.raw("key"));
        return column.default === undefined ? sql`null` : is(column.default, SQL) ? column.default : sql.param(column.default, column);
      }),
      sql`, `,
    )} from ${jsonEachOf(chunkJson)}`;
  return jsonChunks(encoded).map((chunkJson) => db.insert(table).select(select(chunkJson)));
}

/** The rows as JSON arrays of at most CHUNK_JSON_CHARS characters (each row serialized once). */
function jsonChunks(rows: unknown[]): string[] {
  const chunks: string[] = [];
  let current: string[] = [];
  let length = 0;
  for (const row of rows) {
    const json = JSON.stringify(row);
    if (current.length > 0 && length + json.length > CHUNK_JSON_CHARS) {
      chunks.push(`[${current.join(",")}]`);
      current = [];
      length = 0;
    }
    current.push(json);
    length += json.length + 1;
  }
  chunks.push(`[${current.join(",")}]`);
  return chunks;
}
