/** The dashboard's HTML routes and htmx fragments, called as a browser and as htmx would call them. */
import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import worker from "../src/index";
import { call, countRows, createJob, delivered, logRows, runRows, sessionCookie, uniqueWord, waitForJob } from "./support/helpers";

const htmx = (target?: string, currentUrl = "http://scheduler.test/") => ({
  "HX-Request": "true",
  "HX-Current-URL": currentUrl,
  // What htmx sends with every non-GET request.
  "content-type": "application/x-www-form-urlencoded",
  ...(target ? { "HX-Target": target } : {}),
});

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const formHeaders = { "content-type": "application/x-www-form-urlencoded" };

describe("GET / (jobs page)", () => {
  it("renders the full page with the job rows", async () => {
    const job = await createJob({ taskName: `Visible ${uniqueWord()}` });
    const res = await call("GET", `/?search=${encodeURIComponent(job.taskName)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.body).toMatch(/^<!doctype html><html lang="en">/);
    expect(res.body).toContain('<script src="/vendor/htmx.min.js"');
    expect(res.body).toContain(`id="job-${job.id}"`);
    expect(res.body).toContain("Showing 1–1 of 1 jobs");
  });

  it("answers only the table fragment to htmx, with the canonical URL to push", async () => {
    const tag = uniqueWord("frag");
    await createJob({ taskName: tag });
    const res = await call("GET", `/?search=${tag}&status=&priority=&sort=newest&limit=10`, undefined, htmx("jobs-table"));
    expect(res.status).toBe(200);
    expect(res.body).not.toContain("<html");
    expect(res.body).toContain('<table class="striped jobs">');
    expect(res.headers.get("HX-Push-Url")).toBe(`/?search=${tag}`);
  });

  it("answers the full page to a history restore", async () => {
    const res = await call("GET", "/", undefined, { ...htmx("jobs-table"), "HX-History-Restore-Request": "true" });
    expect(res.body).toMatch(/^<!doctype html>/);
  });

  it("shows an empty state that says what to do when nothing matches", async () => {
    const res = await call("GET", `/?search=${uniqueWord("none")}`);
    expect(res.body).toContain("No jobs match these filters.");
    expect(res.body).toContain('href="/"');
  });

  it("answers 400 with a page naming the bad parameter", async () => {
    const res = await call("GET", "/?limit=abc");
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.body).toContain("limit must be a whole number between 1 and 100");
  });

  it("escapes task names and payloads everywhere", async () => {
    const name = `<script>alert(1)</script> ${uniqueWord()}`;
    const job = await createJob({ taskName: name, payload: { html: "<img src=x onerror=alert(2)>" } });
    const list = await call("GET", `/?search=${encodeURIComponent(name.slice(-13))}`);
    const detail = await call("GET", `/jobs/${job.id}`);
    for (const body of [list.body as string, detail.body as string]) {
      expect(body).not.toContain("<script>alert(1)</script>");
      expect(body).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
      expect(body).not.toContain("<img src=x");
    }
    expect(detail.body).toContain("&lt;img src=x onerror=alert(2)&gt;");
  });
});

describe("POST /jobs (create form)", () => {
  it("creates the job and redirects a plain form post back to the list", async () => {
    const name = uniqueWord("form");
    const res = await call("POST", "/jobs", form({ taskName: name, priority: "HIGH", payload: '{"a":1}' }), formHeaders);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/");
    const listed = await call("GET", `/api/jobs?search=${name}`);
    expect(listed.body.data[0]).toMatchObject({ taskName: name, priority: "HIGH", payload: { a: 1 } });
  });

  it("answers htmx with the refreshed table, retargeted, and events to close the dialog and toast", async () => {
    const name = uniqueWord("hx");
    const res = await call("POST", "/jobs", form({ taskName: name, priority: "LOW", payload: "" }), {
      ...formHeaders,
      ...htmx("job-form", `http://scheduler.test/?search=${name}`),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("HX-Retarget")).toBe("#jobs-table");
    expect(JSON.parse(res.headers.get("HX-Trigger-After-Swap")!)).toEqual({
      closeModal: true,
      toast: { message: `Job “${name}” created`, kind: "success" },
    });
    expect(res.body).toContain(name);
    expect(res.body).toContain("Showing 1–1 of 1 jobs");
  });

  it("re-renders the form with each error beside its field (422) and creates nothing", async () => {
    const before = await countRows("jobs");
    const res = await call("POST", "/jobs", form({ taskName: "  ", priority: "SOON", payload: "{oops" }), { ...formHeaders, ...htmx("job-form") });
    expect(res.status).toBe(422);
    expect(res.body).toContain('<small id="taskName-error" class="field-error">give the job a name</small>');
    expect(res.body).toContain("priority must be one of HIGH, MEDIUM, LOW");
    expect(res.body).toMatch(/id="payload-error" class="field-error">the payload is not valid JSON/);
    expect(res.body).toContain('aria-invalid="true"');
    expect(res.body).toContain("{oops");
    expect(await countRows("jobs")).toBe(before);
  });

  it("applies every rule the API applies: repeated keys, invisible or bidi task names, deep or __proto__ payloads", async () => {
    const before = await countRows("jobs");
    const cases: [Record<string, string>, RegExp][] = [
      [{ taskName: "dup", priority: "LOW", payload: '{"k":1,"k":2}' }, /payload repeats the key &quot;k&quot; within one object/],
      [{ taskName: "dup", priority: "LOW", payload: '{"a":{"k":1,"\\u006b":2}}' }, /payload repeats the key &quot;k&quot;/],
      [{ taskName: "\u200B\u200B", priority: "LOW", payload: "" }, /the task name must contain a visible character/],
      [{ taskName: "abc\u202Eexe.pdf", priority: "LOW", payload: "" }, /the task name must not contain bidirectional control characters/],
      [{ taskName: "deep", priority: "LOW", payload: `${'{"a":'.repeat(25)}1${"}".repeat(25)}` }, /nested deeper than 20 levels/],
      [{ taskName: "proto", priority: "LOW", payload: '{"__proto__":{"x":1}}' }, /must not use the key __proto__/],
    ];
    for (const [fields, message] of cases) {
      const res = await call("POST", "/jobs", form(fields), { ...formHeaders, ...htmx("job-form") });
      expect(res.status, JSON.stringify(fields)).toBe(422);
      expect(res.body).toMatch(message);
    }
    expect(await countRows("jobs")).toBe(before);
  });

  it("answers a field sent twice with a 400 form that names it, and writes nothing", async () => {
    const job = await createJob();
    const before = await countRows("jobs");
    const cases: [string, string, string, string][] = [
      ["/jobs", "taskName=a&taskName=b&payload={}", "taskName", "the task name"],
      ["/jobs", "taskName=a&payload={}&payload=x", "payload", "the payload"],
      [`/jobs/${job.id}/edit`, `taskName=${job.taskName}&cron=1&cron=2`, "cron", "cron"],
    ];
    for (const [path, body, field, words] of cases) {
      for (const headers of [formHeaders, { ...formHeaders, ...htmx("job-form") }]) {
        const res = await call("POST", path, body, headers);
        expect(res.status, `${path} ${body}`).toBe(400);
        expect(res.headers.get("content-type")).toMatch(/^text\/html/);
        expect(res.body).toContain(`<small id="${field}-error" class="field-error">${words} was given more than once</small>`);
        // Also at the top: the field may be in a part of the form that is hidden.
        expect(res.body).toMatch(new RegExp(`<p class="form-error" role="alert">${words} was given more than once</p>`));
      }
    }
    expect(await countRows("jobs")).toBe(before);
    expect((await call("GET", `/api/jobs/${job.id}`)).body.data).toMatchObject({ taskName: job.taskName, updatedAt: job.updatedAt });
  });

  it("creates the job and sends htmx to its page when HX-Current-URL is not a URL", async () => {
    const name = uniqueWord("badurl");
    const res = await call("POST", "/jobs", form({ taskName: name, priority: "LOW", payload: "" }), htmx("job-form", "garbage"));
    const job = (await call("GET", `/api/jobs?search=${name}`)).body.data[0];
    expect(job).toMatchObject({ taskName: name });
    expect(res.status).toBe(204);
    expect(res.headers.get("HX-Location")).toBe(`/jobs/${job.id}`);
  });

  it("rejects a payload that is JSON but not an object", async () => {
    const res = await call("POST", "/jobs", form({ taskName: "x", priority: "LOW", payload: "[1,2]" }), formHeaders);
    expect(res.status).toBe(422);
    expect(res.body).toContain("the payload must be a JSON object, such as");
    expect(res.body).toMatch(/^<!doctype html>/);
  });
});

describe("job row, run and live status", () => {
  it("runs from the row: the returned row is IN_PROGRESS and polls itself; a finished row stops polling", async () => {
    const job = await createJob();
    const run = await call("POST", `/jobs/${job.id}/run?view=row`, undefined, htmx());
    expect(run.status).toBe(200);
    expect(run.body).toMatch(new RegExp(`^<tr id="job-${job.id}"`));
    expect(run.body).toContain('data-status="IN_PROGRESS"');
    expect(run.body).toContain(`data-poll="/jobs/${job.id}/row" data-poll-every="1000"`);
    // Unavailable while it runs, yet focusable: a disabled button would drop the keyboard focus that pressed it.
    expect(run.body).toContain(`<button type="submit" aria-disabled="true" aria-label="Run ${job.taskName}">Running…</button>`);

    await waitForJob(job.id, delivered);
    const row = await call("GET", `/jobs/${job.id}/row`, undefined, htmx());
    expect(row.body).toContain('data-status="COMPLETED"');
    expect(row.body).toContain('data-delivery="DELIVERED"');
    expect(row.body).not.toContain("data-poll");
    expect(row.body).toContain(`data-announce="${job.taskName}: completed, webhook delivered"`);
  });

  it("answers 409 as plain text to htmx when the job is already running", async () => {
    const job = await createJob();
    await call("POST", `/jobs/${job.id}/run`, undefined, htmx());
    const again = await call("POST", `/jobs/${job.id}/run`, undefined, htmx());
    expect(again.status).toBe(409);
    expect(again.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(again.body).toBe(`Job '${job.id}' is already IN_PROGRESS`);
  });

  it("redirects a plain run form back to where it came from", async () => {
    const job = await createJob();
    const res = await call("POST", `/jobs/${job.id}/run`, "", { referer: "http://scheduler.test/?page=2", ...formHeaders });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/?page=2");
  });

  it("redirects a plain run form to the job's page when Referer is not a URL, or another site's", async () => {
    for (const referer of ["::::", "https://elsewhere.example/?page=2"]) {
      const job = await createJob();
      const res = await call("POST", `/jobs/${job.id}/run`, "", { referer, ...formHeaders });
      expect(res.status, referer).toBe(303);
      expect(res.headers.get("location")).toBe(`/jobs/${job.id}`);
      expect(await runRows(job.id)).toHaveLength(1);
    }
  });

  it("shows the detail page with each run, its webhook and attempts, and a live section that stops polling when done", async () => {
    const job = await createJob({ payload: { receiver: { script: [500, 200] } } });
    await call("POST", `/api/jobs/${job.id}/run`);
    const running = await call("GET", `/jobs/${job.id}/live`, undefined, htmx());
    expect(running.body).toMatch(new RegExp(`^<div id="job-live" data-announce="[^"]*" data-poll="/jobs/${job.id}/live" data-poll-every="1000">`));
    await waitForJob(job.id, delivered);
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, (j) => j.latestRun.number === 2 && delivered(j));
    const page = await call("GET", `/jobs/${job.id}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain("Runs <span class=\"muted\">(2)</span>");
    // Newest first; the newest starts open. Each run keeps its own webhook-id and attempts.
    expect(page.body.indexOf("<strong>Run 2</strong>")).toBeLessThan(page.body.indexOf("<strong>Run 1</strong>"));
    expect(page.body).toMatch(/<details id="run-\d+-details" open="">\s*<summary><strong>Run 2<\/strong>/);
    expect(page.body).toContain(`whd_${job.id}_1`);
    expect(page.body).toContain(`whd_${job.id}_2`);
    expect(page.body).toContain("Attempt 2");
    expect(page.body).toContain("receiver answered HTTP 500");
    const live = await call("GET", `/jobs/${job.id}/live`, undefined, htmx());
    expect(live.body).toMatch(/^<div id="job-live" data-announce="[^"]*">/);
  });

  /** The run's entry on its job's page, its tags removed: what a person reads. */
  const runText = async (jobId: string, number: number) => {
    const page = (await call("GET", `/jobs/${jobId}`)).body as string;
    const entry = new RegExp(`<li id="run-\\d+" class="run"[^>]*>(?:(?!<li id="run-).)*?<strong>Run ${number}</strong>.*?</details></li>`, "s").exec(page);
    expect(entry, `run ${number} on the page`).not.toBeNull();
    return entry![0].replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").replace(/ ([,.)])/g, "$1");
  };

  it("shows a run that has not started as when it is due, and nothing else", async () => {
    const job = await createJob({ delaySeconds: 2 * 86_400 });
    const text = await runText(job.id, 1);
    expect(text).toMatch(/Run 1 Scheduled due in \d d Due in \d d \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
    expect(text).not.toMatch(/Started|Completed|Webhook|attempts|What ran/);
  });

  it("shows a cancelled run as when it was cancelled, never as due", async () => {
    const later = await createJob({ delaySeconds: 2 * 86_400 });
    await call("POST", `/api/jobs/${later.id}/cancel`);
    const notStarted = await runText(later.id, 1);
    expect(notStarted).toMatch(/Run 1 Cancelled cancelled just now Cancelled just now, before it started \(cancelled by request\)\. It was due \d{4}-\d\d-\d\d/);
    expect(notStarted).not.toMatch(/due in|Started|Completed|Webhook/);

    const running = await createJob();
    await call("POST", `/api/jobs/${running.id}/run`);
    expect((await call("POST", `/api/jobs/${running.id}/cancel`)).status).toBe(200);
    const cancelled = await runText(running.id, 1);
    expect(cancelled).toMatch(/Run 1 Cancelled cancelled just now Started just now Cancelled just now Reason: cancelled by request/);
    // No job.cancelled webhook unless the job asks for one (notifyOnCancel).
    expect(cancelled).toContain("No webhook: this job does not notify on cancel.");
    expect(cancelled).not.toMatch(/Completed|Webhook delivered|Webhook attempts/);
  });

  it("offers Redeliver for each finished run, and queues a new series of that run's webhook", async () => {
    const job = await createJob();
    await call("POST", `/api/jobs/${job.id}/run`);
    const first = await waitForJob(job.id, delivered);
    const runId = first.latestRun.id;
    const page = await call("GET", `/jobs/${job.id}`);
    expect(page.body).toContain(`hx-post="/runs/${runId}/redeliver"`);
    const res = await call("POST", `/runs/${runId}/redeliver`, undefined, htmx(undefined, `http://scheduler.test/jobs/${job.id}`));
    expect(res.status).toBe(200);
    expect(res.body).toMatch(/^<div id="job-live" data-announce="[^"]*" data-poll=/);
    const done = await waitForJob(job.id, (j) => j.latestRun.delivery.series === 2 && delivered(j));
    expect(done.latestRun.delivery.attempts).toBe(1);
    const again = await call("GET", `/jobs/${job.id}`);
    expect(again.body).toContain("Redelivery 1, attempt 1");
  });

  it("keeps the page of runs the person was on after an action there, polling while a webhook on it is under way", async () => {
    // Run 1 delivered (its redelivery then fails once and succeeds a second later), then runs 2..11 cancelled: run 1 is on page 2.
    const job = await createJob({ payload: { receiver: { script: [200, 500, 200] } } });
    await call("POST", `/api/jobs/${job.id}/run`);
    const run1 = (await waitForJob(job.id, delivered)).latestRun.id;
    for (let i = 1; i <= 10; i++) await call("PATCH", `/api/jobs/${job.id}`, { runAt: new Date(Date.now() + i * 3_600_000).toISOString() });
    const onPage2 = htmx(undefined, `http://scheduler.test/jobs/${job.id}?page=2`);
    const isPage2 = (body: string) => {
      expect(body).toContain("<strong>Run 1</strong>");
      expect(body).not.toContain("<strong>Run 11</strong>");
      expect(body).toContain('<span class="page-of">Page 2 of 2</span>');
    };

    const cancelled = await call("POST", `/jobs/${job.id}/cancel`, "", onPage2);
    expect(cancelled.status).toBe(200);
    isPage2(cancelled.body);
    expect(cancelled.body).not.toContain("data-poll");

    const redelivered = await call("POST", `/runs/${run1}/redeliver`, "", onPage2);
    expect(redelivered.status).toBe(200);
    isPage2(redelivered.body);
    expect(redelivered.body).toContain(`data-poll="/jobs/${job.id}/live?page=2"`);
    // Page 2 polls until run 1's webhook is delivered (after a failed attempt), then stops.
    await vi.waitUntil(async () => (await runRows(job.id))[0]!.state === "DELIVERED", { timeout: 10_000, interval: 100 });
    expect((await call("GET", `/jobs/${job.id}/live?page=2`, undefined, htmx())).body).not.toContain("data-poll");

    // Without JavaScript, back to the page it came from.
    const plain = await call("POST", `/runs/${run1}/redeliver`, "", { ...formHeaders, referer: `http://scheduler.test/jobs/${job.id}?page=2` });
    expect(plain.status).toBe(303);
    expect(plain.headers.get("location")).toBe(`/jobs/${job.id}?page=2`);
  });

  it("answers 404 pages and plain-text 404s for unknown jobs", async () => {
    const page = await call("GET", "/jobs/nope");
    expect(page.status).toBe(404);
    expect(page.body).toContain("Job &#39;nope&#39; was not found");
    expect(page.body).toMatch(/^<!doctype html>/);
    const fragment = await call("GET", "/jobs/nope/row", undefined, htmx());
    expect(fragment.status).toBe(404);
    expect(fragment.body).toBe("Job 'nope' was not found");
  });
});

describe("edit and delete forms", () => {
  it("edits a job through the form", async () => {
    const job = await createJob({ priority: "LOW" });
    const modal = await call("GET", `/jobs/${job.id}/edit`, undefined, htmx("modal"));
    expect(modal.body).toMatch(/^<dialog/);
    expect(modal.body).toContain(`value="${job.taskName}"`);
    const res = await call("POST", `/jobs/${job.id}/edit`, form({ taskName: "Renamed", priority: "HIGH", payload: '{"b":2}' }), formHeaders);
    expect(res.status).toBe(303);
    expect((await call("GET", `/api/jobs/${job.id}`)).body.data).toMatchObject({ taskName: "Renamed", priority: "HIGH", payload: { b: 2 } });
  });

  it("confirms, then deletes the job and its logs", async () => {
    const job = await createJob();
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, delivered);
    const confirm = await call("GET", `/jobs/${job.id}/delete`, undefined, htmx("modal"));
    expect(confirm.body).toContain("Its 1 run and 1 webhook log entry go too.");
    const res = await call("POST", `/jobs/${job.id}/delete`, undefined, htmx(undefined, "http://scheduler.test/"));
    expect(res.status).toBe(200);
    expect(res.body).not.toContain(job.id);
    expect((await call("GET", `/jobs/${job.id}`, undefined, { accept: "text/html" })).status).toBe(404);
    // Its rows go with the next sweep (nothing was under way).
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), env);
    expect(await logRows(job.id)).toEqual([]);
    expect(await runRows(job.id)).toEqual([]);
  });
});

describe("logs and inbox pages", () => {
  it("lists deliveries and filters them by outcome", async () => {
    const job = await createJob({ payload: { receiver: { script: [500, 200] } } });
    await call("POST", `/api/jobs/${job.id}/run`);
    await waitForJob(job.id, delivered);
    const failures = await call("GET", `/logs?jobId=${job.id}&outcome=failure`, undefined, htmx("logs-table"));
    expect(failures.body).toContain("HTTP 500");
    expect(failures.body).not.toContain("HTTP 200");
    expect(failures.headers.get("HX-Push-Url")).toBe(`/logs?jobId=${job.id}&outcome=failure`);
    const page = await call("GET", `/logs?jobId=${job.id}`);
    expect(page.body).toContain("<h1>Webhook logs</h1>");
    expect(page.body).toContain(`class="task-name">${job.taskName}</a>`);
  });

  it("shows the inbox when enabled and 404s when not", async () => {
    expect((await call("GET", "/inbox")).status).toBe(200);
    // Signed in, so the 404 is the inbox being off (without a cookie it would be the sign-in redirect).
    const off = await worker.fetch(new Request("http://scheduler.test/inbox", { headers: { cookie: await sessionCookie() } }), { ...env, WEBHOOK_INBOX_ENABLED: "false" });
    expect(off.status).toBe(404);
    expect(await off.text()).toContain("Route &#39;/webhooks/inbox&#39; was not found");
    const page = await worker.fetch(new Request("http://scheduler.test/", { headers: { cookie: await sessionCookie() } }), { ...env, WEBHOOK_INBOX_ENABLED: "false" });
    expect(page.status).toBe(200);
    expect(await page.text()).not.toContain('href="/inbox"');
  });
});

describe("scheduling from the dashboard", () => {
  it("creates a recurring job from the form and shows it scheduled, in words, with its next runs", async () => {
    const name = uniqueWord("cronform");
    const res = await call("POST", "/jobs", form({ taskName: name, priority: "LOW", payload: "", when: "schedule", cron: "0 9 * * 1-5", timezone: "Europe/London", missed: "once", overlap: "allow", limit: "" }), formHeaders);
    expect(res.status).toBe(303);
    const job = (await call("GET", `/api/jobs?search=${name}`)).body.data[0];
    expect(job).toMatchObject({ status: "SCHEDULED", schedule: { cron: "0 9 * * 1-5", timezone: "Europe/London", missed: "once", overlap: "allow" } });
    const list = await call("GET", `/?search=${name}`);
    expect(list.body).toContain('data-status="SCHEDULED"');
    expect(list.body).toContain("At 09:00, Monday through Friday (Europe/London)");
    const page = await call("GET", `/jobs/${job.id}`);
    expect(page.body.match(/<ol class="next-runs"[^>]*>(.*?)<\/ol>/s)![1]!.match(/<li>/g)).toHaveLength(5);
    expect(page.body).toContain(`hx-post="/jobs/${job.id}/pause"`);
    const paused = await call("POST", `/jobs/${job.id}/pause`, "", htmx(undefined, `http://scheduler.test/jobs/${job.id}`));
    expect(paused.body).toContain(`hx-post="/jobs/${job.id}/resume"`);
    expect(paused.body).toContain("<strong>Paused. </strong>");
  });

  it("puts each scheduling error beside its field and creates nothing", async () => {
    const before = await countRows("jobs");
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ when: "schedule", cron: "61 * * * *", timezone: "UTC" }, "cron", /minute 61 is out of range, 0-59/],
      [{ when: "schedule", cron: "0 9 * * *", timezone: "Mars/Olympus" }, "timezone", /Mars\/Olympus is not a time zone: use a name such as Europe\/London/],
      [{ when: "at", runAt: "2001-01-01T09:00", timezone: "UTC" }, "runAt", /this time has passed: choose a time from now on/],
      [{ when: "delay", delaySeconds: "soon" }, "delaySeconds", /enter a whole number of seconds, 0 or more/],
      [{ when: "none", webhookUrl: "https://169.254.169.254/x" }, "form", /webhookUrl: 169.254.169.254 is not a public address/],
    ];
    for (const [fields, field, message] of cases) {
      const res = await call("POST", "/jobs", form({ taskName: "x", priority: "LOW", payload: "", ...fields }), { ...formHeaders, ...htmx("job-form") });
      if (field === "form") {
        expect(res.status).toBe(400);
        expect(res.body).toMatch(message);
      } else {
        expect(res.status, JSON.stringify(fields)).toBe(422);
        expect(res.body).toMatch(new RegExp(`<small id="${field}-error" class="field-error">[^<]*${message.source}`));
      }
    }
    expect(await countRows("jobs")).toBe(before);
  });

  it("says each form error in the person's words, naming what they typed", async () => {
    const local = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 16);
    const cases: [Record<string, string>, string, string][] = [
      [{ cron: "0 25 * * *" }, "cron", "hour 25 is out of range, 0-23"],
      [{ cron: "0 9 32 * *" }, "cron", "day of the month 32 is out of range, 1-31"],
      [{ cron: "0 9 * * 1-5 *" }, "cron", "a cron has five fields (minute hour day month weekday); this one has 6"],
      [{ cron: "5-1 * * * *" }, "cron", "minute range 5-1 runs backwards: write it low to high, such as 1-5"],
      [{ cron: "0 0 30 2 *" }, "cron", "this cron matches no date between the start and the end"],
      [{ cron: "0 9 * * *", limit: "0" }, "limit", "at least 1 run, or leave it empty"],
      [{ cron: "0 9 * * *", limit: "1.5" }, "limit", "a whole number of runs, such as 10"],
      [{ cron: "0 9 * * *", startAt: local(30), endAt: local(10) }, "endAt", "the end must come after the start"],
    ];
    for (const [fields, field, words] of cases) {
      const res = await call("POST", "/jobs", form({ taskName: "x", priority: "LOW", payload: "", when: "schedule", timezone: "UTC", ...fields }), { ...formHeaders, ...htmx("job-form") });
      expect(res.body, JSON.stringify(fields)).toContain(`<small id="${field}-error" class="field-error">${words}</small>`);
      expect(res.body).not.toContain("schedule.");
    }
  });

  it("checks a field as it is typed: its error in words, gone once it is right, and a cron said in words", async () => {
    const check = (field: string, fields: Record<string, string>) =>
      call("POST", `/jobs/form-check?field=${field}`, form({ taskName: "", priority: "LOW", payload: "", when: "schedule", timezone: "Europe/London", ...fields }), htmx(`${field}-feedback`));
    const wrong = await check("cron", { cron: "61 9 * * 1-5" });
    expect(wrong.status).toBe(200);
    expect(wrong.body).toBe('<div id="cron-feedback" data-feedback-for="cron" aria-live="polite"><small id="cron-error" class="field-error">minute 61 is out of range, 0-59</small></div>');
    const right = await check("cron", { cron: "0 9 * * 1-5" });
    expect(right.body).toBe('<div id="cron-feedback" data-feedback-for="cron" aria-live="polite"><small id="cron-help" class="field-help">At 09:00, Monday through Friday</small></div>');
    // Another field's error is said beside that field only: the cron is still right.
    expect((await check("cron", { cron: "0 9 * * 1-5", limit: "0" })).body).toContain("At 09:00, Monday through Friday");
    expect((await check("limit", { cron: "0 9 * * 1-5", limit: "0" })).body).toContain('<small id="limit-error" class="field-error">at least 1 run, or leave it empty</small>');
    expect((await check("limit", { cron: "0 9 * * 1-5", limit: "3" })).body).toBe('<div id="limit-feedback" data-feedback-for="limit" aria-live="polite"></div>');
    expect((await check("taskName", { taskName: " " })).body).toContain('<small id="taskName-error" class="field-error">give the job a name</small>');
    expect((await check("taskName", { taskName: "Digest" })).body).toBe('<div id="taskName-feedback" data-feedback-for="taskName" aria-live="polite"></div>');
    expect((await check("payload", { payload: "[1]" })).body).toContain("the payload must be a JSON object, such as {&quot;email&quot;: &quot;ada@example.com&quot;}, or left empty");
    expect((await check("payload", { payload: "{" })).body).toMatch(/field-error">the payload is not valid JSON/);
    expect((await check("webhookUrl", { webhookUrl: "ftp://example.com/hook" })).body).toContain('field-error">the webhook URL must be an http(s) URL</small>');
    expect((await check("priority", {})).status).toBe(404);
    // On the edit form an empty task name keeps the name, as saving it does.
    const edit = await call("POST", "/jobs/form-check?field=taskName&form=edit", form({ taskName: "", priority: "LOW", payload: "", when: "keep" }), htmx("taskName-feedback"));
    expect(edit.body).toBe('<div id="taskName-feedback" data-feedback-for="taskName" aria-live="polite"></div>');
    const job = await createJob();
    expect((await call("GET", `/jobs/${job.id}/edit`)).body).toContain('hx-post="/jobs/form-check?field=taskName&amp;form=edit"');
  });

  it("asks how many before a bulk action, then does it and says what happened", async () => {
    const ids = [(await createJob({ runAt: new Date(Date.now() + 3_600_000).toISOString() })).id, (await createJob({ runAt: new Date(Date.now() + 3_600_000).toISOString() })).id];
    const body = new URLSearchParams([["action", "cancel"], ...ids.map((id): [string, string] => ["ids", id])]).toString();
    const confirm = await call("POST", "/jobs/bulk/confirm", body, { ...formHeaders, ...htmx("modal") });
    expect(confirm.body).toContain("Cancel the current run of 2 jobs?");
    const done = await call("POST", "/jobs/bulk", body, { ...formHeaders, ...htmx(undefined, "http://scheduler.test/") });
    expect(done.status).toBe(200);
    expect(JSON.parse(done.headers.get("HX-Trigger-After-Swap")!).toast.message).toBe("Cancelled the current run of 2 of 2 jobs");
    for (const id of ids) expect((await call("GET", `/api/jobs/${id}`)).body.data.status).toBe("CANCELLED");
    const none = await call("POST", "/jobs/bulk/confirm", "action=run", { ...formHeaders, ...htmx("modal") });
    expect(none.status).toBe(400);
    expect(none.body).toBe("Select at least one job first (the boxes at the start of the rows)");
  });
});

describe("bad links and forms on dashboard paths", () => {
  const long = "x".repeat(100);
  it.each([
    ["GET", `/jobs/${long}`, undefined, "Invalid link: job id must be at most 64 characters"],
    ["POST", "/runs/abc/redeliver", "", "Invalid link: run id must be a positive whole number"],
    ["POST", "/jobs/bulk", "action=nuke&ids=j1", "Invalid form: action must be one of run, cancel, pause, resume, delete"],
    ["POST", "/jobs/bulk", `action=run&ids=${long}`, "Invalid form: a job id must be at most 64 characters"],
  ])("%s %s %j answers a 400 page that says what is wrong (plain text to htmx), never the validator's JSON", async (method, path, body, message) => {
    const page = await call(method, path, body, body === undefined ? {} : formHeaders);
    expect(page.status).toBe(400);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.body).toMatch(/^<!doctype html>/);
    expect(page.body).toContain(`<p>${message}</p>`);
    const fragment = await call(method, path, body, htmx());
    expect(fragment.status).toBe(400);
    expect(fragment.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(fragment.body).toBe(message);
  });
});
