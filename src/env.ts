/**
 * The Worker's bindings, its configuration (parsed once per use with zod) and the queue message types.
 *
 * Glossary. job: a named unit of work with a JSON payload. run: one execution of a job; every run
 * gets a new runId. attempt: one HTTP POST of a run's webhook. delivery: all attempts for one run,
 * sharing one deliveryId that receivers use to de-duplicate.
 */
import { z } from "zod";

export interface Env {
  DB: D1Database;
  JOB_QUEUE: Queue<JobMessage>;
  ASSETS?: Fetcher;
  JOB_DURATION_SECONDS?: string;
  WEBHOOK_URL?: string;
  WEBHOOK_TIMEOUT_MS?: string;
  WEBHOOK_MAX_ATTEMPTS?: string;
  WEBHOOK_BACKOFF_BASE_SECONDS?: string;
  WEBHOOK_INBOX_ENABLED?: string;
}

/** Hono generics shared by every route module. */
export type AppEnv = { Bindings: Env };

/** The only message on the job queue: "run `runId` of `jobId` has done its work". Delivery state lives in D1. */
export interface JobMessage {
  jobId: string;
  runId: number;
}

const flag = z
  .enum(["true", "false", "1", "0", ""])
  .default("false")
  .transform((v) => v === "true" || v === "1");

const configSchema = z.object({
  JOB_DURATION_SECONDS: z.coerce.number().int().min(0).max(43_200).default(3),
  WEBHOOK_URL: z
    .string()
    .trim()
    .default("")
    .pipe(z.union([z.literal(""), z.url({ protocol: /^https?$/ })])),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(5),
  WEBHOOK_BACKOFF_BASE_SECONDS: z.coerce.number().min(0).max(3_600).default(5),
  WEBHOOK_INBOX_ENABLED: flag,
});

export type Config = {
  jobDurationSeconds: number;
  webhookUrl: string | null;
  webhookTimeoutMs: number;
  webhookMaxAttempts: number;
  webhookBackoffBaseSeconds: number;
  inboxEnabled: boolean;
};

/** A deployment mistake (a variable with a bad value); its message names the variable, never a secret. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

const cache = new WeakMap<Env, Config>();

/** Reads the configuration from the bindings; a bad value is a deployment error named in the message. */
export function getConfig(env: Env): Config {
  const cached = cache.get(env);
  if (cached) return cached;
  const parsed = configSchema.safeParse(
    Object.fromEntries(Object.entries(env).filter(([, v]) => typeof v === "string" && v !== "")),
  );
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new ConfigError(`Invalid configuration: ${problems}`);
  }
  const c = parsed.data;
  const config: Config = {
    jobDurationSeconds: c.JOB_DURATION_SECONDS,
    webhookUrl: c.WEBHOOK_URL || null,
    webhookTimeoutMs: c.WEBHOOK_TIMEOUT_MS,
    webhookMaxAttempts: c.WEBHOOK_MAX_ATTEMPTS,
    webhookBackoffBaseSeconds: c.WEBHOOK_BACKOFF_BASE_SECONDS,
    inboxEnabled: c.WEBHOOK_INBOX_ENABLED,
  };
  cache.set(env, config);
  return config;
}
