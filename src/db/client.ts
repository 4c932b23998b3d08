import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

/** A Drizzle client over the request's D1 binding; built per use, never kept in module scope. */
export function getDb(d1: D1Database) {
  return drizzle(d1, { schema });
}

export type Db = ReturnType<typeof getDb>;
