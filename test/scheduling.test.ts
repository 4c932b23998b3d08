/**
 * Scheduling through the API, the real local queue and the dispatcher: runs at a time, recurring
 * schedules (one run per occurrence, missed and overlap policies, pause and resume, edits), cancel,
 * and runs that fell due while nothing ran. The dispatcher and the sweep are also called with a
 * controlled clock (a `now` in the future) where waiting for real time would take minutes.
 */
import { createExecutionContext, createMessageBatch, createScheduledController, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { Env } from "../src/env";
import worker from "../src/index";
import { runJob } from "../src/jobs/service";
import { dispatch } from "../src/runs/dispatch";
import { shardOfJob } from "../src/db/shards";
import { call, createJob, dbOf, delivered, deliverAt, getJob, received, runRows, uniqueWord, waitForJob, withJobDb } from "./support/helpers";
import { interleave } from "./support/interleave";

const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();
/** A run's queue message (start or completion), delivered as the queue would. */
async function startMessage(jobId: string, run: number) {
  const batch = createMessageBatch<unknown>("job-scheduler-runs", [{ id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body: { jobId, run } }]);
  await worker.queue(batch, env);
  await getQueueResult(batch, createExecutionContext());
}
const sweepAt = (at: Date, withEnv: Env = env) => worker.scheduled(createScheduledController({ scheduledTime: at.getTime(), cron: "* * * * *" }), withEnv);
const nextMinute = (from = Date.now()) => new Date(Math.floor(from / 60_000) * 60_000 + 60_000);
/** The queue binding with its messages lost (a restart of local Queues, a crash before they were sent). */
const lostMessages: Env = { ...env, JOB_QUEUE: { send: async () => undefined, sendBatch: async () => undefined } as unknown as Env["JOB_QUEUE"] };

async function create(fields: Record<string, unknown>, withEnv?: Env) {
  const body = { taskName: uniqueWord("sched"), ...fields };
  if (!withEnv) return call("POST", "/api/jobs", body);
  const { API_TOKEN } = await import("./support/helpers");
  const res = await worker.fetch(
    new Request("http://scheduler.test/api/jobs", { method: "POST", headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) }),
    withEnv,
  );
  return { status: res.status, body: (await res.json()) as any };
}

