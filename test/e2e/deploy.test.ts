/**
 * `npm run setup` and `npm run deploy` against a fake wrangler first on PATH (Cloudflare cannot be
 * reached here), each on its own copy of wrangler.toml. What is under test is our scripts: the wrangler
 * commands they run and in which order, the database_id they write and where, how secrets travel; and
 * that the real wrangler still accepts the edited configuration.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const PLACEHOLDER = "00000000-0000-0000-0000-000000000000";
const API_TOKENS = "deploy-test-token-0123456789abcdefghij";
const WEBHOOK_SECRET = "whsec_dGVzdC1kZXBsb3ktc2VjcmV0LTAxMjM0NTY3";
const SESSION_SECRET = "session-secret-for-the-deploy-test-0123456789";

let dir: string;
let config: string;
let log: string;

/** A project folder of its own: a copy of wrangler.toml beside links to the code it bundles. */
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "scheduler-deploy-"));
  for (const entry of ["src", "public", "migrations", "node_modules", "package.json", "tsconfig.json"]) {
    symlinkSync(join(root, entry), join(dir, entry));
  }
  config = join(dir, "wrangler.toml");
  copyFileSync(join(root, "wrangler.toml"), config);
  const bin = join(dir, "fake-bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "wrangler"), `#!/bin/sh\nexec node ${join(root, "test/e2e/fixtures/fake-wrangler.mjs")} "$@"\n`);
  chmodSync(join(bin, "wrangler"), 0o755);
  log = join(dir, "wrangler-calls.jsonl");
  writeFileSync(log, "");
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

function run(script: string, args: string[], env: Record<string, string> = {}) {
  const result = spawnSync("node", [join(root, "scripts", script), ...args, "--config", config], {
    cwd: dir,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      PATH: [join(dir, "fake-bin"), process.env.PATH].join(delimiter),
      FAKE_WRANGLER_LOG: log,
      API_TOKENS: "",
      WEBHOOK_SECRET: "",
      SESSION_SECRET: "",
      ...env,
    },
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Each wrangler call the scripts made, in order, with what it got on stdin. */
function calls(): { args: string[]; stdin: string | null }[] {
  return readFileSync(log, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line));
}
const commandsOf = () => calls().map((c) => c.args.join(" "));

/** The database_id of each d1 block, by section: top level, staging, production. */
function databaseIds(text: string) {
  const ids: Record<string, string> = {};
  let section = "top";
  for (const line of text.split("\n")) {
    const header = /^\[\[(?:env\.(\w+)\.)?d1_databases\]\]/.exec(line);
    if (header) section = header[1] ?? "top";
    const id = /^database_id = "([^"]+)"/.exec(line);
    if (id) ids[section] = id[1]!;
  }
  return ids;
}

