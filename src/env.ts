/**
 * The Worker's bindings, its configuration (parsed once per use with zod) and the queue message types.
 *
 * Glossary. job: a named unit of work with a JSON payload (its definition). run: one execution of a
 * job, a record of its own (number 1, 2, ... per job) with a frozen copy of what ran. delivery: the
 * webhook a finished run owes, with its body frozen when the run finished, and the webhook-id receivers
 * de-duplicate on. attempt: one HTTP POST of a delivery; series: the automatic attempts, then each
 * redelivery by hand.
 */
import { z } from "zod";
import { pinnedShard, shardCount } from "./db/shards";
import { unsafeWebhookTarget } from "./security/webhook-target";

export interface Env {
  DB: D1Database;
  JOB_QUEUE: Queue<JobMessage>;
  /** Workers Rate Limiting bindings (simulated by wrangler dev locally); without them, no limiting. */
  API_RATE_LIMITER?: RateLimit;
  SIGNIN_RATE_LIMITER?: RateLimit;
  /** Secret: API bearer tokens, space-separated (several during a rotation). Unset: the API answers 503. */
  API_TOKENS?: string;
  /** Secret: signs dashboard session cookies. Unset: derived from API_TOKENS (rotating them signs everyone out). */
  SESSION_SECRET?: string;
  /** Local dev: webhooks may go to http: and to this machine (127.0.0.1, localhost). */
  ALLOW_LOCAL_WEBHOOKS?: string;
  JOB_DURATION_SECONDS?: string;
  WEBHOOK_URL?: string;
  WEBHOOK_TIMEOUT_MS?: string;
  WEBHOOK_MAX_ATTEMPTS?: string;
  WEBHOOK_RETRY_SCHEDULE?: string;
  WEBHOOK_RETRY_JITTER?: string;
  /** Secret: one or more `whsec_...` signing secrets, space-separated (several during a rotation). */
  WEBHOOK_SECRET?: string;
  WEBHOOK_INBOX_ENABLED?: string;
  /** How long a run or delivery may stay past its expected time before the sweep re-queues it. */
  SWEEP_GRACE_SECONDS?: string;
  /** Most runs in progress at once (0: no limit); due runs beyond it wait, in priority order. */
  MAX_CONCURRENT_RUNS?: string;
  /** Finished runs (with their deliveries and logs) older than this many days are deleted; 0 keeps everything. */
  RETENTION_DAYS?: string;
  /** Benchmark and tests only: count D1 rows, queries and queue operations, read at /__meter (src/lib/meter.ts). */
  COST_METER?: string;
}

/**
 * Whether a batch comes from a dead-letter queue: its batches go to the dead-letter handler. Each
 * environment in wrangler.toml names its own queues (`job-scheduler-dlq`, `job-scheduler-dlq-staging`),
 * so the rule is the naming convention: `dlq` as one dash-separated word of the queue's name.
 */
export function isDeadLetterQueue(queueName: string): boolean {
  return queueName.split("-").includes("dlq");
}

/** Hono generics shared by every route module. */
export type AppEnv = { Bindings: Env };

/**
 * The only message on the job queue: "work on run number `run` of `jobId`" (complete it if it is still
 * in progress, then its webhook). It carries no attempt number: the state lives in D1, so extra copies
 * are harmless. (`runId` is accepted for the same number: what a deployment's older messages say.)
 */
export interface JobMessage {
  jobId: string;
  run: number;
}

const flag = z
  .enum(["true", "false", "1", "0", ""])
  .default("false")
  .transform((v) => v === "true" || v === "1");