describe("run at a time", () => {
  it("schedules a run with runAt: SCHEDULED with nextRunAt, then it starts on time by itself, completes and sends its webhook", async () => {
    const runAt = inSeconds(2);
    const res = await create({ runAt, payload: { report: "daily" } });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ status: "SCHEDULED", nextRunAt: new Date(runAt).toISOString(), latestRun: null });
    const done = await waitForJob(res.body.data.id, delivered, 15_000);
    expect(done.status).toBe("COMPLETED");
    // Started by its own message (no sweep runs here), never early. How late, the benchmark measures.
    const lateMs = new Date(done.latestRun.startedAt).getTime() - new Date(runAt).getTime();
    expect(lateMs).toBeGreaterThanOrEqual(0);
    expect(lateMs).toBeLessThan(10_000);
    expect((await received(done.id))[0]!.body).toMatchObject({ event: "job.completed", dueAt: new Date(runAt).toISOString(), payload: { report: "daily" } });
  });

  it("schedules a run with delaySeconds", async () => {
    const before = Date.now();
    const res = await create({ delaySeconds: 1 });
    expect(res.body.data.status).toBe("SCHEDULED");
    const done = await waitForJob(res.body.data.id, delivered, 15_000);
    expect(new Date(done.latestRun.startedAt).getTime()).toBeGreaterThanOrEqual(before + 1000);
  });

  it.each([
    [{ runAt: new Date(Date.now() - 3_600_000).toISOString() }, /runAt is in the past/, "runAt"],
    [{ runAt: new Date(Date.now() + 400 * 86_400_000).toISOString() }, /runAt is more than a year ahead/, "runAt"],
    [{ runAt: "2030-01-01T09:00:00" }, /runAt must be an ISO 8601 date and time with an offset/, "runAt"],
    [{ delaySeconds: -5 }, /delaySeconds must not be negative/, "delaySeconds"],
    [{ delaySeconds: 1.5 }, /whole number/, "delaySeconds"],
    [{ delaySeconds: 40_000_000 }, /at most a year/, "delaySeconds"],
    [{ runAt: inSeconds(60), delaySeconds: 5 }, /give only one of runAt, delaySeconds and schedule/, "delaySeconds"],
    [{ delaySeconds: 5, schedule: { cron: "* * * * *" } }, /give only one of runAt, delaySeconds and schedule/, "schedule"],
    [{ schedule: { cron: "0 0 * * * *" } }, /five fields/, "schedule.cron"],
    [{ schedule: { cron: "61 * * * *" } }, /cron is not valid/, "schedule.cron"],
    [{ schedule: { cron: "0 9 * * *", timezone: "Mars/Olympus" } }, /not an IANA time zone/, "schedule.timezone"],
    [{ schedule: { cron: "0 9 * * *", timezone: "" } }, /timezone must name an IANA time zone/, "schedule.timezone"],
    [{ schedule: { cron: "0 9 * * *", timezone: "   " } }, /timezone must name an IANA time zone/, "schedule.timezone"],
    [{ schedule: { cron: "0 0 31 2 *" } }, /never fires/, "schedule.cron"],
    [{ schedule: { cron: "* * * * *", startAt: new Date(Date.now() + 400 * 86_400_000).toISOString() } }, /startAt is more than a year ahead/, "schedule.startAt"],
    [{ schedule: { cron: "* * * * *", startAt: "2030-01-02T00:00:00Z", endAt: "2030-01-01T00:00:00Z" } }, /endAt must be after/, "schedule.endAt"],
    [{ schedule: { cron: "* * * * *", missed: "all" } }, /missed must be skip or once/, "schedule.missed"],
    [{ schedule: { cron: "* * * * *", every: "1m" } }, /every/, "schedule"],
    [{ webhookUrl: "https://10.0.0.1/hook" }, /webhookUrl: 10.0.0.1 is not a public address/, null],
    [{ webhookUrl: "ftp://example.com/hook" }, /webhookUrl must be an http\(s\) URL/, "webhookUrl"],
  ])("refuses %j with a 400 naming the field, and creates nothing", async (fields, message, field) => {
    const before = (await call("GET", "/api/jobs?limit=1&count=exact")).body.pagination.total;
    const res = await create(fields);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(message);
    // One message per field.
    const named = (res.body.errors ?? []).map((e: { field: string }) => e.field);
    expect(new Set(named).size).toBe(named.length);
    if (field) expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    expect((await call("GET", "/api/jobs?limit=1&count=exact")).body.pagination.total).toBe(before);
  });

  it("schedules a year ahead without a message (beyond a message's reach); the sweep queues it when near and starts it when due", async () => {
    const runAt = new Date(Date.now() + 200 * 86_400_000);
    const res = await create({ runAt: runAt.toISOString() });
    const [run] = await runRows(res.body.data.id);
    expect(run).toMatchObject({ status: "SCHEDULED", expectedAt: null });
    // A sweep five minutes before: its start message is queued (marked), nothing starts early.
    await sweepAt(new Date(runAt.getTime() - 5 * 60_000));
    expect((await runRows(res.body.data.id))[0]).toMatchObject({ status: "SCHEDULED", expectedAt: runAt.getTime() });
    // At its time (its message stands in for the real 200-day wait): the sweep's dispatch starts it.
    await sweepAt(new Date(runAt.getTime() + 1000));
    // Its completion, on that clock once it has lasted its duration (1 s).
    await deliverAt(new Date(runAt.getTime() + 2000), [{ jobId: res.body.data.id, run: 1 }]);
    await waitForJob(res.body.data.id, delivered, 15_000);
    expect(await runRows(res.body.data.id)).toHaveLength(1);
  });

  it("creates a job due now while the queue refuses sends (201), fails no other job's run, and the sweep completes both", async () => {
    // Another job's run that fell due with its start message lost: the create's dispatch starts it too.
    const other = await create({ runAt: inSeconds(1) }, lostMessages);
    await new Promise((r) => setTimeout(r, 1200));
    const down = () => Promise.reject(new Error("queue unavailable"));
    const outage: Env = { ...env, JOB_QUEUE: { send: down, sendBatch: down } as unknown as Env["JOB_QUEUE"] };
    const res = await create({ delaySeconds: 0 }, outage);
    expect(res.status).toBe(201);
    expect((await runRows(res.body.data.id))[0]).toMatchObject({ status: "IN_PROGRESS", failureReason: null });
    // (A create dispatches its own shard's due runs: over several shards the other job's may be elsewhere.)
    const sameShard = shardOfJob(env, res.body.data.id) === shardOfJob(env, other.body.data.id);
    expect((await runRows(other.body.data.id))[0]).toMatchObject({ status: sameShard ? "IN_PROGRESS" : "SCHEDULED", failureReason: null });
    // (Elsewhere, the other job's run is started by the sweep of its own shard.)
    if (!sameShard) await sweepAt(new Date());
    // The sweep finds both runs past their expected end and queues their completions again.
    await sweepAt(new Date(Date.now() + 120_000));
    for (const id of [res.body.data.id, other.body.data.id]) {
      expect((await waitForJob(id, delivered, 15_000)).status).toBe("COMPLETED");
      expect(await received(id)).toHaveLength(1);
    }
  });

  it("sends what the job says when its run starts: an edit after scheduling applies to the run to come", async () => {
    const runAt = inSeconds(2);
    const res = await create({ runAt, payload: { v: 1 }, priority: "LOW" });
    const edited = await call("PATCH", `/api/jobs/${res.body.data.id}`, { taskName: "renamed", payload: { v: 2 }, priority: "HIGH" });
    expect(edited.status).toBe(200);
    expect(edited.body.data).toMatchObject({ status: "SCHEDULED", nextRunAt: new Date(runAt).toISOString() });
    const [planned] = await runRows(res.body.data.id);
    // Its place in line follows its new priority (HIGH: no offset).
    expect(planned).toMatchObject({ taskName: "renamed", priority: "HIGH", rank: new Date(runAt).getTime() });
    expect(JSON.parse(planned!.payload)).toEqual({ v: 2 });
    const done = await waitForJob(res.body.data.id, delivered, 15_000);
    expect((await received(done.id))[0]!.body).toMatchObject({ taskName: "renamed", payload: { v: 2 }, priority: "HIGH" });
  });

  it("never loses a scheduled run whose start message was lost: the sweep starts it, once", async () => {
    const runAt = new Date(Date.now() + 1000);
    const res = await create({ runAt: runAt.toISOString() }, lostMessages);
    expect(res.status).toBe(201);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await getJob(res.body.data.id)).status).toBe("SCHEDULED"); // nothing came to start it
    await sweepAt(new Date());
    await sweepAt(new Date()); // a second sweep starts nothing twice
    await waitForJob(res.body.data.id, delivered, 15_000);
    expect(await runRows(res.body.data.id)).toHaveLength(1);
    expect(await received(res.body.data.id)).toHaveLength(1);
  });
});

