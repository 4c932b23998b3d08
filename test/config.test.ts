import { describe, expect, it } from "vitest";
import { getConfig, type Env } from "../src/env";
import { createJob, getJob } from "./support/helpers";

const base = { DB: {} as D1Database, JOB_QUEUE: {} as Env["JOB_QUEUE"] };

describe("getConfig", () => {
  it("uses the documented defaults when nothing is set", () => {
    expect(getConfig({ ...base })).toEqual({
      jobDurationSeconds: 3,
      webhookUrl: null,
      webhookTimeoutMs: 10_000,
      webhookMaxAttempts: 5,
      webhookBackoffBaseSeconds: 5,
      inboxEnabled: false,
    });
  });

  it("reads every variable", () => {
    const config = getConfig({
      ...base,
      JOB_DURATION_SECONDS: "0",
      WEBHOOK_URL: "https://hooks.example.com/in",
      WEBHOOK_TIMEOUT_MS: "2500",
      WEBHOOK_MAX_ATTEMPTS: "8",
      WEBHOOK_BACKOFF_BASE_SECONDS: "2",
      WEBHOOK_INBOX_ENABLED: "true",
    });
    expect(config).toEqual({
      jobDurationSeconds: 0,
      webhookUrl: "https://hooks.example.com/in",
      webhookTimeoutMs: 2500,
      webhookMaxAttempts: 8,
      webhookBackoffBaseSeconds: 2,
      inboxEnabled: true,
    });
  });

  it.each([
    [{ JOB_DURATION_SECONDS: "soon" }, /JOB_DURATION_SECONDS/],
    [{ JOB_DURATION_SECONDS: "50000" }, /JOB_DURATION_SECONDS/],
    [{ WEBHOOK_URL: "ftp://x.example" }, /WEBHOOK_URL/],
    [{ WEBHOOK_URL: "not a url" }, /WEBHOOK_URL/],
    [{ WEBHOOK_MAX_ATTEMPTS: "0" }, /WEBHOOK_MAX_ATTEMPTS/],
    [{ WEBHOOK_INBOX_ENABLED: "yes please" }, /WEBHOOK_INBOX_ENABLED/],
  ])("names the variable that is wrong: %j", (vars, pattern) => {
    expect(() => getConfig({ ...base, ...vars })).toThrow(pattern);
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
    expect(body.message).toMatch(/^Server misconfigured: Invalid configuration: JOB_DURATION_SECONDS/);
    expect(body.message).not.toMatch(/at \w+ \(/);
    expect(await getJob(job.id)).toMatchObject({ status: "PENDING", runId: 0 });
  });
});