const DURATION_UNITS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** "5s 5m 30m 2h" -> [5, 300, 1800, 7200] (seconds); a bare number is seconds. */
const retrySchedule = z
  .string()
  .trim()
  .transform((text, ctx) => {
    const delays = text.split(/[\s,]+/).filter(Boolean).map((part) => {
      const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(part);
      if (!m) {
        ctx.addIssue({ code: "custom", message: `'${part}' is not a delay like 30s, 5m, 2h or 1d` });
        return 0;
      }
      return Math.round(Number(m[1]) * DURATION_UNITS[(m[2] || "s") as keyof typeof DURATION_UNITS]);
    });
    if (delays.length === 0) ctx.addIssue({ code: "custom", message: "give at least one delay" });
    return delays;
  });

/** `whsec_` + base64 of the key bytes, as Standard Webhooks defines it. */
const signingSecrets = z
  .string()
  .trim()
  .transform((text) => text.split(/\s+/).filter(Boolean))
  .pipe(z.array(z.string().regex(/^whsec_[A-Za-z0-9+/]{22,}={0,2}$/, "each secret must look like whsec_<base64, at least 16 bytes>")));

export const DEFAULT_RETRY_SCHEDULE = "5s 5m 30m 2h 5h 10h 10h";

const apiTokens = z
  .string()
  .trim()
  .transform((text) => text.split(/\s+/).filter(Boolean))
  .pipe(z.array(z.string().regex(/^[A-Za-z0-9._~+/-]{24,}=*$/, "each token must be at least 24 characters of A-Z a-z 0-9 . _ ~ + / - (then optional =)")));

const configSchema = z.object({
  JOB_DURATION_SECONDS: z.coerce.number().int().min(0).max(43_200).default(3),
  WEBHOOK_URL: z
    .string()
    .trim()
    .default("")
    .pipe(z.union([z.literal(""), z.url({ protocol: /^https?$/ })])),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(15_000),
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).optional(),
  WEBHOOK_RETRY_SCHEDULE: retrySchedule.default(retrySchedule.parse(DEFAULT_RETRY_SCHEDULE)),
  WEBHOOK_RETRY_JITTER: z.coerce.number().min(0).max(0.5).default(0.1),
  WEBHOOK_SECRET: signingSecrets.default([]),
  WEBHOOK_INBOX_ENABLED: flag,
  SWEEP_GRACE_SECONDS: z.coerce.number().int().min(5).max(3600).default(60),
  MAX_CONCURRENT_RUNS: z.coerce.number().int().min(0).max(100_000).default(0),
  RETENTION_DAYS: z.coerce.number().int().min(0).max(36_500).default(30),
  API_TOKENS: apiTokens.default([]),
  SESSION_SECRET: z.string().min(32, "SESSION_SECRET must be at least 32 characters").optional(),
  ALLOW_LOCAL_WEBHOOKS: flag,
});

export type Config = {
  jobDurationSeconds: number;
  webhookUrl: string | null;
  webhookTimeoutMs: number;
  /** Attempts per delivery series: by default one more than the schedule has delays. */
  webhookMaxAttempts: number;
  /** Seconds to wait before attempt 2, 3, ...; the last delay repeats if attempts outnumber it. */
  retryScheduleSeconds: number[];
  /** Each delay is moved by up to this fraction either way, so retries of many jobs spread out. */
  retryJitter: number;
  signingSecrets: string[];
  inboxEnabled: boolean;
  sweepGraceSeconds: number;
  /** 0: no limit. */
  maxConcurrentRuns: number;
  /** Days a finished run is kept (with its delivery and log); 0: kept forever. */
  retentionDays: number;
  apiTokens: string[];
  sessionSecret: string | null;
  allowLocalWebhooks: boolean;
};

/**
 * A deployment mistake (a variable with a bad value); its message names the variable and the problem,
 * never a secret, and goes to the Worker's log. A client is told only which variables are wrong.
 */
export class ConfigError extends Error {
  override name = "ConfigError";
  /** The variables with a bad value: what an answer to a client may name (the message goes to the log). */
  constructor(
    message: string,
    readonly variables: string[],
  ) {
    super(message);
  }
}

/** What a client is told about a bad configuration: the variables to fix, not their values or the problem's detail. */
export const misconfigured = (err: ConfigError) => `Server misconfigured: check ${err.variables.join(", ")} (the Worker's log says what is wrong)`;

