import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../src/env";
import worker from "../src/index";
import { signatureHeader } from "../src/webhooks/signing";
import { API_TOKEN, call, countRows, uniqueWord } from "./support/helpers";

/** Headers of a correctly signed Standard Webhooks request, as the sender makes them. */
async function signed(id: string, body: string, timestamp = Math.floor(Date.now() / 1000)) {
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": await signatureHeader([env.WEBHOOK_SECRET!], id, timestamp, body),
  };
}

const inboxTotal = async () => (await call("GET", "/webhooks/inbox?limit=100")).body.pagination.total as number;

describe("/webhooks/inbox", () => {
  it("records a signed webhook and reads it back as JSON, newest first", async () => {
    const tag = uniqueWord("inbox");
    const body = JSON.stringify({ jobId: tag, event: "job.completed" });
    const res = await call("POST", "/webhooks/inbox", body, { ...(await signed(`whd_${tag}`, body)), authorization: null });
    expect(res.status).toBe(200);
    const list = await call("GET", "/webhooks/inbox?limit=5");
    expect(list.body.data[0]).toMatchObject({
      body: { jobId: tag, event: "job.completed" },
      headers: { "content-type": "application/json", "webhook-id": `whd_${tag}` },
    });
  });

  it.each([
    ["unsigned", async () => ({ "content-type": "application/json" })],
    ["signed for another body", async () => signed("whd_a", '{"other":true}')],
    ["signed ten minutes ago", async () => signed("whd_b", "{}", Math.floor(Date.now() / 1000) - 600)],
    ["signed but not JSON", async () => signed("whd_d", "plain words")],
  ])("refuses a webhook that is %s (401) and records nothing", async (what, headers) => {
    const before = await inboxTotal();
    const body = what === "signed but not JSON" ? "plain words" : "{}";
    const res = await call("POST", "/webhooks/inbox", body, await headers());
    expect(res.status).toBe(401);
    expect(res.body.message).toMatch(/signature missing, invalid or too old/);
    expect(await inboxTotal()).toBe(before);
  });

  it("refuses every webhook, even a well-formed one, when no signing secret is configured (401 naming WEBHOOK_SECRET)", async () => {
    const before = await inboxTotal();
    const body = "{}";
    const unsigned: Env = { ...env, WEBHOOK_SECRET: "" };
    const res = await worker.fetch(new Request("http://scheduler.test/webhooks/inbox", { method: "POST", body, headers: await signed("whd_e", body) }), unsigned);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { message: string }).message).toMatch(/no signing secret is configured: set WEBHOOK_SECRET/);
    expect(await inboxTotal()).toBe(before);
  });

  it("needs an API token to be read or emptied", async () => {
    expect((await call("GET", "/webhooks/inbox", undefined, { authorization: null })).status).toBe(401);
    expect((await call("DELETE", "/webhooks/inbox", undefined, { authorization: null })).status).toBe(401);
  });

  it("is a 404 when WEBHOOK_INBOX_ENABLED is off, and records nothing", async () => {
    const off = { ...env, WEBHOOK_INBOX_ENABLED: "false" };
    const before = await countRows("jobs");
    const total = await inboxTotal();
    const body = "{}";
    const res = await worker.fetch(new Request("http://scheduler.test/webhooks/inbox", { method: "POST", body, headers: await signed("whd_c", body) }), off);
    expect(res.status).toBe(404);
    const read = await worker.fetch(new Request("http://scheduler.test/webhooks/inbox", { headers: { authorization: `Bearer ${API_TOKEN}` } }), off);
    expect(read.status).toBe(404);
    expect(await inboxTotal()).toBe(total);
    expect(await countRows("jobs")).toBe(before);
  });
});