describe("recurring schedules", () => {
  it("makes the next occurrence a run, shows the next five run times and the schedule", async () => {
    const res = await create({ schedule: { cron: "*/5 * * * *", timezone: "Europe/London" } });
    expect(res.status).toBe(201);
    const id = res.body.data.id;
    const job = (await call("GET", `/api/jobs/${id}`)).body.data;
    expect(job).toMatchObject({ status: "SCHEDULED", schedule: { cron: "*/5 * * * *", timezone: "Europe/London", missed: "skip", overlap: "skip" }, paused: false, occurrences: 1 });
    expect(job.nextRuns).toHaveLength(5);
    const times = job.nextRuns.map((t: string) => new Date(t).getTime());
    expect(times[0]).toBe(new Date(job.nextRunAt).getTime());
    for (let i = 1; i < 5; i++) expect(times[i] - times[i - 1]).toBe(300_000);
    const [run] = await runRows(id);
    expect(run).toMatchObject({ status: "SCHEDULED", occurrenceAt: times[0], dueAt: times[0] });
  });

  it("starts each occurrence once, even when dispatchers and sweeps run at the same moment, and makes the next", async () => {
    const res = await create({ schedule: { cron: "* * * * *" } }, lostMessages);
    const id = res.body.data.id;
    const at = new Date(new Date(res.body.data.nextRunAt).getTime() + 500);
    await Promise.all([dispatch(env, at), dispatch(env, at), sweepAt(at), dispatch(env, at)]);
    await deliverAt(new Date(at.getTime() + 1000), [{ jobId: id, run: 1 }]);
    await waitForJob(id, (j) => delivered(j) && j.status === "SCHEDULED", 15_000);
    const runs = await runRows(id);
    expect(runs.map((r) => [r.number, r.status, r.occurrenceAt - runs[0]!.occurrenceAt])).toEqual([
      [1, "COMPLETED", 0],
      [2, "SCHEDULED", 60_000],
    ]);
    expect(await received(id)).toHaveLength(1);
    expect((await getJob(id)).occurrences).toBe(2);
  });

  it("skips occurrences missed while nothing ran (policy skip), recording why, and carries on from now", async () => {
    const res = await create({ schedule: { cron: "* * * * *" } }, lostMessages);
    const id = res.body.data.id;
    const first = new Date(res.body.data.nextRunAt).getTime();
    const later = new Date(first + 10 * 60_000 + 5000); // ten minutes of downtime
    await dispatch(env, later);
    const runs = await runRows(id);
    expect(runs[0]).toMatchObject({ status: "CANCELLED", startedAt: null });
    expect(runs[0]!.failureReason).toMatch(/^missed: not started within 5 min/);
    expect(runs[1]).toMatchObject({ status: "SCHEDULED", occurrenceAt: nextMinute(later.getTime()).getTime() });
    expect(await received(id)).toEqual([]);
  });

  it("catches up once (policy once): one run for the latest missed occurrence, then from now", async () => {
    const res = await create({ schedule: { cron: "* * * * *", missed: "once" } }, lostMessages);
    const id = res.body.data.id;
    const later = new Date(new Date(res.body.data.nextRunAt).getTime() + 10 * 60_000 + 5000);
    await dispatch(env, later);
    await deliverAt(new Date(later.getTime() + 1000), [{ jobId: id, run: 1 }]);
    await waitForJob(id, (j) => delivered(j), 15_000);
    const runs = await runRows(id);
    expect(runs.map((r) => r.status)).toEqual(["COMPLETED", "SCHEDULED"]);
    // The catch-up stands for the occurrence just before `later` (ten were missed), and its webhook says so.
    const latestMissed = nextMinute(later.getTime()).getTime() - 60_000;
    expect(runs[0]).toMatchObject({ occurrenceAt: latestMissed, dueAt: latestMissed });
    expect((await received(id))[0]!.body).toMatchObject({ dueAt: new Date(latestMissed).toISOString() });
    expect(runs[1]!.occurrenceAt).toBe(nextMinute(later.getTime()).getTime());
    expect(await received(id)).toHaveLength(1);
  });

  it("plans one occurrence at a time even when two dispatchers with different clocks each make the next, and a later catch-up never stalls dispatching", async () => {
    const res = await create({ schedule: { cron: "*/5 * * * *", missed: "once", overlap: "allow" } }, lostMessages);
    const id = res.body.data.id;
    const o1 = new Date(res.body.data.nextRunAt).getTime();
    // One dispatcher sees occurrence 1 on time (200 s late), the other missed (400 s late); both read before either writes.
    await Promise.all([dispatch(lostMessages, new Date(o1 + 200_000)), dispatch(lostMessages, new Date(o1 + 400_000))]);
    const planned = async () => (await runRows(id)).filter((r) => r.status === "SCHEDULED");
    expect(await planned()).toHaveLength(1);
    for (const minutes of [10.5, 15.5, 20.5]) {
      await dispatch(lostMessages, new Date(o1 + minutes * 60_000));
      expect(await planned()).toHaveLength(1);
    }
    // A long while later (the app was down): the catch-up takes the latest occurrence, and other jobs' runs still start.
    const other = await create({ runAt: new Date(Date.now() + 500).toISOString() }, lostMessages);
    await new Promise((r) => setTimeout(r, 700));
    await dispatch(lostMessages, new Date(o1 + 41 * 60_000));
    expect((await runRows(other.body.data.id))[0]!.status).not.toBe("SCHEDULED");
    const occurrences = (await runRows(id)).filter((r) => r.status !== "CANCELLED").map((r) => r.occurrenceAt);
    expect(new Set(occurrences).size).toBe(occurrences.length);
    expect(await planned()).toHaveLength(1);
    await call("DELETE", `/api/jobs/${id}`);
  });

  it("reads and fires a schedule stored with an empty time zone (accepted before it was refused) as UTC", async () => {
    const res = await create({ schedule: { cron: "*/5 * * * *" } }, lostMessages);
    const id = res.body.data.id;
    await dbOf(id).prepare("UPDATE jobs SET schedule = json_set(schedule, '$.timezone', '') WHERE id = ?").bind(id).run();
    const shown = await call("GET", `/api/jobs/${id}`);
    expect(shown.status).toBe(200);
    expect(shown.body.data.nextRuns).toHaveLength(5);
    await dispatch(lostMessages, new Date(new Date(res.body.data.nextRunAt).getTime() + 1000));
    const runs = await runRows(id);
    expect(runs[0]!.status).not.toBe("CANCELLED");
    expect(runs.some((r) => r.number === 2 && r.status === "SCHEDULED")).toBe(true);
    await call("DELETE", `/api/jobs/${id}`);
  });

  it("keeps skipping occurrences for as long as the previous run runs (overlap skip), and shows that run meanwhile", async () => {
    const quiet: Env = { ...lostMessages, JOB_DURATION_SECONDS: "3600" };
    const res = await create({ schedule: { cron: "* * * * *" } }, lostMessages);
    const id = res.body.data.id;
    const first = new Date(res.body.data.nextRunAt).getTime();
    await dispatch(quiet, new Date(first + 500)); // occurrence 1 starts and runs for an hour
    await dispatch(quiet, new Date(first + 60_500)); // occurrence 2: skipped
    await dispatch(quiet, new Date(first + 120_500)); // occurrence 3: skipped too
    const runs = await runRows(id);
    expect(runs.map((r) => r.status)).toEqual(["IN_PROGRESS", "CANCELLED", "CANCELLED", "SCHEDULED"]);
    const job = await getJob(id);
    expect(job).toMatchObject({ status: "IN_PROGRESS", latestRun: { number: 1, status: "IN_PROGRESS" } });
    // Paused while it runs: it still shows the run, and cancel still finds it.
    await call("POST", `/api/jobs/${id}/pause`);
    expect(await getJob(id)).toMatchObject({ status: "IN_PROGRESS", latestRun: { number: 1 } });
    expect((await call("POST", `/api/jobs/${id}/cancel`)).body.data.latestRun).toMatchObject({ number: 1, status: "CANCELLED" });
  });

  it("makes no stray occurrence when a pause lands between a dispatcher's read and its write", async () => {
    const res = await create({ schedule: { cron: "* * * * *" } }, lostMessages);
    const id = res.body.data.id;
    const at = new Date(new Date(res.body.data.nextRunAt).getTime() + 500);
    // The dispatcher reads the due occurrence, the pause lands, then the dispatcher writes (the start of that
    // occurrence and the making of the next): the write must see the pause. Its write batch opens with its
    // cancels, whose status is the only "CANCELLED" it sends.
    let paused = 0;
    const raced = interleave(dbOf(id), `"CANCELLED"`, async () => (paused = (await call("POST", `/api/jobs/${id}/pause`)).status));
    await dispatch(withJobDb(lostMessages, id, raced.db), at);
    expect([raced.fired(), paused]).toEqual([true, 200]);
    const job = await getJob(id);
    expect(job.paused).toBe(true);
    expect((await runRows(id)).filter((r) => r.status === "SCHEDULED")).toEqual([]);
    expect(job.nextRunAt).toBeNull();
  });

  it("skips an occurrence while the previous run still runs (overlap skip), and runs it anyway with overlap allow", async () => {
    const quiet: Env = { ...lostMessages, JOB_DURATION_SECONDS: "3600" };
    for (const [overlap, expected] of [
      ["skip", "CANCELLED"],
      ["allow", "IN_PROGRESS"],
    ] as const) {
      const res = await create({ schedule: { cron: "* * * * *", overlap } }, lostMessages);
      const id = res.body.data.id;
      await call("POST", `/api/jobs/${id}/run`); // a run now, still going when the occurrence comes
      expect((await getJob(id)).status).toBe("IN_PROGRESS");
      await dispatch(quiet, new Date(new Date(res.body.data.nextRunAt).getTime() + 500));
      const occurrence = (await runRows(id)).find((r) => r.occurrenceAt !== null && r.number === 1)!;
      expect(occurrence.status, overlap).toBe(expected);
      if (overlap === "skip") expect(occurrence.failureReason).toMatch(/previous run was still in progress/);
      await call("DELETE", `/api/jobs/${id}`);
    }
  });

  it("pauses (the next occurrence is cancelled, none made) and resumes from now", async () => {
    const res = await create({ schedule: { cron: "0 * * * *" } });
    const id = res.body.data.id;
    const paused = await call("POST", `/api/jobs/${id}/pause`);
    expect(paused.status).toBe(200);
    // Nothing ran: the job shows no run (a skipped occurrence is not one), and no run to come.
    expect(paused.body.data).toMatchObject({ paused: true, nextRunAt: null, status: "PENDING", latestRun: null });
    expect((await call("POST", `/api/jobs/${id}/pause`)).status).toBe(409);
    expect((await runRows(id))[0]).toMatchObject({ status: "CANCELLED", failureReason: "the schedule was paused" });
    const resumed = await call("POST", `/api/jobs/${id}/resume`);
    expect(resumed.body.data).toMatchObject({ paused: false, status: "SCHEDULED" });
    const [skipped, next] = await runRows(id);
    expect([skipped!.status, next!.status]).toEqual(["CANCELLED", "SCHEDULED"]);
    // The same occurrence made again: a cancelled run gives its occurrence up (occurrenceKey), a live one holds it.
    expect(next!.occurrenceAt).toBe(skipped!.occurrenceAt);
    expect([skipped!.occurrenceKey, next!.occurrenceKey]).toEqual([null, next!.occurrenceAt]);
    // The key is the index's, not the API's: runs are shown with occurrenceAt alone.
    const listed = (await call("GET", `/api/jobs/${id}/runs`)).body.data;
    expect(listed).toHaveLength(2);
    for (const run of [...listed, (await call("GET", `/api/runs/${next!.id}`)).body.data]) {
      expect(run).toHaveProperty("occurrenceAt");
      expect(run).not.toHaveProperty("occurrenceKey");
    }
    expect((await call("POST", `/api/jobs/${id}/resume`)).status).toBe(409);
    const oneOff = (await create({})).body.data.id;
    expect((await call("POST", `/api/jobs/${oneOff}/pause`)).body.message).toMatch(/has no schedule to pause/);
  });

  it("replaces the schedule on an edit: the occurrence to come is cancelled and the new one made, never both", async () => {
    const res = await create({ schedule: { cron: "0 9 * * *" } });
    const id = res.body.data.id;
    const edited = await call("PATCH", `/api/jobs/${id}`, { schedule: { cron: "30 10 * * *", timezone: "America/New_York" } });
    expect(edited.status).toBe(200);
    const runs = await runRows(id);
    expect(runs.map((r) => [r.status, r.failureReason])).toEqual([
      ["CANCELLED", "the job's schedule changed"],
      ["SCHEDULED", null],
    ]);
    // Editing back to the first schedule makes its occurrence again (a cancelled occurrence does not block it).
    await call("PATCH", `/api/jobs/${id}`, { schedule: { cron: "0 9 * * *" } });
    expect((await runRows(id)).filter((r) => r.status === "SCHEDULED")).toHaveLength(1);
    // Removing the schedule leaves nothing to come.
    expect((await call("PATCH", `/api/jobs/${id}`, { schedule: null })).body.data).toMatchObject({ schedule: null, nextRunAt: null });
  });

  it("stops at its limit", async () => {
    const res = await create({ schedule: { cron: "* * * * *", limit: 2 } }, lostMessages);
    const id = res.body.data.id;
    const first = new Date(res.body.data.nextRunAt).getTime();
    await dispatch(lostMessages, new Date(first + 500));
    await dispatch(lostMessages, new Date(first + 60_500));
    const runs = await runRows(id);
    expect(runs.map((r) => r.occurrenceAt - first)).toEqual([0, 60_000]);
    expect((await call("GET", `/api/jobs/${id}`)).body.data).toMatchObject({ occurrences: 2, nextRuns: [] });
  });
});