const cache = new WeakMap<Env, Config>();

/** The env a request's copy was made from (withDb), so per-deployment caches survive the copy. */
const origins = new WeakMap<Env, Env>();

/** `env` with another D1 handle (a request's session: db/sessions.ts), keeping its configuration cached once. */
export function withDb(env: Env, db: D1Database): Env {
  const copy = { ...env, DB: db };
  origins.set(copy, origins.get(env) ?? env);
  return copy;
}

/** Reads the configuration from the bindings; a bad value is a deployment error named in the message. */
export function getConfig(env: Env): Config {
  const config = deploymentConfig(env);
  // A shard's share of the concurrency limit (db/shards.ts): the shares add up to the limit.
  const k = pinnedShard(env);
  const n = shardCount(env);
  if (k === undefined || n === 1 || config.maxConcurrentRuns === 0) return config;
  const shares = (shareCache.get(config) ?? shareCache.set(config, []).get(config))!;
  return (shares[k] ??= { ...config, maxConcurrentRuns: shareOfLimit(config.maxConcurrentRuns, n, k) });
}

/** Shard k's share of a limit of `limit` runs in progress over `n` shards: as even as whole numbers allow. */
export const shareOfLimit = (limit: number, n: number, k: number) => Math.floor(limit / n) + (k < limit % n ? 1 : 0);

const shareCache = new WeakMap<Config, Config[]>();

function deploymentConfig(env: Env): Config {
  const n = shardCount(env);
  env = origins.get(env) ?? env;
  const cached = cache.get(env);
  if (cached) return cached;
  const parsed = configSchema.safeParse(
    Object.fromEntries(Object.entries(env).filter(([, v]) => typeof v === "string" && v !== "")),
  );
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new ConfigError(`Invalid configuration: ${problems}`, [...new Set(parsed.error.issues.map((i) => String(i.path[0] ?? "")))]);
  }
  const c = parsed.data;
  const config: Config = {
    jobDurationSeconds: c.JOB_DURATION_SECONDS,
    webhookUrl: c.WEBHOOK_URL || null,
    webhookTimeoutMs: c.WEBHOOK_TIMEOUT_MS,
    webhookMaxAttempts: c.WEBHOOK_MAX_ATTEMPTS ?? c.WEBHOOK_RETRY_SCHEDULE.length + 1,
    retryScheduleSeconds: c.WEBHOOK_RETRY_SCHEDULE,
    retryJitter: c.WEBHOOK_RETRY_JITTER,
    signingSecrets: c.WEBHOOK_SECRET,
    inboxEnabled: c.WEBHOOK_INBOX_ENABLED,
    sweepGraceSeconds: c.SWEEP_GRACE_SECONDS,
    maxConcurrentRuns: c.MAX_CONCURRENT_RUNS,
    retentionDays: c.RETENTION_DAYS,
    apiTokens: c.API_TOKENS,
    sessionSecret: c.SESSION_SECRET ?? (c.API_TOKENS.length > 0 ? `session:${c.API_TOKENS.join(" ")}` : null),
    allowLocalWebhooks: c.ALLOW_LOCAL_WEBHOOKS,
  };
  if (config.maxConcurrentRuns > 0 && config.maxConcurrentRuns < n) {
    throw new ConfigError(`Invalid configuration: MAX_CONCURRENT_RUNS: ${config.maxConcurrentRuns} is fewer than the ${n} shards (each runs a share of it): set 0 (no limit) or at least ${n}`, ["MAX_CONCURRENT_RUNS"]);
  }
  if (config.webhookUrl) {
    const problem = unsafeWebhookTarget(config.webhookUrl, config.allowLocalWebhooks);
    if (problem) throw new ConfigError(`Invalid configuration: WEBHOOK_URL: ${problem}`, ["WEBHOOK_URL"]);
  }
  cache.set(env, config);
  return config;
}
