#!/usr/bin/env node
// `npm run db:restore -- --input FILE --local [--persist-to DIR] | --remote --env NAME`: a backup made by
// `npm run db:backup`, into an empty database. The migrations make the schema (the search index and
// its triggers included), the backup's INSERTs bring the rows, and the search index is rebuilt from
// jobs (the triggers index each row as it is inserted; the rebuild replaces the whole index, so
// nothing is indexed twice) and then checked against it. Every shard is restored (SHARDS=N locally, as
// npm start; an environment's DB, DB_1, ... remotely), each from its own file of the backup.
import { appendFileSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DATA_TABLES_SQL, fail, FTS_TABLES_SQL, migrationNames, parseTarget, queries, query, shardFile, shardsOf, wrangler } from "./d1.mjs";

const { target, values } = parseTarget(process.argv.slice(2), { input: true });
const input = resolve(values.input ?? fail("say which backup: --input FILE"));

/** The migrations the backup was taken at and which shard of how many, from its last lines (read without loading the whole file). */
function backupTail(file) {
  const size = statSync(file).size;
  const length = Math.min(size, 64 * 1024);
  const buffer = Buffer.alloc(length);
  const fd = openSync(file, "r");
  readSync(fd, buffer, 0, length, size - length);
  closeSync(fd);
  const tail = buffer.toString("utf8");
  const line = /^-- migrations: (.*)$/m.exec(tail);
  if (!line) fail(`${file} is not a backup made by npm run db:backup (no migrations line at its end)`);
  // A backup from before shards is shard 0 of 1.
  const shard = /^-- shard: (\d+) of (\d+)$/m.exec(tail);
  return { migrations: line[1].split(" ").filter(Boolean), shard: shard ? Number(shard[1]) : 0, of: shard ? Number(shard[2]) : 1 };
}

const shards = await shardsOf(target);
const inputs = shards.map((_, k) => shardFile(input, k));
for (const [k, file] of inputs.entries()) {
  if (!existsSync(file)) fail(`the deployment has ${shards.length} shards and the backup has no file for shard ${k} (${file}): restore a backup of ${shards.length} shards`);
  const { shard, of } = backupTail(file);
  if (shard !== k || of !== shards.length) fail(`${file} is shard ${shard} of a backup of ${of} shards, and this is shard ${k} of ${shards.length}: restore into a deployment of as many shards (SHARDS=${of} locally)`);
}

// INSERTs name no columns: the rows fit the schema of the backup's migrations exactly.
const taken = backupTail(input).migrations;
const ours = migrationNames();
if (taken.join(" ") !== ours.join(" ")) {
  fail(
    `the backup was taken at migrations [${taken.join(", ")}] and this code has [${ours.join(", ")}]: ` +
      "restore with the version of the code that took it (git checkout), then upgrade as usual (npm run db:migrate:local, or db:migrate:remote -- --env NAME)",
  );
}

// Every shard empty before any is written: a refused restore changes nothing.
for (const shard of shards) {
  const hasJobs = query(shard, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name = 'jobs'").length > 0;
  if (hasJobs && query(shard, "SELECT count(*) AS n FROM jobs")[0].n > 0) {
    fail(`the target database${shards.length > 1 ? ` ${shard.binding}` : ""} already has jobs: restore into an empty database (a new --persist-to folder, or a new D1 database)`);
  }
}

for (const [k, shard] of shards.entries()) {
  const label = shards.length > 1 ? ` ${shard.binding}:` : "";
  console.log(`[restore]${label} applying the migrations`);
  wrangler(shard, "migrations apply", []);
  const [ftsTables, dataTables] = queries(shard, FTS_TABLES_SQL, DATA_TABLES_SQL);
  const quoted = (name) => `"${name.replaceAll('"', '""')}"`;
  // One import of everything (each wrangler run costs seconds): rows a migration wrote (0014 starts a
  // walk's cursor where it ran) give way to the backup's own, then the backup's rows, then each search
  // index rebuilt from jobs and checked.
  const dir = mkdtempSync(join(tmpdir(), "d1-restore-"));
  try {
    const file = join(dir, "restore.sql");
    writeFileSync(file, dataTables.map(({ name }) => `DELETE FROM ${quoted(name)};\n`).join(""));
    appendFileSync(file, readFileSync(inputs[k]));
    appendFileSync(file, ftsTables.map(({ name }) => `\nINSERT INTO ${quoted(name)}(${quoted(name)}) VALUES ('rebuild');\nINSERT INTO ${quoted(name)}(${quoted(name)}) VALUES ('integrity-check');`).join("") + "\n");
    console.log(`[restore]${label} importing ${inputs[k]}${ftsTables.length > 0 ? ` and rebuilding the search index ${ftsTables.map(({ name }) => name).join(", ")}` : ""}`);
    wrangler(shard, "execute", ["--file", file, "--yes"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Every table's count in one call.
  const counted = dataTables.length === 0 ? [] : queries(shard, ...dataTables.map(({ name }) => `SELECT count(*) AS n FROM ${quoted(name)}`));
  for (const [i, { name }] of dataTables.entries()) console.log(`[restore]${label} ${name}: ${counted[i][0].n} rows`);
}
console.log("[restore] done");
