/** Where a pass that walks a table in order stopped (the `cursors` table): one row per walk, by name. */
import { eq } from "drizzle-orm";
import type { Db } from "./client";
import { cursors } from "./schema";

export interface Cursor {
  at: number;
  id: number;
}

export function readCursor(db: Db, name: string) {
  return db.select({ at: cursors.at, id: cursors.id }).from(cursors).where(eq(cursors.name, name));
}

/** Moves the walk to `cursor`; null starts the next pass from the beginning. */
export function writeCursor(db: Db, name: string, cursor: Cursor | null) {
  if (!cursor) return db.delete(cursors).where(eq(cursors.name, name));
  return db
    .insert(cursors)
    .values({ name, ...cursor })
    .onConflictDoUpdate({ target: cursors.name, set: cursor });
}
