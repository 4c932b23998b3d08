#!/usr/bin/env node
// `npm run db:restore -- --input FILE --local [--persist-to DIR] | --remote --env NAME`: a backup made by
// `npm run db:backup`, into an empty database. The migrations make the schema (the search index and
// its triggers included), the backup's INSERTs bring the rows, and the search index is rebuilt from
// jobs (the triggers index each row as it is inserted; the rebuild replaces the whole index, so
// nothing is indexed twice) and then checked against it.
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { DATA_TABLES_SQL, fail, FTS_TABLES_SQL, migrationNames, parseTarget, queries, query, wrangler } from "./d1.mjs";

const { target, values } = parseTarget(process.argv.slice(2), { input: true });
const input = resolve(values.input ?? fail("say which backup: --input FILE"));

/** The migrations the backup was taken at, from its last line (read without loading the whole file). */
function backupMigrations(file) {
  const size = statSync(file).size;
  const length = Math.min(size, 64 * 1024);
  const buffer = Buffer.alloc(length);
  const fd = openSync(file, "r");
  readSync(fd, buffer, 0, length, size - length);
  closeSync(fd);
  const line = /^-- migrations: (.*)$/m.exec(buffer.toString("utf8"));
  if (!line) fail(`${file} is not a backup made by npm run db:backup (no migrations line at its end)`);
  return line[1].split(" ").filter(Boolean);
}

// INSERTs name no columns: the rows fit the schema of the backup's migrations exactly.
const taken = backupMigrations(input);
const ours = migrationNames();
if (taken.join(" ") !== ours.join(" ")) {
  fail(
    `the backup was taken at migrations [${taken.join(", ")}] and this code has [${ours.join(", ")}]: ` +
      "restore with the version of the code that took it (git checkout), then upgrade as usual (npm run db:migrate:local, or db:migrate:remote -- --env NAME)",
  );
}

const hasJobs = query(target, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name = 'jobs'").length > 0;
if (hasJobs && query(target, "SELECT count(*) AS n FROM jobs")[0].n > 0) {
  fail("the target database already has jobs: restore into an empty database (a new --persist-to folder, or a new D1 database)");
}

console.log("[restore] applying the migrations");
wrangler(target, "migrations apply", []);
// Rows a migration wrote (0014 starts a walk's cursor where it ran) give way to the backup's own.
const seeded = queries(target, DATA_TABLES_SQL)[0].map(({ name }) => `DELETE FROM "${name.replaceAll('"', '""')}";`);
if (seeded.length > 0) wrangler(target, "execute", ["--command", seeded.join(" "), "--yes"]);
console.log(`[restore] importing ${input}`);
wrangler(target, "execute", ["--file", input, "--yes"]);

const [ftsTables, dataTables] = queries(target, FTS_TABLES_SQL, DATA_TABLES_SQL);
for (const { name } of ftsTables) {
  console.log(`[restore] rebuilding the search index ${name}`);
  const id = `"${name.replaceAll('"', '""')}"`;
  wrangler(target, "execute", ["--command", `INSERT INTO ${id}(${id}) VALUES ('rebuild'); INSERT INTO ${id}(${id}) VALUES ('integrity-check');`, "--yes"]);
}

// Every table's count in one call.
const counted = dataTables.length === 0 ? [] : queries(target, ...dataTables.map(({ name }) => `SELECT count(*) AS n FROM "${name.replaceAll('"', '""')}"`));
for (const [i, { name }] of dataTables.entries()) console.log(`[restore] ${name}: ${counted[i][0].n} rows`);
console.log("[restore] done");
