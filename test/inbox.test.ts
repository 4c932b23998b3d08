import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { call, uniqueWord } from "./support/helpers";

describe("/webhooks/inbox", () => {
  it("records what it receives and reads it back as JSON, newest first", async () => {
    const tag = uniqueWord("inbox");
    const res = await call("POST", "/webhooks/inbox", { jobId: tag, event: "job.completed" }, { "webhook-id": `whd_${tag}` });
    expect(res.status).toBe(200);
    const list = await call("GET", "/webhooks/inbox?limit=5");
    expect(list.body.data[0]).toMatchObject({
      body: { jobId: tag, event: "job.completed" },
      headers: { "content-type": "application/json", "webhook-id": `whd_${tag}` },
    });
  });

  it("keeps a body that is not JSON as text", async () => {
    await call("POST", "/webhooks/inbox", "plain words", { "content-type": "text/plain" });
    const list = await call("GET", "/webhooks/inbox?limit=1");
    expect(list.body.data[0].body).toBe("plain words");
  });

  it("is a 404 when WEBHOOK_INBOX_ENABLED is off, and records nothing", async () => {
    const off = { ...env, WEBHOOK_INBOX_ENABLED: "false" };
    const before = (await call("GET", "/webhooks/inbox")).body.pagination.total;
    const res = await worker.fetch(
      new Request("http://scheduler.test/webhooks/inbox", { method: "POST", body: "{}", headers: { "content-type": "application/json" } }),
      off,
    );
    expect(res.status).toBe(404);
    expect((await worker.fetch(new Request("http://scheduler.test/webhooks/inbox"), off)).status).toBe(404);
    expect((await call("GET", "/webhooks/inbox")).body.pagination.total).toBe(before);
  });
});
