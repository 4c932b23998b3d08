#!/usr/bin/env node
// `npm run setup -- --env staging|production`: the one-time setup of a deploy environment. Creates its
// D1 databases (DB, and each shard's: DB_1, ...) and its queues (runs and dead letters) on Cloudflare,
// writes each database's id into the environment's section of wrangler.toml, and sets its secrets. Safe to run again: a database or queue
// that exists is looked up, not duplicated.
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline/promises";
import { fail, hasRealDatabaseId, parseOptions, readEnvironment, wrangler, writeDatabaseId } from "./lib/environments.mjs";

const USAGE = `Usage: npm run setup -- --env <staging|production> [--yes] [--skip-secrets] [--config wrangler.toml]

  --env           the [env.<name>] section of wrangler.toml to set up
  --yes           no questions: secrets come from the environment variables API_TOKENS (required),
                  WEBHOOK_SECRET and SESSION_SECRET (optional), for CI and scripts
  --skip-secrets  leave the environment's secrets as they are (for a second run)
  --config        another wrangler configuration file`;

const options = parseOptions(process.argv.slice(2), { yes: { type: "boolean", short: "y" }, "skip-secrets": { type: "boolean" } }, USAGE);
const interactive = !options.yes && Boolean(process.stdin.isTTY);
const scope = ["--env", options.env, "--config", options.config];

/** The formats src/env.ts accepts, checked here so a typo is refused before it is stored. */
const SECRETS = [
  {
    name: "API_TOKENS",
    required: true,
    what: "bearer token(s) for the API and the dashboard, space-separated, 24+ characters each",
    valid: (v) => v.split(/\s+/).every((t) => /^[A-Za-z0-9._~+/-]{24,}=*$/.test(t)),
    generate: () => randomBytes(32).toString("base64url"),
    showGenerated: true,
  },
  {
    name: "WEBHOOK_SECRET",
    required: false,
    what: "signs every webhook (Standard Webhooks): whsec_ + base64 of 16+ bytes",
    valid: (v) => v.split(/\s+/).every((s) => /^whsec_[A-Za-z0-9+/]{22,}={0,2}$/.test(s)),
    generate: () => `whsec_${randomBytes(24).toString("base64")}`,
    showGenerated: true,
  },
  {
    name: "SESSION_SECRET",
    required: false,
    what: "signs dashboard sessions, so rotating API_TOKENS does not sign everyone out: 32+ characters",
    valid: (v) => v.length >= 32,
    generate: () => randomBytes(32).toString("base64url"),
    showGenerated: false,
  },
];

const env = await readEnvironment(options.config, options.env);
console.log(`Setting up "${env.name}": Worker ${env.workerName}, D1 ${env.databases.length === 1 ? "database" : "databases"} ${env.databases.map((d) => d.name).join(", ")}, queues ${env.queues.join(", ")}.`);

// Before anything captures wrangler's output: a login prompt must reach the person.
const who = wrangler(["whoami"], { capture: true });
if (who.status !== 0 || /not authenticated/i.test(who.output)) {
  fail(`wrangler is not logged in to Cloudflare: run \`npx wrangler login\` (or set CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID), then run setup again.\n${who.output}`);
}

// Every answer first (a missing or bad secret stops setup before it creates anything), then the work.
const secrets = options["skip-secrets"] ? null : await chooseSecrets();
for (const database of env.databases) await setUpDatabase(database);
setUpQueues();
if (secrets) putSecrets(secrets);
else console.log("\nSecrets: left as they are (--skip-secrets).");

console.log(`\nDone. Deploy with: npm run deploy -- --env ${env.name}`);

