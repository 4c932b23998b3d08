// What `npm run setup` and `npm run deploy` share: their options, one deploy environment read from
// wrangler.toml (through wrangler's own config reader, so both see exactly what wrangler sees),
// running wrangler, and writing a database_id into the environment's section of the file.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

/** The database_id a section has until setup writes the real one. */
export const PLACEHOLDER_DATABASE_ID = "00000000-0000-0000-0000-000000000000";

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** `--env <name>` (required), `--config <file>` (wrangler.toml), plus the script's own flags. */
export function parseOptions(argv, flags, usage) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { env: { type: "string", short: "e" }, config: { type: "string", short: "c" }, help: { type: "boolean", short: "h" }, ...flags },
      strict: true,
    });
  } catch (err) {
    fail(`${err.message}\n\n${usage}`);
  }
  const { values } = parsed;
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  if (!values.env) fail(`Name the environment: --env staging or --env production.\n\n${usage}`);
  return { ...values, config: resolve(values.config ?? "wrangler.toml") };
}

/** Prints the message and exits with status 1. */
export function fail(message) {
  console.error(`\n${message}`);
  process.exit(1);
}

/**
 * The resources an environment deploys with, as wrangler reads them: its Worker's name, the D1
 * database bound as DB and its shards' (DB_1, DB_2, ...: `databases`, in shard order; src/db/shards.ts)
 * and the queues it produces to and consumes (dead-letter queues included).
 */
export async function readEnvironment(configPath, envName, { hideWarnings = false } = {}) {
  const { experimental_readRawConfig, unstable_readConfig } = await import("wrangler");
  const { rawConfig } = experimental_readRawConfig({ config: configPath });
  const defined = Object.keys(rawConfig.env ?? {});
  if (!defined.includes(envName)) {
    fail(`${configPath} has no [env.${envName}] section (environments: ${defined.join(", ") || "none"}).`);
  }
  let config;
  try {
    config = unstable_readConfig({ config: configPath, env: envName }, { hideWarnings });
  } catch (err) {
    fail(`wrangler cannot read [env.${envName}] in ${configPath}: ${err.message}`);
  }
  const database = config.d1_databases.find((d) => d.binding === "DB");
  if (!database) fail(`[env.${envName}] in ${configPath} binds no D1 database as DB.`);
  // The Worker reads DB_1, DB_2, ... up to the first number missing: a gap would hide the shards after it.
  const shards = config.d1_databases.filter((d) => /^DB_[1-9]\d*$/.test(d.binding)).sort((a, b) => Number(a.binding.slice(3)) - Number(b.binding.slice(3)));
  shards.forEach((d, i) => {
    if (d.binding !== `DB_${i + 1}`) fail(`[env.${envName}] in ${configPath} binds ${d.binding} but no DB_${i + 1}: shards are DB, DB_1, DB_2, ... with no number left out.`);
  });
  const describe = (d) => ({ binding: d.binding, name: d.database_name, id: d.database_id ?? null });
  const queues = new Set();
  for (const p of config.queues.producers ?? []) queues.add(p.queue);
  for (const c of config.queues.consumers ?? []) {
    queues.add(c.queue);
    if (c.dead_letter_queue) queues.add(c.dead_letter_queue);
  }
  return {
    name: envName,
    workerName: config.name,
    database: describe(database),
    databases: [database, ...shards].map(describe),
    vars: config.vars ?? {},
    queues: [...queues],
  };
}

/** Whether every database of the environment has its real id (setup wrote it). */
export const hasRealDatabaseId = (env) => env.databases.every((d) => Boolean(d.id) && d.id !== PLACEHOLDER_DATABASE_ID);

/**
 * Runs wrangler with these arguments. The project's own wrangler comes last on PATH, so `npm run`
 * (which puts it first) and a plain `node scripts/...` both find it. `input` is written to its stdin
 * (how secrets travel: never in argv); `capture` collects its output instead of showing it.
 */
export function wrangler(args, { input, capture = false } = {}) {
  const env = { ...process.env, WRANGLER_SEND_METRICS: process.env.WRANGLER_SEND_METRICS ?? "false" };
  for (const name of SECRET_NAMES) delete env[name];
  env.PATH = [process.env.PATH, join(projectRoot, "node_modules", ".bin")].filter(Boolean).join(delimiter);
  const result = spawnSync("wrangler", args, {
    env,
    input,
    stdio: [input === undefined ? "inherit" : "pipe", capture ? "pipe" : "inherit", capture ? "pipe" : "inherit"],
    encoding: "utf8",
  });
  if (result.error) fail(`Could not run wrangler: ${result.error.message}`);
  return { status: result.status ?? 1, stdout: result.stdout ?? "", stderr: result.stderr ?? "", output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
}

/** The secrets setup asks for; never passed on to wrangler's environment. */
export const SECRET_NAMES = ["API_TOKENS", "WEBHOOK_SECRET", "SESSION_SECRET"];

/**
 * The config text with `database_id` of the [[env.<envName>.d1_databases]] block bound as `binding`
 * set to `id`. Only that line changes (comments and layout stay); a block without the key gets it
 * after its database_name.
 */
export function withDatabaseId(text, envName, binding, id) {
  const lines = text.split("\n");
  const header = `[[env.${envName}.d1_databases]]`;
  for (let start = 0; start < lines.length; start++) {
    if (lines[start].trim() !== header) continue;
    let end = start + 1;
    while (end < lines.length && !/^\s*\[/.test(lines[end])) end++;
    const block = lines.slice(start + 1, end);
    if (!block.some((l) => new RegExp(`^\\s*binding\\s*=\\s*"${binding}"`).test(l))) continue;
    const idLine = block.findIndex((l) => /^\s*database_id\s*=/.test(l));
    if (idLine >= 0) {
      lines[start + 1 + idLine] = lines[start + 1 + idLine].replace(/^(\s*database_id\s*=\s*)"[^"]*"/, `$1"${id}"`);
    } else {
      const nameLine = block.findIndex((l) => /^\s*database_name\s*=/.test(l));
      lines.splice(start + 1 + (nameLine >= 0 ? nameLine + 1 : 0), 0, `database_id = "${id}"`);
    }
    return lines.join("\n");
  }
  throw new Error(`no ${header} block with binding = "${binding}"`);
}

/** Writes the id of the database bound as `binding` into the file, then reads it back through wrangler to prove it landed there. */
export async function writeDatabaseId(configPath, env, binding, id) {
  const text = readFileSync(configPath, "utf8");
  writeFileSync(configPath, withDatabaseId(text, env.name, binding, id));
  const reread = await readEnvironment(configPath, env.name, { hideWarnings: true });
  const found = reread.databases.find((d) => d.binding === binding)?.id;
  if (found !== id) fail(`Wrote database_id ${id} for ${binding} into ${configPath}, but wrangler reads ${found} for [env.${env.name}].`);
}