describe("cancel", () => {
  it("cancels a scheduled run: CANCELLED, and its start message does nothing when it comes", async () => {
    const res = await create({ runAt: inSeconds(1) });
    const id = res.body.data.id;
    const cancelled = await call("POST", `/api/jobs/${id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.data).toMatchObject({ status: "CANCELLED", nextRunAt: null, latestRun: { status: "CANCELLED", failureReason: "cancelled by request" } });
    // Its start message, delivered as the queue would after its time.
    await new Promise((r) => setTimeout(r, 1100));
    await startMessage(id, 1);
    expect((await runRows(id)).map((r) => r.status)).toEqual(["CANCELLED"]);
    expect(await received(id)).toEqual([]);
    expect((await call("POST", `/api/jobs/${id}/cancel`)).status).toBe(409);
  });

  it("cancels a running run: no completion webhook; a job.cancelled one when the job asks for it", async () => {
    for (const notifyOnCancel of [false, true]) {
      const job = await createJob({ notifyOnCancel });
      await runJob({ ...lostMessages, JOB_DURATION_SECONDS: "3600" }, job.id); // started; its completion message is ours to deliver
      expect((await getJob(job.id)).status).toBe("IN_PROGRESS");
      const res = await call("POST", `/api/jobs/${job.id}/cancel`);
      expect(res.body.data.latestRun).toMatchObject({ status: "CANCELLED" });
      await startMessage(job.id, 1); // its completion message comes, and completes nothing
      if (notifyOnCancel) await vi.waitUntil(async () => (await received(job.id)).length === 1, { timeout: 10_000 });
      const [run] = await runRows(job.id);
      expect(run).toMatchObject({ status: "CANCELLED" });
      const hooks = await received(job.id);
      if (!notifyOnCancel) expect(hooks).toEqual([]);
      else expect(hooks.map((h) => h.body.event)).toEqual(["job.cancelled"]);
    }
  });

  it("cancels each run in progress before the next to come, when a schedule that allows overlap has two running", async () => {
    const quiet: Env = { ...lostMessages, JOB_DURATION_SECONDS: "3600" };
    const res = await create({ schedule: { cron: "* * * * *", overlap: "allow" } }, lostMessages);
    const id = res.body.data.id;
    await runJob(quiet, id); // a run now, still going when the occurrence comes
    await dispatch(quiet, new Date(new Date(res.body.data.nextRunAt).getTime() + 500));
    const byKind = async () => {
      const rows = await runRows(id);
      return { runNow: rows.find((r) => r.occurrenceAt === null)!.status, occurrence: rows.find((r) => r.number === 1)!.status, next: rows.find((r) => r.number === 3)?.status };
    };
    expect(await byKind()).toEqual({ runNow: "IN_PROGRESS", occurrence: "IN_PROGRESS", next: "SCHEDULED" });
    expect((await call("POST", `/api/jobs/${id}/cancel`)).status).toBe(200); // the latest started: the occurrence
    expect(await byKind()).toEqual({ runNow: "IN_PROGRESS", occurrence: "CANCELLED", next: "SCHEDULED" });
    expect((await call("POST", `/api/jobs/${id}/cancel`)).status).toBe(200); // then the run now, still in progress
    expect(await byKind()).toEqual({ runNow: "CANCELLED", occurrence: "CANCELLED", next: "SCHEDULED" });
    await call("DELETE", `/api/jobs/${id}`);
  });

  it("cancels the coming occurrence of a recurring job and makes the one after", async () => {
    const res = await create({ schedule: { cron: "0 * * * *" } });
    const id = res.body.data.id;
    await call("POST", `/api/jobs/${id}/cancel`);
    const runs = await runRows(id);
    expect(runs.map((r) => r.status)).toEqual(["CANCELLED", "SCHEDULED"]);
    expect(runs[1]!.occurrenceAt - runs[0]!.occurrenceAt).toBe(3_600_000);
  });
});

describe("per-job webhook URL and Idempotency-Key", () => {
  it("sends a job's webhooks to its own URL, frozen into each delivery", async () => {
    const job = await createJob({ webhookUrl: `${env.RECEIVER_URL}/jobs-own-hook` });
    await call("POST", `/api/jobs/${job.id}/run`);
    const done = await waitForJob(job.id, delivered);
    expect(done.latestRun.delivery.url).toBe(`${env.RECEIVER_URL}/jobs-own-hook`);
    expect((await received(job.id))[0]!.path).toBe("/jobs-own-hook");
    // A later change of the job's URL never moves a delivery that exists.
    await call("PATCH", `/api/jobs/${job.id}`, { webhookUrl: `${env.RECEIVER_URL}/elsewhere` });
    await call("POST", `/api/runs/${done.latestRun.id}/redeliver`);
    await vi.waitUntil(async () => (await received(job.id)).length === 2, { timeout: 10_000 });
    expect((await received(job.id))[1]!.path).toBe("/jobs-own-hook");
  });

  it("returns the first job to a repeat whose runAt has passed since (the key is looked up before the body is checked)", async () => {
    const key = uniqueWord("idem");
    const body = { taskName: "Idempotent later", runAt: inSeconds(3600) };
    const first = await call("POST", "/api/jobs", body, { "idempotency-key": key });
    expect(first.status).toBe(201);
    // Two hours on, the same request again: its runAt is now in the past.
    const later = Date.now() + 2 * 3_600_000;
    const clock = vi.spyOn(Date, "now").mockImplementation(() => later);
    try {
      const again = await call("POST", "/api/jobs", body, { "idempotency-key": key });
      expect(again).toMatchObject({ status: 200, body: { data: { id: first.body.data.id } } });
      const fresh = await call("POST", "/api/jobs", body, { "idempotency-key": uniqueWord("idem") });
      expect(fresh).toMatchObject({ status: 400, body: { message: expect.stringMatching(/runAt is in the past/) } });
    } finally {
      clock.mockRestore();
    }
  });

  it("returns the first job for the same key and body, refuses the same key with another body, and makes one job for two at once", async () => {
    const key = uniqueWord("idem");
    const body = { taskName: "Idempotent", payload: { n: 1 } };
    const [a, b] = await Promise.all([call("POST", "/api/jobs", body, { "idempotency-key": key }), call("POST", "/api/jobs", body, { "idempotency-key": key })]);
    expect([a.status, b.status].sort()).toEqual([200, 201]);
    expect(a.body.data.id).toBe(b.body.data.id);
    const again = await call("POST", "/api/jobs", body, { "idempotency-key": key });
    expect(again).toMatchObject({ status: 200, body: { data: { id: a.body.data.id } } });
    const other = await call("POST", "/api/jobs", { ...body, payload: { n: 2 } }, { "idempotency-key": key });
    expect(other.status).toBe(409);
    expect(other.body.message).toMatch(/was used within 24 h for a different request body/);
    expect((await call("GET", "/api/jobs?search=Idempotent&limit=100")).body.data.filter((j: any) => j.id === a.body.data.id)).toHaveLength(1);
    expect((await call("POST", "/api/jobs", body, { "idempotency-key": "bad key with spaces" })).status).toBe(400);
  });
});

describe("bulk actions", () => {
  it("runs, cancels, pauses, resumes and deletes by ids, saying what happened to each", async () => {
    const a = (await create({ schedule: { cron: "0 * * * *" } })).body.data.id;
    const b = (await create({ runAt: inSeconds(3600) })).body.data.id;
    const c = (await createJob()).id;
    const paused = await call("POST", "/api/jobs/bulk", { action: "pause", ids: [a, b, "nope"] });
    expect(paused.body.data).toMatchObject({ done: [a], notFound: ["nope"] });
    expect(paused.body.data.refused).toEqual([{ id: b, message: `Job '${b}' has no schedule to pause` }]);
    expect((await call("POST", "/api/jobs/bulk", { action: "resume", ids: [a] })).body.data.done).toEqual([a]);
    expect((await call("POST", "/api/jobs/bulk", { action: "cancel", ids: [a, b, c] })).body.data).toMatchObject({ done: [a, b], refused: [{ id: c }] });
    const ran = await call("POST", "/api/jobs/bulk", { action: "run", ids: [c] });
    expect(ran.status).toBe(202);
    expect(ran.body.data.done).toEqual([c]);
    expect((await call("POST", "/api/jobs/bulk", { action: "delete", ids: [a, b, c] })).body.data.done).toEqual([a, b, c]);
    expect((await call("GET", `/api/jobs/${a}`)).status).toBe(404);
    expect((await call("POST", "/api/jobs/bulk", { action: "explode", ids: [a] })).status).toBe(400);
  });
});

describe("runs that fell due while nothing ran", () => {
  it("starts a one-off run as soon as the app is back, once; a recurring occurrence follows its missed policy", async () => {
    // Made while the queue lost every message (the app stopped before they came).
    const oneOff = (await create({ runAt: inSeconds(1) }, lostMessages)).body.data.id;
    const recurring = (await create({ schedule: { cron: "* * * * *" } }, lostMessages)).body.data.id;
    const catchUp = (await create({ schedule: { cron: "* * * * *", missed: "once" } }, lostMessages)).body.data.id;
    // Back ten minutes later, 5 s into a minute: the first sweep (the second, 1 s on, stays inside that
    // minute, so the next every-minute occurrence is not yet due).
    const back = new Date(Math.floor(Date.now() / 60_000) * 60_000 + 10 * 60_000 + 5_000);
    await sweepAt(back);
    await deliverAt(new Date(back.getTime() + 1000), [{ jobId: oneOff, run: 1 }, { jobId: catchUp, run: 1 }]);
    await waitForJob(oneOff, delivered, 15_000);
    await waitForJob(catchUp, delivered, 15_000);
    await sweepAt(new Date(back.getTime() + 1000));
    expect((await runRows(oneOff)).map((r) => r.status)).toEqual(["COMPLETED"]);
    expect(await received(oneOff)).toHaveLength(1);
    expect((await runRows(recurring)).map((r) => r.status)).toEqual(["CANCELLED", "SCHEDULED"]);
    expect((await runRows(catchUp)).map((r) => r.status)).toEqual(["COMPLETED", "SCHEDULED"]);
  });
});
