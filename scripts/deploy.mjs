#!/usr/bin/env node
// `npm run deploy -- --env staging|production`: apply the D1 migrations the environment's remote
// databases lack (DB and each shard's), then deploy the Worker (code, queue consumers, Cron Trigger) to that environment.
// Migrations go first: the new code may read columns only they add. `--dry-run` builds the bundle
// the deploy would upload and changes nothing on Cloudflare.
import { join } from "node:path";
import { fail, hasRealDatabaseId, parseOptions, readEnvironment, wrangler } from "./lib/environments.mjs";

const USAGE = `Usage: npm run deploy -- --env <staging|production> [--dry-run] [--config wrangler.toml]

  --env      the [env.<name>] section of wrangler.toml to deploy (set it up once with npm run setup)
  --dry-run  build the bundle into dist/<env> and show what a deploy would run; nothing is uploaded
  --config   another wrangler configuration file`;

const options = parseOptions(process.argv.slice(2), { "dry-run": { type: "boolean" } }, USAGE);
const scope = ["--env", options.env, "--config", options.config];
const env = await readEnvironment(options.config, options.env);

const migrations = env.databases.map((d) => ["d1", "migrations", "apply", d.binding, "--remote", ...scope]);
const deploy = ["deploy", ...scope];

// The Worker refuses a concurrency limit below the number of shards (each runs a share of it): say so
// before deploying a Worker that would answer every request with a configuration error.
const limit = Number(env.vars.MAX_CONCURRENT_RUNS ?? 0);
if (limit > 0 && limit < env.databases.length) {
  fail(`MAX_CONCURRENT_RUNS is ${limit} in [env.${env.name}.vars], fewer than its ${env.databases.length} shards (each runs a share of the limit): set 0 (no limit) or at least ${env.databases.length}.`);
}

if (!hasRealDatabaseId(env)) {
  const message =
    `[env.${env.name}] in ${options.config} still has the placeholder database_id (${env.databases.filter((d) => !hasRealDatabaseId({ databases: [d] })).map((d) => d.binding).join(", ")}), so there is no database to deploy to.\n` +
    `Run the one-time setup first: npm run setup -- --env ${env.name}`;
  if (!options["dry-run"]) fail(message);
  console.log(`Note: ${message}\n`);
}

if (options["dry-run"]) {
  console.log(`A deploy of "${env.name}" would run:\n${migrations.map((m) => `  wrangler ${m.join(" ")}\n`).join("")}  wrangler ${deploy.join(" ")}\n`);
  const built = wrangler([...deploy, "--dry-run", "--outdir", join("dist", env.name)]);
  process.exit(built.status);
}

console.log(`Deploying "${env.name}" (Worker ${env.workerName}, D1 ${env.databases.map((d) => d.name).join(", ")})\n`);
// Every shard's database first: the new code runs on all of them.
for (const [i, migrate] of migrations.entries()) {
  const migrated = wrangler(migrate);
  const done = i === 0 ? "" : ` (applied to ${env.databases.slice(0, i).map((d) => d.binding).join(", ")}; run the deploy again once the cause is fixed: applied migrations are skipped)`;
  if (migrated.status !== 0) fail(`The migrations did not apply, so nothing was deployed: ${env.databases[i].binding} refused them (the Worker in "${env.name}" is unchanged)${done}.`);
}

const deployed = wrangler(deploy);
if (deployed.status !== 0)
  fail(
    `wrangler deploy failed. The migrations above are applied; the previous Worker version still serves "${env.name}" on the new schema.\n` +
      `Run npm run deploy -- --env ${env.name} again now: a version from before migrations 0011 and 0012 must not keep running on them (docs/operations.md).`,
  );

console.log(`
Deployed "${env.name}".
  logs:      npx wrangler tail --env ${env.name}   (or Workers Logs in the Cloudflare dashboard)
  roll back: npx wrangler rollback --env ${env.name}   (the previous version of the code; D1 keeps its data)`);
