// Shards on this machine: `SHARDS=3 npm start` (and db:backup / db:restore with the same variable) run
// the app over DB, DB_1 and DB_2, each its own local D1 database under the state folder. wrangler.toml
// binds DB alone; for more, a copy of it with the other bindings added is written beside it (the
// paths in it stay right) and wrangler is pointed at the copy.
import { readFileSync, renameSync, writeFileSync } from "node:fs";

/** Most shards a deployment may have (src/db/shards.ts). */
export const MAX_SHARDS = 64;

/** SHARDS from the environment: 1 (the default) to 64. */
export function shardCount() {
  const text = process.env.SHARDS ?? "1";
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > MAX_SHARDS) {
    console.error(`error: SHARDS must be a whole number from 1 to ${MAX_SHARDS}, not '${text}'`);
    process.exit(1);
  }
  return n;
}

/** The binding of shard k. */
export const shardBinding = (k) => (k === 0 ? "DB" : `DB_${k}`);

/** The configuration file for `n` shards locally: wrangler.toml itself for one. */
export function localConfig(n) {
  if (n === 1) return "wrangler.toml";
  const file = `.shards-${n}.wrangler.toml`;
  const extra = Array.from({ length: n - 1 }, (_, i) => {
    const k = i + 1;
    // Local only: each id names its own database file under the state folder.
    return `\n[[d1_databases]]\nbinding = "${shardBinding(k)}"\ndatabase_name = "job-scheduler-${k}"\ndatabase_id = "00000000-0000-0000-0000-${String(k).padStart(12, "0")}"\nmigrations_dir = "migrations"\n`;
  });
  const text = `# Written by scripts/lib/shards.mjs for SHARDS=${n}: wrangler.toml with ${n - 1} more local databases. Do not edit.\n${readFileSync("wrangler.toml", "utf8")}${extra.join("")}`;
  // Written whole, then moved into place: two starts at once never read half a file.
  const temporary = `${file}.${process.pid}`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
  return file;
}
