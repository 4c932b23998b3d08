import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The order test files are handed out in: the few that take minutes (each drives the app started with
 * `npm start`, or the benchmark) first, longest first, so that the many short ones fill the slots
 * around them instead of one of them starting last. Then vitest's own order (durations of earlier runs
 * when it has them, else the larger file first).
 */
const LONGEST_FIRST = ["test/browser/dashboard.test.ts", "test/e2e/backup-restore.test.ts", "test/e2e/bench-cost.test.ts", "test/e2e/restart.test.ts", "test/e2e/run-timing.test.ts", "test/e2e/shards.test.ts"];
const rank = (spec: TestSpecification) => {
  const i = LONGEST_FIRST.findIndex((file) => spec.moduleId.endsWith(file));
  return i === -1 ? LONGEST_FIRST.length : i;
};
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]) {
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

/** The dependencies the Worker and the workers tests import (src/, test/), each bundled once for every workerd. */
const PREBUNDLED = [
  ...["hono", "zod", "drizzle-orm", "drizzle-orm/d1", "drizzle-orm/errors", "drizzle-orm/sqlite-core", "drizzle-zod"],
  ...["@hono/zod-validator", "hono-openapi", "standardwebhooks", "ipaddr.js", "croner", "cronstrue", "@cfworker/json-schema"],
  ...["hono/body-limit", "hono/bearer-auth", "hono/cookie", "hono/csrf", "hono/factory", "hono/html", "hono/http-exception", "hono/route", "hono/secure-headers"],
  ...["hono/jsx", "hono/jsx/jsx-runtime", "hono/jsx/jsx-dev-runtime", "hono/utils/buffer", "hono/utils/html", "hono/utils/http-status"],
];

/** Each file runs on one database (the workers project) and again on three shards (the shards project). */
const SHARDED = ["consumer", "jobs.api", "scheduling", "retention", "stats", "export", "search", "bulk-run"].map((name) => `test/${name}.test.ts`);
/** Tests of what only several shards do: the shards project alone. */
const SHARDED_ONLY = ["test/shards.test.ts"];

/**
 * The extra databases of a deployment with `shards` of them: `DB_1` ... (`DB` is wrangler.toml's); and,
 * for a test that grows a deployment from one database to three, three empty ones of its own (GROW_DB*).
 */
const shardDatabases = (shards: number) => ({
  ...Object.fromEntries(Array.from({ length: shards - 1 }, (_, i) => [`DB_${i + 1}`, `shard-${i + 1}`])),
  ...(shards > 1 ? { GROW_DB: "grow-0", GROW_DB_1: "grow-1", GROW_DB_2: "grow-2" } : {}),
});

/** Secrets of the test runs (not real ones). The second API token stands for a rotation. */
const TEST_SIGNING_SECRET = "whsec_dGVzdC1zaWduaW5nLXNlY3JldC0wMTIzNDU2Nzg5";
const TEST_API_TOKENS = "test-token-0123456789abcdefghij test-token-rotated-9876543210zyxw";

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  /**
   * A project of tests inside workerd, with the real local D1 and queue, over `shards` databases (`DB`,
   * and `DB_1` ... as a sharded deployment binds them: src/db/shards.ts).
   */
  const workers = (name: string, shards: number, include: string[], exclude: string[]) => ({
    // Each file starts its own workerd, which loads the Worker's whole module graph anew: the
    // dependencies are pre-bundled (a module per import below instead of ~270 files of zod,
    // drizzle and hono fetched one by one), about 1 CPU-second less per file. An import missing
    // here still works, only unbundled. The bundles are cached beside the project, not in
    // node_modules (which may be a link to another checkout's).
    cacheDir: path.join(import.meta.dirname, ".vite"),
    plugins: [
      cloudflareTest(({ inject }) => ({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            RECEIVER_URL: inject("receiverUrl"),
            DEAD_URL: inject("deadUrl"),
            // Short timings so the real queue runs the whole lifecycle within a test.
            JOB_DURATION_SECONDS: "1",
            WEBHOOK_URL: `${inject("receiverUrl")}/hooks`,
            WEBHOOK_TIMEOUT_MS: "1500",
            WEBHOOK_RETRY_SCHEDULE: "1s",
            WEBHOOK_RETRY_JITTER: "0",
            WEBHOOK_MAX_ATTEMPTS: "3",
            WEBHOOK_SECRET: TEST_SIGNING_SECRET,
            WEBHOOK_INBOX_ENABLED: "true",
            API_TOKENS: TEST_API_TOKENS,
            ALLOW_LOCAL_WEBHOOKS: "true",
            // No limit on runs in progress: tests start many long runs; the limit has tests of its own.
            MAX_CONCURRENT_RUNS: "0",
          },
          // The suite makes thousands of API calls a minute with one token; sign-in keeps its real limit.
          ratelimits: {
            API_RATE_LIMITER: { simple: { limit: 1_000_000, period: 60 } },
            SIGNIN_RATE_LIMITER: { simple: { limit: 5, period: 60 } },
          },
          queueConsumers: {
            "job-scheduler-runs": { maxBatchTimeout: 0.05 },
            // Consumed by the same queue() handler, but gives up after 2 retries: a test drives a message
            // through the real queue's retries into the real dead-letter queue in seconds, not hours.
            "job-scheduler-test-runs": { maxBatchTimeout: 0.05, maxRetries: 2, deadLetterQueue: "job-scheduler-dlq" },
            "job-scheduler-dlq": { maxBatchTimeout: 0.05 },
          },
          queueProducers: { TEST_QUEUE: { queueName: "job-scheduler-test-runs" } },
          // Empty databases for the migration tests (the previous version's schema and rows, then 0004):
          // rows written here, and rows the previous version itself wrote (test/fixtures/previous-version.sql).
          // NO_SCHEMA_DB stays empty: every statement on it fails, as on a database whose migrations did not run.
          d1Databases: { ...shardDatabases(shards), MIGRATION_DB: "migration-test", PREVIOUS_DB: "previous-version", VERSION_0009_DB: "version-0009", PLANNED_DB: "planned-occurrences", JOB_ROW_DB: "job-row", NO_SCHEMA_DB: "no-schema" },
        },
      })),
    ],
    test: {
      name,
      deps: { optimizer: { ssr: { enabled: true, include: PREBUNDLED } } },
      include,
      exclude,
      globalSetup: ["./test/node/global-setup.ts"],
      setupFiles: ["./test/support/apply-migrations.ts"],
      testTimeout: 20_000,
    },
  });
  return {
    test: {
      // Files run side by side: most of the time a test waits on a timer, a queue or another process,
      // not on the CPU (vitest's default is one file at a time on 2 cores). Each workers file has its
      // own workerd, local D1 and queue; the browser files share one app and run beside them. More at
      // once only makes the files fight over a small machine's CPU: timings stretch, timeouts follow.
      maxWorkers: 3,
      sequence: { sequencer: LongestFirst },
      // The Worker's structured log lines (one per request, run transition and attempt) are asserted where
      // they matter (test/logs.test.ts), not printed for every test. Vitest reads this option here, at the
      // top, for every project; lines logged in a burst arrive as one entry.
      onConsoleLog: (log: string) => !log.split("\n").every((line) => line === "" || line.startsWith('{"event":')),
      projects: [
        workers("workers", 1, ["test/**/*.test.ts", "test/**/*.test.tsx"], ["test/browser/**", "test/e2e/**", ...SHARDED_ONLY]),
        // The same API, consumer, scheduling, retention, stats and export tests over three shards.
        workers("shards", 3, [...SHARDED, ...SHARDED_ONLY], []),
        {
          // The longest e2e file (SHARDS=3 npm start: 300 jobs, a kill, a backup and a restore), mostly
          // waiting: in the first group, beside the dashboard, whose slot it would otherwise wait for.
          test: {
            name: "e2e-shards",
            include: ["test/e2e/shards.test.ts"],
            environment: "node",
            testTimeout: 240_000,
          },
        },
        {
          // What exists only outside vitest's workerd: `npm start` itself, killed and restarted.
          test: {
            name: "e2e",
            include: ["test/e2e/**/*.test.ts"],
            exclude: ["test/e2e/shards.test.ts"],
            environment: "node",
            testTimeout: 240_000,
            // After the workers and browser files (a group of their own: vitest runs the projects of a
            // group with one maxWorkers), three at a time: each starts its own `npm start` on its own
            // port and state folder, or the benchmark, and then mostly waits (on a run's duration, a
            // recovery bound, the next minute), but is CPU-heavy while it starts wrangler.
            maxWorkers: 3,
            sequence: { groupOrder: 1 },
          },
        },
        {
          // The dashboard in headless Chromium against the app started as a user starts it.
          test: {
            name: "browser",
            include: ["test/browser/**/*.test.ts"],
            environment: "node",
            globalSetup: ["./test/node/app-server.ts"],
            testTimeout: 60_000,
            hookTimeout: 60_000,
          },
        },
      ],
    },
  };
});
