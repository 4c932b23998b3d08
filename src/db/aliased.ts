/**
 * A joined table's columns under names of their own. D1's batch() hands rows back as objects keyed by
 * column name, so two columns of one name in a select (jobs.id and runs.id) would overwrite each other;
 * each column here is selected `AS <prefix>_<name>` and decoded as the column itself would be.
 */
import { getTableColumns, sql, type Column, type SQL, type Table } from "drizzle-orm";

export type AliasedColumns<T extends Table> = { [K in keyof T["_"]["columns"]]: SQL.Aliased<T["_"]["columns"][K]["_"]["data"] | null> };

export function aliasedColumns<T extends Table>(table: T, prefix: string): AliasedColumns<T> {
  const columns = getTableColumns(table) as Record<string, Column>;
  return Object.fromEntries(Object.entries(columns).map(([key, column]) => [key, sql`${column}`.mapWith(column).as(`${prefix}_${key}`)])) as AliasedColumns<T>;
}

/** A left-joined row read through aliasedColumns: null when the join found nothing (its key is null). */
export function joined<R>(row: Record<string, unknown>, key: string): R | null {
  return row[key] === null ? null : (row as R);
}