const fakeIdOf = (name: string) => {
  const hex = Buffer.from(name.padEnd(16, "#")).toString("hex").slice(0, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
};

describe("npm run setup", () => {
  it("creates the staging database and both queues, writes the printed id into [env.staging] alone, and pipes each secret on stdin", async () => {
    const before = readFileSync(config, "utf8");
    const { status, output } = run("setup.mjs", ["--env", "staging", "--yes"], { API_TOKENS, WEBHOOK_SECRET, SESSION_SECRET });
    expect(status, output).toBe(0);

    const scope = `--env staging --config ${config}`;
    expect(commandsOf()).toEqual([
      "whoami",
      `d1 create job-scheduler-staging ${scope}`,
      `queues create job-scheduler-runs-staging ${scope}`,
      `queues create job-scheduler-dlq-staging ${scope}`,
      `secret put API_TOKENS ${scope}`,
      `secret put WEBHOOK_SECRET ${scope}`,
      `secret put SESSION_SECRET ${scope}`,
    ]);
    const secrets = calls().filter((c) => c.args[0] === "secret");
    expect(secrets.map((c) => c.stdin?.trim())).toEqual([API_TOKENS, WEBHOOK_SECRET, SESSION_SECRET]);
    for (const c of calls()) for (const value of [API_TOKENS, WEBHOOK_SECRET, SESSION_SECRET]) expect(c.args.join(" ")).not.toContain(value);

    // The id wrangler printed, on staging's database_id line: the only line of the file that changed.
    const after = readFileSync(config, "utf8");
    expect(databaseIds(after)).toEqual({ top: PLACEHOLDER, staging: fakeIdOf("job-scheduler-staging"), production: PLACEHOLDER });
    const changed = after.split("\n").filter((line, i) => line !== before.split("\n")[i]);
    expect(changed).toEqual([`database_id = "${fakeIdOf("job-scheduler-staging")}"`]);
    expect(readFileSync(join(root, "wrangler.toml"), "utf8")).toBe(before);

    // The real wrangler accepts the edited file and bundles staging from it, without a warning.
    const outdir = join(dir, "dist-staging");
    const real = spawnSync("npx", ["wrangler", "deploy", "--dry-run", "--env", "staging", "--outdir", outdir, "--config", config], {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
    });
    const realOutput = `${real.stdout}${real.stderr}`;
    expect(real.status, realOutput).toBe(0);
    expect(realOutput).toContain("env.DB (job-scheduler-staging)");
    expect(realOutput).toContain("env.JOB_QUEUE (job-scheduler-runs-staging)");
    expect(realOutput).not.toMatch(/WARNING/);
    expect(existsSync(join(outdir, "index.js"))).toBe(true);
  });

  it("run again, creates nothing twice: the id already written is kept and queues that exist are fine", () => {
    expect(run("setup.mjs", ["--env", "staging", "--yes"], { API_TOKENS }).status).toBe(0);
    writeFileSync(log, "");
    const again = run("setup.mjs", ["--env", "staging", "--yes", "--skip-secrets"], {
      FAKE_WRANGLER_EXISTING: "job-scheduler-staging,job-scheduler-runs-staging,job-scheduler-dlq-staging",
    });
    expect(again.status, again.output).toBe(0);
    expect(again.output).toMatch(/Queue job-scheduler-runs-staging: already exists/);
    expect(commandsOf().map((c) => c.split(" ").slice(0, 2).join(" "))).toEqual(["whoami", "queues create", "queues create"]);
    expect(databaseIds(readFileSync(config, "utf8")).staging).toBe(fakeIdOf("job-scheduler-staging"));
  });

  it("finds a production database that already exists (a deploy from before environments) and writes its id", () => {
    const { status, output } = run("setup.mjs", ["--env", "production", "--yes"], {
      API_TOKENS,
      FAKE_WRANGLER_EXISTING: "job-scheduler,job-scheduler-runs,job-scheduler-dlq,another-db",
    });
    expect(status, output).toBe(0);
    expect(commandsOf().slice(0, 5)).toEqual([
      "whoami",
      `d1 create job-scheduler --env production --config ${config}`,
      `d1 list --json --env production --config ${config}`,
      `queues create job-scheduler-runs --env production --config ${config}`,
      `queues create job-scheduler-dlq --env production --config ${config}`,
    ]);
    expect(databaseIds(readFileSync(config, "utf8"))).toEqual({ top: PLACEHOLDER, staging: PLACEHOLDER, production: fakeIdOf("job-scheduler") });
    // Only API_TOKENS was given: the optional secrets are left unset.
    expect(commandsOf().filter((c) => c.startsWith("secret"))).toEqual([`secret put API_TOKENS --env production --config ${config}`]);
  });

  it("refuses without API_TOKENS, or with a malformed one, before creating anything", () => {
    const missing = run("setup.mjs", ["--env", "staging", "--yes"]);
    expect(missing.status).toBe(1);
    expect(missing.output).toMatch(/API_TOKENS is required/);
    const short = run("setup.mjs", ["--env", "staging", "--yes"], { API_TOKENS: "too-short" });
    expect(short.status).toBe(1);
    expect(short.output).toMatch(/API_TOKENS in the environment is not valid/);
    expect(commandsOf()).toEqual(["whoami", "whoami"]);
    expect(readFileSync(config, "utf8")).toBe(readFileSync(join(root, "wrangler.toml"), "utf8"));
  });

  it("refuses an environment the configuration does not define", () => {
    const { status, output } = run("setup.mjs", ["--env", "prod", "--yes"], { API_TOKENS });
    expect(status).toBe(1);
    expect(output).toMatch(/no \[env\.prod\] section \(environments: staging, production\)/);
    expect(calls()).toEqual([]);
  });
});

describe("npm run deploy", () => {
  it("refuses while the environment's database_id is the placeholder, and tells the user to run setup", () => {
    const { status, output } = run("deploy.mjs", ["--env", "production"]);
    expect(status).toBe(1);
    expect(output).toMatch(/placeholder database_id/);
    expect(output).toContain("npm run setup -- --env production");
    expect(calls()).toEqual([]);
  });

  it("applies the migrations to the environment's remote database, then deploys that environment", () => {
    expect(run("setup.mjs", ["--env", "staging", "--yes"], { API_TOKENS }).status).toBe(0);
    writeFileSync(log, "");
    const { status, output } = run("deploy.mjs", ["--env", "staging"]);
    expect(status, output).toBe(0);
    expect(commandsOf()).toEqual([`d1 migrations apply DB --remote --env staging --config ${config}`, `deploy --env staging --config ${config}`]);
    expect(output).toContain("npx wrangler rollback --env staging");
  });

  it("deploys nothing when the migrations fail", () => {
    expect(run("setup.mjs", ["--env", "staging", "--yes"], { API_TOKENS }).status).toBe(0);
    writeFileSync(log, "");
    const { status, output } = run("deploy.mjs", ["--env", "staging"], { FAKE_WRANGLER_FAIL: "d1 migrations apply" });
    expect(status).toBe(1);
    expect(output).toMatch(/migrations did not apply, so nothing was deployed/);
    expect(commandsOf()).toEqual([`d1 migrations apply DB --remote --env staging --config ${config}`]);
  });

  it("sets up and deploys every shard a configuration binds (DB, DB_1, DB_2), and refuses a gap in their numbers", () => {
    // Two shards more for staging: what a user adds to grow (README: Shards).
    const shard = (k: number) => `\n[[env.staging.d1_databases]]\nbinding = "DB_${k}"\ndatabase_name = "job-scheduler-staging-${k}"\ndatabase_id = "${PLACEHOLDER}"\nmigrations_dir = "migrations"\n`;
    const base = readFileSync(config, "utf8");
    writeFileSync(config, base.replace("[[env.staging.queues.producers]]", `${shard(1)}${shard(2)}\n[[env.staging.queues.producers]]`));
    const setup = run("setup.mjs", ["--env", "staging", "--yes", "--skip-secrets"]);
    expect(setup.status, setup.output).toBe(0);
    const scope = `--env staging --config ${config}`;
    expect(commandsOf().filter((c) => c.startsWith("d1 create"))).toEqual([
      `d1 create job-scheduler-staging ${scope}`,
      `d1 create job-scheduler-staging-1 ${scope}`,
      `d1 create job-scheduler-staging-2 ${scope}`,
    ]);
    const text = readFileSync(config, "utf8");
    for (const name of ["job-scheduler-staging", "job-scheduler-staging-1", "job-scheduler-staging-2"]) expect(text).toContain(`database_id = "${fakeIdOf(name)}"`);

    writeFileSync(log, "");
    const deployed = run("deploy.mjs", ["--env", "staging"]);
    expect(deployed.status, deployed.output).toBe(0);
    expect(commandsOf()).toEqual([
      `d1 migrations apply DB --remote ${scope}`,
      `d1 migrations apply DB_1 --remote ${scope}`,
      `d1 migrations apply DB_2 --remote ${scope}`,
      `deploy ${scope}`,
    ]);

    // A concurrency limit below the number of shards: the Worker would refuse every request; so does deploy.
    writeFileSync(config, readFileSync(config, "utf8").replace("[env.staging.vars]\n", '[env.staging.vars]\nMAX_CONCURRENT_RUNS = "2"\n'));
    writeFileSync(log, "");
    const limited = run("deploy.mjs", ["--env", "staging"]);
    expect(limited.status).toBe(1);
    expect(limited.output).toMatch(/MAX_CONCURRENT_RUNS is 2 in \[env.staging.vars\], fewer than its 3 shards/);
    expect(calls()).toEqual([]);

    // DB_2 without DB_1: the Worker would never see DB_2's jobs.
    writeFileSync(config, base.replace("[[env.staging.queues.producers]]", `${shard(2)}\n[[env.staging.queues.producers]]`));
    writeFileSync(log, "");
    const gap = run("setup.mjs", ["--env", "staging", "--yes", "--skip-secrets"]);
    expect(gap.status).toBe(1);
    expect(gap.output).toMatch(/binds DB_2 but no DB_1/);
    expect(commandsOf().filter((c) => c.startsWith("d1"))).toEqual([]);
  });

  it("requires --env", () => {
    const { status, output } = run("deploy.mjs", []);
    expect(status).toBe(1);
    expect(output).toMatch(/--env staging or --env production/);
    expect(calls()).toEqual([]);
  });
});
