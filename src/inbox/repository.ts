/** Drizzle queries for the built-in webhook inbox. */
import { desc, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { countMatches, pageKeys, type KeysetList } from "../db/keyset";
import type { CountFrom, Keyed, Start } from "../lib/pagination";
import { inboxEntries, type InboxEntry } from "../db/schema";

export async function insertEntry(db: Db, entry: Omit<InboxEntry, "id">): Promise<InboxEntry> {
  const [row] = await db.insert(inboxEntries).values(entry).returning();
  return row!;
}

const entriesList: KeysetList = { key: sql`${inboxEntries.id}`, matches: sql`${inboxEntries} WHERE 1`, order: "desc", whole: { table: inboxEntries } };

/** A page of entries, newest first, and the bounded count of them (one round trip). */
export async function listEntries(db: Db, limit: number, start: Start, count: CountFrom, countLimit: number | null): Promise<{ rows: Keyed<InboxEntry>[]; counted: number }> {
  const [rows, [counted]] = await db.batch([
    db.select().from(inboxEntries).where(sql`${inboxEntries.id} IN (${pageKeys(entriesList, start, limit)})`).orderBy(desc(inboxEntries.id)),
    countMatches(db, entriesList, count, countLimit),
  ]);
  return { rows: rows.map((row) => ({ key: row.id, item: row })), counted: counted?.n ?? 0 };
}

export async function clearEntries(db: Db): Promise<number> {
  const rows = await db.delete(inboxEntries).returning({ id: inboxEntries.id });
  return rows.length;
}
