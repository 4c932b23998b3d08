// Shared by db:backup and db:restore: the target database from the command line (--local with an
// optional --persist-to, or --remote with the deploy environment, --env staging|production), and
// wrangler run against it. A target is one shard's database (`binding`: DB, DB_1, ...): `shardsOf`
// lists every shard of a deployment, from SHARDS locally (as npm start) or the environment's bindings.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { readEnvironment } from "./lib/environments.mjs";
import { localConfig, shardBinding, shardCount } from "./lib/shards.mjs";

const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" };
const WRANGLER = fileURLToPath(new URL("../node_modules/wrangler/bin/wrangler.js", import.meta.url));

/** `--local [--persist-to DIR]` or `--remote`, plus the script's own options (name -> has a value). */
export function parseTarget(argv, options) {
  const target = { local: false, remote: false, persistTo: undefined, env: undefined };
  const values = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--local") target.local = true;
    else if (arg === "--remote") target.remote = true;
    else if (arg === "--env") target.env = argv[++i] ?? fail("--env needs an environment name (staging or production)");
    else if (arg === "--persist-to") target.persistTo = resolve(argv[++i] ?? fail("--persist-to needs a folder"));
    else if (arg.replace(/^--/, "") in options) values[arg.replace(/^--/, "")] = argv[++i] ?? fail(`${arg} needs a value`);
    else fail(`unknown argument ${arg}`);
  }
  if (target.local === target.remote) fail("say which database: --local (with an optional --persist-to DIR) or --remote");
  if (target.remote && target.persistTo) fail("--persist-to is for --local only");
  // The top level of wrangler.toml is the local configuration: its database_id is a placeholder.
  if (target.remote && !target.env) fail("--remote needs the deploy environment: --env staging or --env production");
  if (target.local && target.env) fail("--env is for --remote only (a local database has no environment)");
  return { target, values };
}

export function fail(message) {
  console.error(`error: ${message}`);
  process.exit(1);
}

/** Shard k's backup file: FILE itself for shard 0, FILE with `.shard-k` before its extension for another. */
export const shardFile = (file, k) => (k === 0 ? file : file.replace(/(\.sql)?$/, `.shard-${k}$1`));

/** Each shard of the deployment as a target of its own (binding DB, DB_1, ...), in shard order. */
export async function shardsOf(target) {
  if (target.local) {
    const n = shardCount();
    const config = localConfig(n);
    return Array.from({ length: n }, (_, k) => ({ ...target, binding: shardBinding(k), config }));
  }
  const { databases } = await readEnvironment(resolve("wrangler.toml"), target.env, { hideWarnings: true });
  return databases.map((d) => ({ ...target, binding: d.binding, config: "wrangler.toml" }));
}

/** A local D1 binding's name and ids, read from the top level of the configuration file. */
function dbConfig(binding, file) {
  const toml = readFileSync(file, "utf8");
  const blocks = toml.split(/^\[\[d1_databases\]\]$/m).slice(1).map((text) => text.split(/^\[/m)[0]);
  const value = (block, key) => new RegExp(`^${key}\\s*=\\s*"([^"]*)"`, "m").exec(block)?.[1];
  const block = blocks.find((b) => value(b, "binding") === binding) ?? fail(`${file} has no [[d1_databases]] bound as ${binding}`);
  return { binding, database_name: value(block, "database_name"), database_id: value(block, "database_id"), preview_database_id: value(block, "preview_database_id") };
}

/**
 * The flags that point wrangler at the target. `wrangler d1 export --local` has no --persist-to: it
 * reads the state folder beside its configuration file, so for another folder it gets a configuration
 * of its own (just the D1 binding) in a temporary folder whose .wrangler/state is that folder.
 */
function targetFlags(target, command) {
  const configFlag = target.config && target.config !== "wrangler.toml" ? ["--config", target.config] : [];
  if (target.remote) return { flags: ["--remote", "--env", target.env], cleanup: () => {} };
  if (!target.persistTo) return { flags: ["--local", ...configFlag], cleanup: () => {} };
  if (command !== "export") return { flags: ["--local", "--persist-to", target.persistTo, ...configFlag], cleanup: () => {} };
  const dir = mkdtempSync(join(tmpdir(), "d1-export-"));
  mkdirSync(join(dir, ".wrangler"));
  symlinkSync(target.persistTo, join(dir, ".wrangler", "state"), "dir");
  const { binding, ...ids } = dbConfig(target.binding ?? "DB", target.config ?? "wrangler.toml");
  const config = { name: "d1-export", compatibility_date: "2026-04-26", d1_databases: [{ binding, ...Object.fromEntries(Object.entries(ids).filter(([, v]) => v)) }] };
  writeFileSync(join(dir, "wrangler.json"), JSON.stringify(config));
  return { flags: ["--local", "--config", join(dir, "wrangler.json")], cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs `wrangler d1 <command> DB ...args` on the target (command: "export", "migrations apply", ...); exits when it fails. */
export function wrangler(target, command, args, { capture = false } = {}) {
  const { flags, cleanup } = targetFlags(target, command);
  try {
    // The project's own wrangler, without npx's lookup before each run (a backup of several shards runs it dozens of times).
    const run = spawnSync(process.execPath, [WRANGLER, "d1", ...command.split(" "), target.binding ?? "DB", ...flags, ...args], { env, stdio: capture ? ["ignore", "pipe", "inherit"] : "inherit", encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    if (run.status !== 0) fail(`wrangler d1 ${command} failed${capture ? `:\n${run.stdout}` : ""}`);
    return run.stdout;
  } finally {
    cleanup();
  }
}

/** The rows of one SELECT on the target. */
export function query(target, sql) {
  return queries(target, sql)[0];
}

/** The rows of each SELECT, all run by one wrangler (each wrangler start costs seconds). */
export function queries(target, ...sql) {
  const out = JSON.parse(wrangler(target, "execute", ["--json", "--command", sql.join(";\n")], { capture: true }));
  return out.map((statement) => statement.results);
}

/**
 * The tables that hold data: every table but SQLite's and D1's own, the migrations' record
 * (d1_migrations: restored by applying the migrations) and the virtual tables with their shadow
 * tables (`jobs_fts`, `jobs_fts_data`, ...: an index, rebuilt from `jobs`).
 */
export const DATA_TABLES_SQL = `
  WITH virtual_tables AS (
    SELECT name
    FROM sqlite_schema
    WHERE type = 'table'
      AND sql LIKE 'CREATE VIRTUAL TABLE%'
  )
  SELECT t.name
  FROM sqlite_schema AS t
  WHERE t.type = 'table'
    AND t.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
    AND t.name NOT LIKE '\\_cf\\_%' ESCAPE '\\'
    AND t.name != 'd1_migrations'
    AND NOT EXISTS (
      SELECT 1
      FROM virtual_tables AS v
      WHERE t.name = v.name
         OR substr(t.name, 1, length(v.name) + 1) = v.name || '_'
    )
  ORDER BY t.rowid`;

/** The full-text indexes (FTS5 virtual tables), to rebuild after a restore. */
export const FTS_TABLES_SQL = `
  SELECT name
  FROM sqlite_schema
  WHERE type = 'table'
    AND sql LIKE 'CREATE VIRTUAL TABLE%USING fts5%'`;

/** The names of the migrations in migrations/, in order (what d1_migrations records once applied). */
export function migrationNames() {
  const journal = JSON.parse(readFileSync("migrations/meta/_journal.json", "utf8"));
  return journal.entries.map((entry) => `${entry.tag}.sql`);
}
