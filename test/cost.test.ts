/**
 * What a job costs on Cloudflare's bill, counted exactly by the cost meter (D1's own rows read and
 * written, statements, round trips, queue operations) on the real local D1: the main path's counts
 * are pinned, so a change that writes more rows per job fails here.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import type { Env, JobMessage } from "../src/env";
import worker from "../src/index";
import { readMeter, type Tally } from "../src/lib/meter";
import { API_TOKEN, deliverAt, received, runRows } from "./support/helpers";

/** Messages the app sent, kept here so the test delivers them itself (counted) instead of the runtime. */
const sent: { body: JobMessage; delaySeconds?: number }[] = [];
const capture = {
  send: async (body: JobMessage, options?: QueueSendOptions) => void sent.push({ body, delaySeconds: options?.delaySeconds }),
  sendBatch: async (messages: Iterable<MessageSendRequest<JobMessage>>) => {
    for (const m of messages) sent.push({ body: m.body, delaySeconds: m.delaySeconds });
  },
} as unknown as Env["JOB_QUEUE"];

const metered = (overrides: Partial<Env> = {}): Env => ({ ...env, COST_METER: "true", JOB_DURATION_SECONDS: "0", JOB_QUEUE: capture, ...overrides });

async function request(withEnv: Env, method: string, path: string, body?: unknown) {
  const headers: Record<string, string> = { authorization: `Bearer ${API_TOKEN}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await worker.fetch(new Request(`http://scheduler.test${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }), withEnv);
  return { status: res.status, body: (await res.json()) as any };
}

/** Delivers the captured messages as one batch, as the queue would. */
async function deliverSent(withEnv: Env) {
  const messages = sent.splice(0).map((m) => ({ id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body: m.body }));
  const batch = createMessageBatch<unknown>("job-scheduler-runs", messages);
  await worker.queue(batch, withEnv);
  return getQueueResult(batch, createExecutionContext());
}

beforeEach(() => void sent.splice(0));

/** What `work` cost, from a fresh tally. */
async function cost(work: () => Promise<unknown>): Promise<Tally> {
  readMeter(true);
  await work();
  return readMeter(true);
}

describe("what a job costs (the cost meter)", () => {
  it("counts the main path exactly: create, run, then completion with its webhook and log row", async () => {
    const e = metered();
    let id = "";
    const create = await cost(async () => (id = (await request(e, "POST", "/api/jobs", { taskName: "Cost", payload: { a: 1 } })).body.data.id));
    const run = await cost(() => request(e, "POST", `/api/jobs/${id}/run`));
    const complete = await cost(() => deliverSent(e));
    expect(await received(id)).toHaveLength(1);

    // One insert (the row, its id's index, its status index, the search index).
    expect(create.d1).toMatchObject({ roundTrips: 1, statements: 1, rowsWritten: 4 });
    // One batch makes the run already in progress (the row, its number's index, its entry in progress:
    // no sequence row, see db/ids.ts) and reads what the call answers. The job's row is not written: it
    // shows the run in progress through runs_in_progress_idx (migration 0015); its two refresh
    // statements (with and without its status) match nothing.
    expect(run.d1).toMatchObject({ roundTrips: 1, statements: 5, rowsWritten: 3 });
    expect(run.queue).toEqual({ writes: 1, reads: 0, deletes: 0, retries: 0 });
    // One batch completes the run and claims its delivery; one writes the attempt's log row and the delivery's state.
    // (The finished run's entry in runs_finished_idx, which retention walks, is one of these rows; the
    // claimed first attempt writes none in deliveries_next_attempt_idx: its lease is in leaseUntil.)
    expect(complete.d1).toMatchObject({ roundTrips: 2, rowsWritten: 9 });
    expect(complete.queue).toEqual({ writes: 0, reads: 1, deletes: 1, retries: 0 });
    expect(create.invocations.fetch + run.invocations.fetch + complete.invocations.queue).toBe(3);
    // Reads are index lookups: a handful of rows each, not a scan.
    for (const step of [create, run, complete]) expect(step.d1.rowsRead).toBeLessThan(60);
  });

  it("completes a batch of 100 runs with 2 D1 round trips, under a concurrency limit with nobody waiting too", async () => {
    for (const limit of ["0", "200"]) {
      const e = metered({ MAX_CONCURRENT_RUNS: limit });
      const ids: string[] = [];
      for (let i = 0; i < 100; i++) ids.push((await request(e, "POST", "/api/jobs", { taskName: `Batch ${i}`, payload: { i } })).body.data.id);
      const ran = await request(e, "POST", "/api/jobs/run", { ids });
      expect(ran.body.data.started.every((r: any) => r.status === "IN_PROGRESS")).toBe(true);
      const complete = await cost(() => deliverSent(e));
      expect(complete.d1.roundTrips, `MAX_CONCURRENT_RUNS=${limit}`).toBe(2);
      expect(complete.queue).toMatchObject({ reads: 100, deletes: 100, retries: 0 });
      expect((await Promise.all(ids.map((id) => received(id)))).every((hooks) => hooks.length === 1)).toBe(true);
    }
  });

  it("starts a run directly only when nobody waits: beyond the limit, runs wait SCHEDULED for the dispatcher", async () => {
    const e = metered({ MAX_CONCURRENT_RUNS: "1" });
    const first = (await request(e, "POST", "/api/jobs", { taskName: "First" })).body.data.id;
    const second = (await request(e, "POST", "/api/jobs", { taskName: "Second" })).body.data.id;
    expect((await request(e, "POST", `/api/jobs/${first}/run`)).body.data.status).toBe("IN_PROGRESS");
    expect((await request(e, "POST", `/api/jobs/${second}/run`)).body.data.status).toBe("SCHEDULED");
    // The first completes, which frees the slot: the second starts, and (of no duration) completes in the same batch.
    await deliverSent(e);
    expect((await request(e, "GET", `/api/jobs/${second}`)).body.data.status).toBe("COMPLETED");
    expect(await received(second)).toHaveLength(1);
    await deliverSent(e); // its own message, later: finds it done
    expect(await received(second)).toHaveLength(1);
  });
});

describe("what a webhook retry costs", () => {
  it("counts one retry exactly: the failed attempt's two index entries, then the claim, the attempt's log row and the settle", async () => {
    const e = metered();
    const id = (await request(e, "POST", "/api/jobs", { taskName: "Flaky receiver", payload: { receiver: { script: [500, 200] } } })).body.data.id;
    await request(e, "POST", `/api/jobs/${id}/run`);
    const messages = sent.map((m) => m.body);
    const first = await cost(() => deliverSent(e));
    expect((await request(e, "GET", `/api/jobs/${id}`)).body.data.latestRun.delivery).toMatchObject({ state: "RETRYING", attempts: 1 });
    // The message comes back when the retry is due (the consumer's clock set past the backoff).
    const retry = await cost(() => deliverAt(new Date(Date.now() + 60_000), messages, e));
    expect(await received(id)).toHaveLength(2);
    expect((await request(e, "GET", `/api/jobs/${id}`)).body.data.latestRun.delivery).toMatchObject({ state: "DELIVERED", attempts: 2 });
    // A completion whose first attempt fails writes 2 rows more than one delivered (9): the log row's
    // entry in webhook_logs_failed_idx and the retry's due time in deliveries_next_attempt_idx.
    expect(first.d1.rowsWritten).toBe(11);
    // The retry: the claim (the delivery's row; its lease in leaseUntil, so no index entry), the log row
    // with its two indexes, the settle (its due time leaves the index: no entry written). 7 rows a retry.
    expect(retry.d1.rowsWritten).toBe(5);
    expect(first.d1.rowsWritten + retry.d1.rowsWritten - 9).toBe(7);
  });
});

describe("what a recurring occurrence costs", () => {
  it("counts an occurrence of 3 s exactly: started when due, completed, delivered, and the next one made", async () => {
    const e = metered({ JOB_DURATION_SECONDS: "3" });
    const created = await request(e, "POST", "/api/jobs", { taskName: "Minutely", schedule: { cron: "* * * * *" } });
    const id = created.body.data.id;
    const due = new Date(created.body.data.nextRunAt).getTime();
    const messages = () => sent.splice(0).map((m) => m.body);
    // Its start message arrives when due; the run starts and its message comes back for the rest of the 3 s.
    const start = await cost(() => deliverAt(new Date(due + 100), messages(), e));
    const end = await cost(() => deliverAt(new Date(due + 3200), messages(), e));
    expect(await received(id)).toHaveLength(1);
    expect((await runRows(id)).map((r) => r.status)).toEqual(["COMPLETED", "SCHEDULED"]);
    // The bench's figure (npm run bench -- --cost-only) for the same occurrence, pinned here so that it
    // needs no wait for a minute boundary. The start (9 rows) starts the run and makes the next
    // occurrence with its message, writing the job once (its cursor and latest run; not its status, which
    // stays SCHEDULED: no jobs_status_idx entry); the end (7) completes, delivers and logs, and the next
    // occurrence's early message goes back to wait: the job's row, already pointing at the run and
    // SCHEDULED, is not written (migration 0015). Neither writes runs_occurrence_idx (its own column
    // since 0013).
    expect(start.d1.rowsWritten).toBe(9);
    expect(end.d1.rowsWritten).toBe(7);
    expect(start.queue.writes).toBe(2);
  });
});

describe("runs of no duration under the concurrency limit", () => {
  it("completes in the same batch the waiting runs its completions started, wave after wave, instead of a queue hop each", async () => {
    const e = metered({ MAX_CONCURRENT_RUNS: "2" });
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await request(e, "POST", "/api/jobs", { taskName: `Wave ${i}` })).body.data.id);
    const ran = await request(e, "POST", "/api/jobs/run", { ids });
    expect(ran.body.data.started.map((r: any) => r.status)).toEqual(["IN_PROGRESS", "IN_PROGRESS", "SCHEDULED", "SCHEDULED", "SCHEDULED", "SCHEDULED", "SCHEDULED"]);
    expect(sent).toHaveLength(2);
    await deliverSent(e); // the two completion messages: their batch completes all seven, two at a time
    for (const id of ids) expect(await received(id), id).toHaveLength(1);
    // The five started by the batch still had their messages queued: they find the runs done, read in one round trip.
    expect(sent).toHaveLength(5);
    const late = await cost(() => deliverSent(e));
    expect(late.d1.roundTrips).toBe(2);
    expect(late.queue).toMatchObject({ reads: 5, deletes: 5, retries: 0 });
    for (const id of ids) expect(await received(id), id).toHaveLength(1);
  });
});
