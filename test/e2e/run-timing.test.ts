/**
 * Runs last their duration and the concurrency limit holds, whoever starts a run, seen from outside as
 * users see it: the app started with `npm start` and MAX_CONCURRENT_RUNS=10, jobs falling due at one
 * second while other traffic dispatches all the time (creates due at once, run calls, deletes), every
 * webhook caught by a real receiver. From the webhooks' own times: each run lasted at least its
 * duration, never more than 10 ran at once, and each job was delivered once.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { killGroup, startApp, waitFor, type App } from "../node/npm-start";
import { closedPort } from "../node/receiver";

const token = /^API_TOKENS=(\S+)/m.exec(readFileSync("config/local.env", "utf8"))![1]!;
const LIMIT = 10;
const DURATION_S = 2;
const DUE_TOGETHER = 40;

describe("npm start: run durations and the concurrency limit under mixed traffic", () => {
  let app: App | undefined;
  let receiver: Server | undefined;
  const state = mkdtempSync(join(tmpdir(), "scheduler-timing-"));
  afterAll(() => {
    if (app) killGroup(app, "SIGKILL");
    receiver?.close();
    rmSync(state, { recursive: true, force: true });
  });

  it(`every run lasts ${DURATION_S} s or more, at most ${LIMIT} at once, each job delivered once`, async () => {
    const hooks: { jobId: string; webhookId: string; startedAt: number; completedAt: number; status: string }[] = [];
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        hooks.push({ jobId: body.jobId, webhookId: String(req.headers["webhook-id"]), startedAt: Date.parse(body.startedAt), completedAt: Date.parse(body.completedAt), status: body.status });
        res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((r) => receiver!.listen(0, "127.0.0.1", () => r()));
    const port = await closedPort();
    const base = `http://127.0.0.1:${port}`;
    app = await startApp(port, state, {
      WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
      MAX_CONCURRENT_RUNS: String(LIMIT),
      JOB_DURATION_SECONDS: String(DURATION_S),
    });
    await waitFor("the app to answer /health", async () => ((await fetch(`${base}/health`)).ok ? true : undefined), 90_000, app);
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: res.status, body: (await res.json()) as any };
    };

    // Jobs due together at one second, each with its start message queued.
    const dueAt = new Date(Date.now() + 4000).toISOString();
    const expected = new Set<string>();
    for (let i = 0; i < DUE_TOGETHER; i++) expected.add((await api("POST", "/api/jobs", { taskName: `due ${i}`, runAt: dueAt })).body.data.id);

    // Meanwhile, every 50 ms: a create due at once (its dispatch starts every due run it can), and now
    // and then a run call or a delete, until a while after they fell due.
    const deleted = new Set<string>();
    const until = Date.parse(dueAt) + 6000;
    for (let i = 0; Date.now() < until; i++) {
      const made = await api("POST", "/api/jobs", { taskName: `now ${i}`, runAt: new Date().toISOString() });
      expect(made.status).toBe(201);
      expected.add(made.body.data.id);
      if (i % 5 === 0) {
        const extra = (await api("POST", "/api/jobs", { taskName: `run ${i}` })).body.data.id;
        expect([202, 409]).toContain((await api("POST", `/api/jobs/${extra}/run`)).status);
        expected.add(extra);
      }
      if (i % 7 === 3) {
        const doomed = (await api("POST", "/api/jobs", { taskName: `doomed ${i}`, runAt: new Date().toISOString() })).body.data.id;
        expect((await api("DELETE", `/api/jobs/${doomed}`)).status).toBe(200);
        deleted.add(doomed);
      }
      await new Promise((r) => setTimeout(r, 50));
    }

    // Every job's webhook, once (at most LIMIT at a time, DURATION_S each: well within a minute).
    await waitFor(`${expected.size} webhooks`, async () => ([...expected].every((id) => hooks.some((h) => h.jobId === id)) ? true : undefined), 120_000, app);
    await new Promise((r) => setTimeout(r, 1000)); // a late duplicate would arrive now
    const byId = new Map<string, number>();
    for (const h of hooks) byId.set(h.webhookId, (byId.get(h.webhookId) ?? 0) + 1);
    expect([...byId.values()].filter((n) => n > 1)).toEqual([]);
    expect(hooks.filter((h) => deleted.has(h.jobId))).toEqual([]);
    expect(hooks.every((h) => h.status === "COMPLETED")).toBe(true);

    // Each run lasted its duration...
    const short = hooks.filter((h) => h.completedAt - h.startedAt < DURATION_S * 1000);
    expect(short, `${short.length} of ${hooks.length} runs were shorter than ${DURATION_S} s`).toEqual([]);
    // ... and never more than LIMIT were in progress at once (a run holds its slot from start to completion).
    const edges = hooks.flatMap((h) => [
      { at: h.startedAt, d: 1 },
      { at: h.completedAt, d: -1 },
    ]);
    edges.sort((a, b) => a.at - b.at || a.d - b.d);
    let running = 0;
    let most = 0;
    for (const edge of edges) most = Math.max(most, (running += edge.d));
    expect(most).toBeLessThanOrEqual(LIMIT);
    expect(most).toBe(LIMIT); // the load did fill every slot
  });
});
