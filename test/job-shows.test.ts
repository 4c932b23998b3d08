/**
 * What a job shows of its runs since migration 0015, when a run's start leaves the job's row alone: its
 * status is IN_PROGRESS while a run of it is in progress, and its latest run is the one that started
 * last (a run a person cancelled before it started counts as not started), whoever's clock stamped them.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { Env } from "../src/env";
import worker from "../src/index";
import { dispatch } from "../src/runs/dispatch";
import { API_TOKEN, deliverAt, ORIGIN, runRows, uniqueWord } from "./support/helpers";

/** Messages go nowhere: the test delivers what it needs itself. Runs last an hour. */
const lost = { send: async () => undefined, sendBatch: async () => undefined } as unknown as Env["JOB_QUEUE"];
const quiet: Env = { ...env, JOB_QUEUE: lost, JOB_DURATION_SECONDS: "3600" };

/** A request to the API, with the Worker's clock at `at` when given (another Worker's clock, or an earlier arrival). */
async function api(method: string, path: string, body?: unknown, at?: number) {
  if (at !== undefined) vi.useFakeTimers({ toFake: ["Date"], now: at });
  try {
    const headers: Record<string, string> = { authorization: `Bearer ${API_TOKEN}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await worker.fetch(new Request(`${ORIGIN}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }), quiet);
    return { status: res.status, body: (await res.json()) as any };
  } finally {
    vi.useRealTimers();
  }
}

describe("a job's latest run, whoever's clock stamped it", () => {
  it("is the run a run call made after a person's cancel of the run to come, once it completes, though its start stamp is 20 ms earlier", async () => {
    const id = (await api("POST", "/api/jobs", { taskName: uniqueWord("skew"), runAt: new Date(Date.now() + 600_000).toISOString() })).body.data.id;
    const t = Date.now() + 1000;
    // The cancel's batch commits first; the run call's request read its clock 20 ms earlier.
    expect((await api("POST", `/api/jobs/${id}/cancel`, undefined, t)).status).toBe(200);
    expect((await api("POST", `/api/jobs/${id}/run`, undefined, t - 20)).status).toBe(202);
    expect((await api("GET", `/api/jobs/${id}`)).body.data).toMatchObject({ status: "IN_PROGRESS", latestRun: { number: 2 } });
    await deliverAt(new Date(t - 20 + 3_600_000 + 1000), [{ jobId: id, run: 2 }], quiet);
    expect((await runRows(id)).map((r) => r.status)).toEqual(["CANCELLED", "COMPLETED"]);
    expect((await api("GET", `/api/jobs/${id}`)).body.data).toMatchObject({ status: "COMPLETED", latestRun: { number: 2, status: "COMPLETED" } });
  });
});

describe("overlapping runs (a schedule's overlap: allow)", () => {
  it("after a person cancels the occurrence that started last, the cancel's answer and the job show the cancelled run, and IN_PROGRESS for the other", async () => {
    const created = await api("POST", "/api/jobs", { taskName: uniqueWord("ovl"), schedule: { cron: "* * * * *", overlap: "allow" } });
    const id = created.body.data.id;
    const due = new Date(created.body.data.nextRunAt).getTime();
    expect((await api("POST", `/api/jobs/${id}/run`)).status).toBe(202); // run 2, a run call
    await dispatch(quiet, new Date(due + 500)); // run 1, the occurrence, starts while run 2 runs
    expect((await api("GET", `/api/jobs/${id}`)).body.data).toMatchObject({ status: "IN_PROGRESS", latestRun: { number: 1, status: "IN_PROGRESS" } });
    const cancelled = await api("POST", `/api/jobs/${id}/cancel`);
    expect(cancelled.body.data).toMatchObject({ status: "IN_PROGRESS", latestRun: { number: 1, status: "CANCELLED" } });
    expect((await api("GET", `/api/jobs?status=IN_PROGRESS&limit=100`)).body.data.map((j: any) => j.id)).toContain(id);
    await api("DELETE", `/api/jobs/${id}`);
  });
});
