import { drizzle } from "drizzle-orm/d1";

/**
 * A Drizzle client over the request's D1 binding; built per use, never kept in module scope.
 * No relational schema is passed: the code uses the query builder only, and extracting the relations
 * config would cost every request.
 */
export function getDb(d1: D1Database) {
  return drizzle(d1);
}

export type Db = ReturnType<typeof getDb>;
