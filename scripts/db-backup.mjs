#!/usr/bin/env node
// `npm run db:backup -- --local [--persist-to DIR] | --remote --env NAME [--output FILE]`: the rows of every data
// table as SQL INSERTs (wrangler d1 export --no-schema --table ...), for `npm run db:restore`.
// A plain `wrangler d1 export` refuses this database: the search index (jobs_fts) is a virtual table.
// The index and its shadow tables are left out (restore rebuilds them from jobs), and so is
// d1_migrations (restore applies the migrations); the id counters are kept (the high_water table is
// data, and the AUTOINCREMENT counters of the tables that have one), so a restored database never
// hands out a run id or log id that was used before.
// Every shard is backed up (SHARDS=N locally, as npm start; an environment's DB, DB_1, ... remotely):
// shard 0 into FILE, shard k into FILE with `.shard-k` before its extension (shardFile).
import { appendFileSync, mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DATA_TABLES_SQL, parseTarget, queries, shardFile, shardsOf, wrangler } from "./d1.mjs";

const { target, values } = parseTarget(process.argv.slice(2), { output: true });
const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "Z");
const output = resolve(values.output ?? `backups/job-scheduler-${target.remote ? target.env : "local"}-${stamp}.sql`);
mkdirSync(dirname(output), { recursive: true });

/** Keys at or past this were made by a sharded deployment (src/db/shards.ts): a job's rowid must be kept. */
const SHARDED_KEYS_FROM = 2 ** 40;
const quote = (text) => `'${String(text).replaceAll("'", "''")}'`;

const shards = await shardsOf(target);
for (const [k, shard] of shards.entries()) {
  const file = shardFile(output, k);
  const [tableRows, migrationRows] = queries(shard, DATA_TABLES_SQL, "SELECT name FROM d1_migrations ORDER BY id");
  const tables = tableRows.map((row) => row.name);
  const migrations = migrationRows.map((row) => row.name);
  console.log(`[backup] ${shard.binding}: tables ${tables.join(", ")}`);
  wrangler(shard, "export", ["--no-schema", ...tables.flatMap((table) => ["--table", table]), "--output", file, "--skip-confirmation"]);
  // Read after the export, so that they cover every row it holds (a key or counter of a row made since
  // only moves a row the restore does not have, or a counter up): the counters and the sharded rowids.
  const [sequenceRows, keyRows] = queries(shard, "SELECT name, seq FROM sqlite_sequence", `SELECT rowid AS k, id FROM jobs WHERE rowid >= ${SHARDED_KEYS_FROM} ORDER BY rowid`);

  // Inserting rows with their ids moves each counter up to the largest id restored; these lines put it
  // back where it was (higher, when the newest rows had been deleted).
  const counters = sequenceRows
    .filter(({ name }) => tables.includes(name))
    .flatMap(({ name, seq }) => [
      `UPDATE sqlite_sequence SET seq = max(seq, ${Number(seq)}) WHERE name = ${quote(name)};`,
      `INSERT INTO sqlite_sequence (name, seq) SELECT ${quote(name)}, ${Number(seq)} WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ${quote(name)});`,
    ]);
  // A job's rowid is not a column, so the export leaves it out; a sharded deployment's is its place in
  // every list across shards, and is put back (the search index is rebuilt from the rows after).
  const keys = keyRows.map(({ k, id }) => `UPDATE jobs SET rowid = ${Number(k)} WHERE id = ${quote(id)};`);
  // Restore reads the last lines: the rows fit the schema these migrations made, and no other; and which shard of how many.
  appendFileSync(file, `\n${[...keys, ...counters].join("\n")}\n-- shard: ${k} of ${shards.length}\n-- migrations: ${migrations.join(" ")}\n`);
  console.log(`[backup] ${file} (${statSync(file).size} bytes)`);
}
console.log(`[backup] restore with npm run db:restore -- --input ${output} and --local or --remote --env NAME${shards.length > 1 ? ` (SHARDS=${shards.length} locally: every shard's file is read)` : ""}`);
