import { describe, expect, it } from "vitest";
import { getConfig, type Env } from "../src/env";
import { createJob, getJob } from "./support/helpers";

const base = { DB: {} as D1Database, JOB_QUEUE: {} as Env["JOB_QUEUE"] };

describe("getConfig", () => {
  it("uses the documented defaults when nothing is set", () => {
    expect(getConfig({ ...base })).toEqual({
      jobDurationSeconds: 3,
      webhookUrl: null,
      webhookTimeoutMs: 15_000,
      webhookMaxAttempts: 8,
      retryScheduleSeconds: [5, 300, 1800, 7200, 18_000, 36_000, 36_000],
      retryJitter: 0.1,
      signingSecrets: [],
      inboxEnabled: false,
      sweepGraceSeconds: 60,
      maxConcurrentRuns: 0,
      retentionDays: 30,
      apiTokens: [],
      sessionSecret: null,
      allowLocalWebhooks: false,
    });
  });

  it("reads every variable", () => {
    const config = getConfig({
      ...base,
      JOB_DURATION_SECONDS: "0",
      WEBHOOK_URL: "https://hooks.example.com/in",
      WEBHOOK_TIMEOUT_MS: "2500",
      WEBHOOK_MAX_ATTEMPTS: "4",
      WEBHOOK_RETRY_SCHEDULE: "30s, 2m 1.5h 1d",
      WEBHOOK_RETRY_JITTER: "0",
      WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw  whsec_dGVzdC1zaWduaW5nLXNlY3JldC0wMTIzNDU2Nzg5",
      WEBHOOK_INBOX_ENABLED: "true",
      RETENTION_DAYS: "0",
      MAX_CONCURRENT_RUNS: "50",
      API_TOKENS: " token-aaaaaaaaaaaaaaaaaaaaaaaa\ttoken-bbbbbbbbbbbbbbbbbbbbbbbb ",
    });
    expect(config).toEqual({
      jobDurationSeconds: 0,
      webhookUrl: "https://hooks.example.com/in",
      webhookTimeoutMs: 2500,
      webhookMaxAttempts: 4,
      retryScheduleSeconds: [30, 120, 5400, 86_400],
      retryJitter: 0,
      signingSecrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_dGVzdC1zaWduaW5nLXNlY3JldC0wMTIzNDU2Nzg5"],
      inboxEnabled: true,
      sweepGraceSeconds: 60,
      maxConcurrentRuns: 50,
      retentionDays: 0,
      apiTokens: ["token-aaaaaaaaaaaaaaaaaaaaaaaa", "token-bbbbbbbbbbbbbbbbbbbbbbbb"],
      sessionSecret: "session:token-aaaaaaaaaaaaaaaaaaaaaaaa token-bbbbbbbbbbbbbbbbbbbbbbbb",
      allowLocalWebhooks: false,
    });
  });

  it.each([
    [{ JOB_DURATION_SECONDS: "soon" }, /JOB_DURATION_SECONDS/],
    [{ JOB_DURATION_SECONDS: "50000" }, /JOB_DURATION_SECONDS/],
    [{ WEBHOOK_URL: "ftp://x.example" }, /WEBHOOK_URL/],
    [{ WEBHOOK_URL: "not a url" }, /WEBHOOK_URL/],
    [{ WEBHOOK_MAX_ATTEMPTS: "0" }, /WEBHOOK_MAX_ATTEMPTS/],
    [{ WEBHOOK_INBOX_ENABLED: "yes please" }, /WEBHOOK_INBOX_ENABLED/],
    [{ WEBHOOK_RETRY_SCHEDULE: "5s soon" }, /WEBHOOK_RETRY_SCHEDULE: 'soon' is not a delay/],
    [{ WEBHOOK_RETRY_JITTER: "2" }, /WEBHOOK_RETRY_JITTER/],
    [{ RETENTION_DAYS: "-1" }, /RETENTION_DAYS/],
    [{ RETENTION_DAYS: "1.5" }, /RETENTION_DAYS/],
    [{ RETENTION_DAYS: "a month" }, /RETENTION_DAYS/],
    [{ WEBHOOK_SECRET: "hunter2-not-a-whsec" }, /WEBHOOK_SECRET.0: each secret must look like whsec_/],
    [{ API_TOKENS: "short" }, /API_TOKENS.0: each token must be at least 24 characters/],
    [{ SESSION_SECRET: "tiny" }, /SESSION_SECRET must be at least 32 characters/],
    [{ WEBHOOK_URL: "http://hooks.example.com/in" }, /WEBHOOK_URL: only https: URLs are allowed/],
    [{ WEBHOOK_URL: "https://10.0.0.5/hook" }, /WEBHOOK_URL: 10.0.0.5 is not a public address \(private\)/],
  ])("names the variable that is wrong: %j", (vars, pattern) => {
    expect(() => getConfig({ ...base, ...vars })).toThrow(pattern);
  });

  it("never puts a secret's value in the error", () => {
    expect(() => getConfig({ ...base, WEBHOOK_SECRET: "whsec_short hunter2" })).toThrow(/^(?!.*hunter2)/s);
  });
});

describe("a misconfigured deployment", () => {
  it("answers 500 with a message naming the variable, not a stack trace, and leaves the job as it was", async () => {
    const { env } = await import("cloudflare:workers");
    const { default: worker } = await import("../src/index");
    const job = await createJob();
    const res = await worker.fetch(new Request(`http://scheduler.test/api/jobs/${job.id}/run`, { method: "POST" }), {
      ...env,
      JOB_DURATION_SECONDS: "forever",
    });
    expect(res.status).toBe(500);
    const body = await res.json<{ success: boolean; message: string }>();
    expect(body.success).toBe(false);
    // The client learns which variable to fix; the detail (and any value) stays in the Worker's log.
    expect(body.message).toBe("Server misconfigured: check JOB_DURATION_SECONDS (the Worker's log says what is wrong)");
    expect(body.message).not.toMatch(/at \w+ \(/);
    expect(await getJob(job.id)).toMatchObject({ status: "PENDING", latestRun: null });
  });
});
