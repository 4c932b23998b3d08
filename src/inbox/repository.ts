/** Drizzle queries for the built-in webhook inbox. */
import { count, desc } from "drizzle-orm";
import type { Db } from "../db/client";
import { inboxEntries, type InboxEntry } from "../db/schema";

export async function insertEntry(db: Db, entry: Omit<InboxEntry, "id">): Promise<InboxEntry> {
  const [row] = await db.insert(inboxEntries).values(entry).returning();
  return row!;
}

export async function listEntries(db: Db, limit: number, offset: number) {
  const [rows, [total]] = await db.batch([
    db.select().from(inboxEntries).orderBy(desc(inboxEntries.id)).limit(limit).offset(offset),
    db.select({ n: count() }).from(inboxEntries),
  ]);
  return { rows, total: total?.n ?? 0 };
}

export async function clearEntries(db: Db): Promise<number> {
  const rows = await db.delete(inboxEntries).returning({ id: inboxEntries.id });
  return rows.length;
}
