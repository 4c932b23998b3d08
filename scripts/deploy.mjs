#!/usr/bin/env node
// `npm run deploy -- --env staging|production`: apply the D1 migrations the environment's remote
// database lacks, then deploy the Worker (code, queue consumers, Cron Trigger) to that environment.
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

const migrate = ["d1", "migrations", "apply", env.database.binding, "--remote", ...scope];
const deploy = ["deploy", ...scope];

if (!hasRealDatabaseId(env)) {
  const message =
    `[env.${env.name}] in ${options.config} still has the placeholder database_id, so there is no database to deploy to.\n` +
    `Run the one-time setup first: npm run setup -- --env ${env.name}`;
  if (!options["dry-run"]) fail(message);
  console.log(`Note: ${message}\n`);
}

if (options["dry-run"]) {
  console.log(`A deploy of "${env.name}" would run:\n  wrangler ${migrate.join(" ")}\n  wrangler ${deploy.join(" ")}\n`);
  const built = wrangler([...deploy, "--dry-run", "--outdir", join("dist", env.name)]);
  process.exit(built.status);
}

console.log(`Deploying "${env.name}" (Worker ${env.workerName}, D1 database ${env.database.name})\n`);
const migrated = wrangler(migrate);
if (migrated.status !== 0) fail(`The migrations did not apply, so nothing was deployed (the Worker in "${env.name}" is unchanged).`);

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
