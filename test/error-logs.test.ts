/**
 * What the Worker logs when a database statement fails: the kind of error, the statement (its verb and
 * tables) and the database's reason, never the values it carried. Drizzle's own error message quotes
 * every parameter ("params: ..."): a job's payload, a search term, a webhook body. Each test makes a
 * real statement fail (with a secret-looking marker among its values where a user's data can reach
 * one) and reads everything the Worker printed, or threw for the runtime to print.
 */
import { createExecutionContext, createMessageBatch, createScheduledController, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Env } from "../src/env";
import { RETENTION_CRON } from "../src/background/retention";
import worker from "../src/index";
import { errorFields } from "../src/lib/log";
import { signatureHeader } from "../src/webhooks/signing";
import { API_TOKEN, ORIGIN, uniqueWord } from "./support/helpers";

/** A database without the schema: every statement fails ("no such table"), parameters and all. */
const noSchema: Env = { ...env, DB: env.NO_SCHEMA_DB };

const marker = () => `sk_live_${uniqueWord("SECRETMARKER")}`;

/** Every console line of the Worker while a test runs, as text (errors with their stack and causes). */
let printed: string[] = [];
const spies: { mockRestore(): void }[] = [];
const asText = (value: unknown): string => {
  if (!(value instanceof Error)) return typeof value === "string" ? value : JSON.stringify(value);
  return [value.stack, value.message, JSON.stringify(value), value.cause === undefined ? "" : asText(value.cause)].join("\n");
};
beforeEach(() => {
  printed = [];
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    spies.push(vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void printed.push(args.map(asText).join(" "))));
  }
});
afterEach(() => {
  for (const spy of spies.splice(0)) spy.mockRestore();
});

/** The structured failure lines printed so far (each has an `error`). */
const errorLines = () =>
  printed
    .filter((line) => line.startsWith('{"event":'))
    .map((line) => JSON.parse(line) as Record<string, any>)
    .filter((line) => "error" in line);

describe("a failed statement in the log", () => {
  it("names the refused insert and the database's reason, and never prints the webhook body it carried", async () => {
    const secret = marker();
    // A real constraint of the real database refuses this one insert (the trigger is this test's, and dropped after it).
    await env.DB.prepare(
      `CREATE TRIGGER refuse_marked_entry BEFORE INSERT ON inbox_entries WHEN NEW.body LIKE '%${secret}%' BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END`,
    ).run();
    try {
      const body = JSON.stringify({ event: "job.completed", payload: { apiKey: secret } });
      const id = `whd_${uniqueWord()}`;
      const timestamp = Math.floor(Date.now() / 1000);
      const res = await worker.fetch(
        new Request(`${ORIGIN}/webhooks/inbox`, {
          method: "POST",
          body,
          headers: {
            "content-type": "application/json",
            "webhook-id": id,
            "webhook-timestamp": String(timestamp),
            "webhook-signature": await signatureHeader([env.WEBHOOK_SECRET!], id, timestamp, body),
          },
        }),
        env,
      );
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ success: false, message: "Internal server error" });
    } finally {
      await env.DB.prepare("DROP TRIGGER refuse_marked_entry").run();
    }
    expect(printed.join("\n")).not.toContain(secret);
    expect(printed.join("\n")).not.toMatch(/params:|Failed query/);
    expect(errorLines()).toEqual([
      expect.objectContaining({
        event: "request.failed",
        method: "POST",
        path: "/webhooks/inbox",
        error: expect.objectContaining({
          kind: "DrizzleQueryError (D1_ERROR)",
          statement: "insert inbox_entries",
          reason: "refused by the test trigger: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_TRIGGER)",
        }),
      }),
    ]);
  });

  it("never prints the search term of an export whose query failed, nor lets the stream's error carry it", async () => {
    const secret = marker();
    const res = await worker.fetch(new Request(`${ORIGIN}/api/jobs/export?format=ndjson&search=${secret}`, { headers: { authorization: `Bearer ${API_TOKEN}` } }), noSchema);
    // The status line went out before the first page was read: the reader gets a cut-off download.
    expect(res.status).toBe(200);
    const cutOff = await res.arrayBuffer().then(
      () => null,
      (err: unknown) => err,
    );
    expect(cutOff).toBeInstanceOf(Error);
    expect(asText(cutOff)).not.toContain(secret);
    expect(printed.join("\n")).not.toContain(secret);
    expect(errorLines()).toEqual([expect.objectContaining({ event: "export.failed", error: expect.objectContaining({ kind: "DrizzleQueryError (D1_ERROR)", statement: "select runs,jobs,deliveries,jobs_fts" }) })]);
  });

  it("says which statement of a queue message failed, with the run's ids, and retries the message", async () => {
    // Ids are what a line is for (to follow a run); the statement's text and parameters are not printed.
    const batch = createMessageBatch<unknown>("job-scheduler-runs", [{ id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body: { jobId: "job-of-a-lost-database", run: 1 } }]);
    await worker.queue(batch, noSchema);
    expect((await getQueueResult(batch, createExecutionContext())).retryMessages).toHaveLength(1);
    expect(printed.join("\n")).not.toMatch(/params:|Failed query|select "/);
    expect(errorLines()).toContainEqual(
      expect.objectContaining({
        event: "consumer.message_failed",
        messageId: batch.messages[0]!.id,
        error: expect.objectContaining({ kind: "DrizzleQueryError (D1_ERROR)", statement: "select runs,deliveries", reason: "no such table: runs: SQLITE_ERROR" }),
      }),
    );
  });

  it("logs each failing sweep phase by name and statement, and goes on", async () => {
    await worker.scheduled(createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() }), noSchema);
    expect(printed.join("\n")).not.toMatch(/params:|Failed query|select "/);
    expect(errorLines()).toContainEqual(
      expect.objectContaining({ event: "sweep.phase_failed", phase: "overdue-runs", error: expect.objectContaining({ statement: "select runs", reason: "no such table: runs: SQLITE_ERROR" }) }),
    );
  });

  it("fails a retention pass that cannot read the database with an error that names the kind, not the statement's values", async () => {
    const thrown = await worker.scheduled(createScheduledController({ cron: RETENTION_CRON, scheduledTime: Date.now() }), noSchema).then(
      () => null,
      (err: unknown) => err,
    );
    // What the runtime prints for a failed invocation is this error: it says no more than the log line.
    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as Error).message).toBe("retention failed: D1_ERROR: no such table: cursors: SQLITE_ERROR");
    expect(asText(thrown)).not.toMatch(/params:|Failed query/);
    expect(errorLines()).toEqual([expect.objectContaining({ event: "handler.failed", handler: "retention", error: expect.objectContaining({ reason: "no such table: cursors: SQLITE_ERROR" }) })]);
  });
});

describe("errorFields", () => {
  it("keeps quoted input out of a reason: V8 quotes the text it could not parse as JSON", () => {
    const secret = marker();
    let parseError: unknown;
    try {
      JSON.parse(secret);
    } catch (err) {
      parseError = err;
    }
    expect((parseError as Error).message).toContain(secret.slice(0, 10));
    const fields = errorFields(parseError);
    expect(fields.kind).toBe("SyntaxError");
    expect(fields.reason).toBe("Unexpected token '…', '…'... is not valid JSON");
    expect(JSON.stringify(fields)).not.toContain(secret.slice(0, 10));
  });
});