async function setUpDatabase(database) {
  console.log(`\nD1 database ${database.name} (${database.binding})`);
  if (hasRealDatabaseId({ databases: [database] })) {
    console.log(`  database_id is already set in ${options.config} (${database.id}): nothing to create.`);
    return;
  }
  const created = wrangler(["d1", "create", database.name, ...scope], { capture: true });
  let id;
  if (created.status === 0) {
    // wrangler prints the binding to add, as TOML (database_id = "...") or JSON ("database_id": "...").
    id = /"?database_id"?\s*[=:]\s*"([0-9a-f-]{36})"/.exec(created.output)?.[1];
    if (!id) fail(`wrangler d1 create succeeded but printed no database_id:\n${created.output}`);
    console.log(`  created: ${id}`);
  } else if (/already exists/i.test(created.output)) {
    id = lookUpDatabaseId(database.name);
    console.log(`  already exists: ${id}`);
  } else {
    fail(`wrangler d1 create ${database.name} failed:\n${created.output}`);
  }
  await writeDatabaseId(options.config, env, database.binding, id);
  console.log(`  database_id written into [env.${env.name}] of ${options.config}`);
}

function lookUpDatabaseId(name) {
  const listed = wrangler(["d1", "list", "--json", ...scope], { capture: true });
  if (listed.status !== 0) fail(`wrangler d1 list failed:\n${listed.output}`);
  let databases;
  try {
    databases = JSON.parse(listed.stdout.slice(listed.stdout.indexOf("[")));
  } catch {
    fail(`wrangler d1 list --json printed something else than JSON:\n${listed.output}`);
  }
  const found = databases.find((d) => d.name === name);
  if (!found?.uuid) fail(`wrangler says database ${name} exists, but wrangler d1 list does not show it.`);
  return found.uuid;
}

function setUpQueues() {
  for (const queue of env.queues) {
    const created = wrangler(["queues", "create", queue, ...scope], { capture: true });
    if (created.status === 0) console.log(`\nQueue ${queue}: created`);
    // Cloudflare answers "Queue name already taken [code: 11009]" for a name in use.
    else if (/already (taken|exists)|code: 11009/i.test(created.output)) console.log(`\nQueue ${queue}: already exists`);
    else fail(`wrangler queues create ${queue} failed:\n${created.output}`);
  }
}

async function chooseSecrets() {
  if (interactive) console.log(`\nSecrets of ${env.workerName} (what you type is not shown)`);
  const chosen = [];
  for (const secret of SECRETS) chosen.push({ name: secret.name, value: interactive ? await askFor(secret) : fromEnvironment(secret) });
  return chosen;
}

function putSecrets(secrets) {
  console.log(`\nSecrets of ${env.workerName}`);
  for (const { name, value } of secrets) {
    if (value === null) {
      console.log(`  ${name}: not set`);
      continue;
    }
    // On stdin, never in argv (where other users' `ps` would see it).
    const put = wrangler(["secret", "put", name, ...scope], { input: `${value}\n`, capture: true });
    if (put.status !== 0) fail(`wrangler secret put ${name} failed:\n${put.output}`);
    console.log(`  ${name}: set`);
  }
}

function fromEnvironment(secret) {
  const value = process.env[secret.name]?.trim();
  if (!value) {
    if (secret.required) fail(`${secret.name} is required: set it in the environment (${secret.what}), or pass --skip-secrets.`);
    return null;
  }
  if (!secret.valid(value)) fail(`${secret.name} in the environment is not valid: ${secret.what}.`);
  return value;
}

async function askFor(secret) {
  const choices = secret.required ? "paste it, or press Enter to generate one" : "paste it, press Enter to generate one, or type skip";
  for (;;) {
    const answer = (await ask(`  ${secret.name} (${secret.what})\n  ${choices}: `)).trim();
    if (!secret.required && answer.toLowerCase() === "skip") return null;
    if (answer === "") {
      const value = secret.generate();
      if (secret.showGenerated) console.log(`  generated ${secret.name} (shown once; keep it): ${value}`);
      return value;
    }
    if (secret.valid(answer)) return answer;
    console.log(`  that is not valid: ${secret.what}`);
  }
}

/** One line from the terminal, not echoed (a secret). */
async function ask(question) {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  process.stdout.write(question);
  rl._writeToOutput = () => {};
  try {
    return await rl.question("");
  } finally {
    rl.close();
    process.stdout.write("\n");
  }
}
