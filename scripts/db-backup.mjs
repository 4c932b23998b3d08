#!/usr/bin/env node
// `npm run db:backup -- --local [--persist-to DIR] | --remote --env NAME [--output FILE]`: the rows of every data
// table as SQL INSERTs (wrangler d1 export --no-schema --table ...), for `npm run db:restore`.
// A plain `wrangler d1 export` refuses this database: the search index (jobs_fts) is a virtual table.
// The index and its shadow tables are left out (restore rebuilds them from jobs), and so is
// d1_migrations (restore applies the migrations); the id counters are kept (the high_water table is
// data, and the AUTOINCREMENT counters of the tables that have one), so a restored database never
// hands out a run id or log id that was used before.
import { appendFileSync, mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DATA_TABLES_SQL, parseTarget, queries, query, wrangler } from "./d1.mjs";

const { target, values } = parseTarget(process.argv.slice(2), { output: true });
const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "Z");
const output = resolve(values.output ?? `backups/job-scheduler-${target.remote ? target.env : "local"}-${stamp}.sql`);
mkdirSync(dirname(output), { recursive: true });

const [tableRows, migrationRows] = queries(target, DATA_TABLES_SQL, "SELECT name FROM d1_migrations ORDER BY id");
const tables = tableRows.map((row) => row.name);
const migrations = migrationRows.map((row) => row.name);
console.log(`[backup] tables: ${tables.join(", ")}`);
wrangler(target, "export", ["--no-schema", ...tables.flatMap((table) => ["--table", table]), "--output", output, "--skip-confirmation"]);

// Inserting rows with their ids moves each counter up to the largest id restored; these lines put it
// back where it was (higher, when the newest rows had been deleted).
const quote = (text) => `'${String(text).replaceAll("'", "''")}'`;
const counters = query(target, "SELECT name, seq FROM sqlite_sequence")
  .filter(({ name }) => tables.includes(name))
  .flatMap(({ name, seq }) => [
    `UPDATE sqlite_sequence SET seq = max(seq, ${Number(seq)}) WHERE name = ${quote(name)};`,
    `INSERT INTO sqlite_sequence (name, seq) SELECT ${quote(name)}, ${Number(seq)} WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ${quote(name)});`,
  ]);
// Restore reads the last line: the rows fit the schema these migrations made, and no other.
appendFileSync(output, `\n${counters.join("\n")}\n-- migrations: ${migrations.join(" ")}\n`);

console.log(`[backup] ${output} (${statSync(output).size} bytes): restore it with npm run db:restore -- --input ${output} and --local or --remote --env NAME`);
