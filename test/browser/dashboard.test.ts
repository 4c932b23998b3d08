/**
 * The dashboard in real headless Chromium (Debian's package, driven by playwright-core) against the
 * app started with `npm start`. Saves the README's screenshots to docs/screenshots/.
 */
import { existsSync, readFileSync } from "node:fs";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`Skipping the browser tests: no Chromium at ${CHROMIUM} (apt-get install chromium).`);

const appUrl = inject("appUrl");
const shots = "docs/screenshots";
const word = () => `w${Math.random().toString(36).slice(2, 10)}`;
/** The development API token that `npm start` uses (config/local.env). */
const token = /^API_TOKENS=(\S+)/m.exec(readFileSync("config/local.env", "utf8"))![1]!;

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${appUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe.skipIf(!hasChromium)("dashboard in Chromium", () => {
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];
  const cspViolations: string[] = [];
  const dialogs: string[] = [];

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  });
  afterAll(async () => browser?.close());

  beforeEach(async () => {
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    page.on("dialog", async (d) => {
      dialogs.push(d.message());
      await d.dismiss();
    });
  });

  // Each test's page closed once it is done: left open, the pages of earlier tests would go on
  // polling their live parts (the inbox, the overview, scheduled rows) for the rest of the file,
  // CPU taken from the app and the tests still running.
  afterEach(async () => page?.close());

  /** Loads a page and waits until htmx is ready (before that, links fall back to plain navigation). */
  async function open(path: string) {
    await page.goto(`${appUrl}${path}`);
    await page.waitForFunction(() => "htmx" in window);
  }

  /**
   * Colours change through CSS transitions: measured mid-way they are neither scheme's. Waits until no
   * finite animation runs. A transition cancelled meanwhile (an htmx swap replaced its element) rejects
   * its `finished` with an AbortError, so each round only waits for them to settle and looks again. An
   * infinite one (the in-progress badge's pulse) never finishes: it is held at its start, the badge's
   * resting colours, so every run measures the same frame.
   */
  const settleAnimations = (on: Page) =>
    on.evaluate(async () => {
      for (;;) {
        const running = document.getAnimations().filter((a) => a.playState === "running");
        const endless = running.filter((a) => a.effect?.getComputedTiming().iterations === Infinity);
        for (const animation of endless) {
          animation.pause();
          animation.currentTime = 0;
        }
        const finite = running.filter((a) => !endless.includes(a));
        if (finite.length === 0) return;
        await Promise.allSettled(finite.map((a) => a.finished));
      }
    });

  /** Set before an action; still there after it only if the page was not reloaded. */
  const markPage = () => page.evaluate(() => ((window as any).__noReload = true));
  const stillSamePage = () => page.evaluate(() => (window as any).__noReload === true);

  it("asks to sign in first, then opens the page that was asked for", async () => {
    await page.goto(`${appUrl}/logs`);
    await page.waitForURL("**/login?next=%2Flogs");
    await page.screenshot({ path: `${shots}/sign-in.png` });
    await page.getByLabel("API token").fill("wrong-token-000000000000000000");
    await page.getByRole("button", { name: "Sign in" }).click();
    expect(await page.getByRole("alert").textContent()).toContain("That token is not valid.");
    await page.getByLabel("API token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${appUrl}/logs`);
    const cookie = (await context.cookies()).find((c) => c.name === "scheduler_session");
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax" });
  });

  it("creates a job through the modal and shows the new row without a reload", async () => {
    const name = `Send report ${word()}`;
    await open("/");
    await markPage();
    await page.locator(".page-head").getByRole("button", { name: "New job" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    await dialog.getByLabel("Task name").fill(name);
    await dialog.getByLabel("Priority").selectOption("HIGH");
    await dialog.getByLabel("Payload (a JSON object)").fill('{ "email": "ops@example.com", "team": "ops" }');
    await page.screenshot({ path: `${shots}/create-modal.png` });
    await page.getByRole("button", { name: "Create job" }).click();

    const row = page.locator("tr", { hasText: name });
    await row.waitFor();
    await expect.poll(() => dialog.count()).toBe(0);
    expect(await row.locator(".priority-high").textContent()).toBe("High");
    expect(await row.locator("[data-status]").getAttribute("data-status")).toBe("PENDING");
    expect(await stillSamePage()).toBe(true);
    await expect.poll(() => page.locator(".toast").first().textContent()).toContain("created");
  });

  it("shows validation errors beside the fields and creates nothing", async () => {
    await open("/");
    const before = (await api("GET", "/api/jobs?limit=1&count=exact")).body.pagination.total;
    await page.locator(".page-head").getByRole("button", { name: "New job" }).click();
    await page.locator("#modal dialog[open]").waitFor();
    await page.getByLabel("Payload (a JSON object)").fill("{ not json");
    // The answer is awaited with a long timeout: on a loaded CI machine the dev server can be slow.
    const answered = page.waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/jobs", { timeout: 45_000 });
    await page.getByRole("button", { name: "Create job" }).click();
    expect((await answered).status()).toBe(422);
    await expect.poll(() => page.locator("#taskName-error").textContent()).toBe("give the job a name");
    expect(await page.locator("#payload-error").textContent()).toMatch(/payload is not valid JSON/);
    expect(await page.getByLabel("Task name").getAttribute("aria-invalid")).toBe("true");
    // Let htmx finish swapping and settling the re-rendered form before typing into it.
    await page.waitForFunction(() => !document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling"));
    await page.getByLabel("Payload (a JSON object)").fill("[1, 2]");
    await page.getByLabel("Task name").fill("valid name");
    expect(await page.getByLabel("Payload (a JSON object)").inputValue()).toBe("[1, 2]");
    await page.getByRole("button", { name: "Create job" }).click();
    await expect.poll(() => page.locator("#payload-error").textContent()).toMatch(/the payload must be a JSON object/);
    expect((await api("GET", "/api/jobs?limit=1&count=exact")).body.pagination.total).toBe(before);
  });

  it("searches as you type and filters, with the view in the URL (reload and back work)", async () => {
    const tag = word();
    await api("POST", "/api/jobs", { taskName: `Invoice ${tag}`, priority: "LOW" });
    await api("POST", "/api/jobs", { taskName: "Other", payload: { ref: `${tag}-payload` }, priority: "HIGH" });
    await api("POST", "/api/jobs", { taskName: "Unrelated", priority: "HIGH" });

    await open("/");
    await markPage();
    await page.getByRole("searchbox", { name: "Search" }).fill(tag);
    await expect.poll(() => page.url()).toContain(`search=${tag}`);
    await expect.poll(() => page.locator("tbody tr").count()).toBe(2);
    expect(await stillSamePage()).toBe(true);

    await page.getByLabel("Priority").selectOption("HIGH");
    await expect.poll(() => page.url()).toContain("priority=HIGH");
    await expect.poll(() => page.locator("tbody tr").count()).toBe(1);
    expect(await page.locator("tbody tr").textContent()).toContain("Other");

    await page.reload();
    expect(await page.getByRole("searchbox", { name: "Search" }).inputValue()).toBe(tag);
    expect(await page.locator("tbody tr").count()).toBe(1);

    await page.goBack();
    await expect.poll(() => page.url()).not.toContain("priority=HIGH");
    await expect.poll(() => page.locator("tbody tr").count()).toBe(2);
  });

  it("runs a job from its row: IN_PROGRESS at once, then COMPLETED with the webhook delivered, no reload", async () => {
    const name = `Nightly export ${word()}`;
    const created = await api("POST", "/api/jobs", { taskName: name, payload: { rows: 1200 }, priority: "MEDIUM" });
    await open(`/?search=${encodeURIComponent(name)}`);
    await markPage();
    const row = page.locator("tr", { hasText: name });
    await row.getByRole("button", { name: `Run ${name}` }).click();
    await expect.poll(() => row.locator("[data-status]").getAttribute("data-status")).toBe("IN_PROGRESS");
    await page.screenshot({ path: `${shots}/jobs-running.png` });
    await expect.poll(() => row.locator("[data-status]").getAttribute("data-status"), { timeout: 15_000 }).toBe("COMPLETED");
    await expect.poll(() => row.locator("[data-delivery]").getAttribute("data-delivery"), { timeout: 10_000 }).toBe("DELIVERED");
    expect(await stillSamePage()).toBe(true);
    const job = (await api("GET", `/api/jobs/${created.body.data.id}`)).body.data;
    expect(job).toMatchObject({ status: "COMPLETED", latestRun: { status: "COMPLETED", delivery: { state: "DELIVERED" } } });
    await open("/");
    await page.screenshot({ path: `${shots}/jobs.png` });
  });

  it("shows the job detail page with the timeline and the webhook attempt", async () => {
    const name = `Detail ${word()}`;
    const { body } = await api("POST", "/api/jobs", { taskName: name, payload: { email: "a@example.com" }, priority: "HIGH" });
    await api("POST", `/api/jobs/${body.data.id}/run`);
    await open(`/?search=${encodeURIComponent(name)}`);
    await page.getByRole("link", { name }).click();
    await page.waitForURL(`**/jobs/${body.data.id}`);
    expect(await page.locator("pre.payload").textContent()).toContain('"email": "a@example.com"');
    const attempt = page.locator(".attempts li").first();
    await attempt.waitFor({ timeout: 15_000 });
    expect(await attempt.textContent()).toContain("HTTP 200");
    await attempt.locator("summary").click();
    expect(await attempt.locator("pre").first().textContent()).toContain(body.data.id);
    await expect.poll(() => page.locator(".timeline li.done").count()).toBe(3);
  });

  it("deletes a job through the confirmation modal; the row goes at once, its logs with the next sweep", async () => {
    const name = `Doomed ${word()}`;
    const { body } = await api("POST", "/api/jobs", { taskName: name });
    await api("POST", `/api/jobs/${body.data.id}/run`);
    await expect.poll(async () => (await api("GET", `/api/jobs/${body.data.id}/logs`)).body.data.length, { timeout: 15_000 }).toBe(1);

    await open(`/?search=${encodeURIComponent(name)}`);
    await markPage();
    await page.getByRole("button", { name: `Delete ${name}` }).click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain("Its 1 run and 1 webhook log entry go too.");
    await page.screenshot({ path: `${shots}/delete-modal.png` });
    await dialog.getByRole("button", { name: "Delete job" }).click();
    await expect.poll(() => page.locator("tr", { hasText: name }).count()).toBe(0);
    expect(await stillSamePage()).toBe(true);
    expect((await api("GET", `/api/jobs/${body.data.id}`)).status).toBe(404);
    // Its attempts stay listed, marked as a deleted job's, until the sweep's purge removes them
    // (src/background/purge.ts). The sweep is fired here rather than awaited from `npm start`'s 15 s ticker.
    const logs = async () => (await api("GET", `/api/logs?jobId=${body.data.id}`)).body.data as { jobId: string; jobDeleted: boolean }[];
    expect((await logs()).filter((log) => log.jobId !== body.data.id || log.jobDeleted !== true)).toEqual([]);
    await fetch(`${appUrl}/__scheduled?cron=${encodeURIComponent("* * * * *")}`);
    await expect.poll(logs, { timeout: 30_000 }).toEqual([]);
  });

  it("lists every delivery on the logs page and filters by outcome", async () => {
    await open(`/logs`);
    await page.locator("table.logs").waitFor();
    await page.screenshot({ path: `${shots}/logs.png` });
    await page.getByLabel("Outcome").selectOption("failure");
    await expect.poll(() => page.url()).toContain("outcome=failure");
  });

  it("shows what the built-in inbox received", async () => {
    await open(`/inbox`);
    await page.locator(".inbox li").first().waitFor();
    expect(await page.locator(".inbox li").first().textContent()).toContain("job.completed");
    await page.screenshot({ path: `${shots}/inbox.png` });
  });

  it("renders hostile task names and payloads as text", async () => {
    const name = `<script>alert(1)</script><img src=x onerror=alert(2)> ${word()}`;
    const { body } = await api("POST", "/api/jobs", { taskName: name, payload: { html: "<b onmouseover=alert(3)>x</b>" } });
    await open(`/?search=${encodeURIComponent(name.slice(-9))}`);
    expect(await page.locator(".task-name").first().textContent()).toBe(name);
    await open(`/jobs/${body.data.id}`);
    expect(await page.locator("h1.task-name").textContent()).toBe(name);
    expect(await page.locator("pre.payload").textContent()).toContain("<b onmouseover=alert(3)>x</b>");
    expect(await page.locator("img[src=x]").count()).toBe(0);
    expect(dialogs).toEqual([]);
  });

  it("works at phone width", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await open("/");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: `${shots}/jobs-phone.png` });
  });

  /** A job run once to the end (its webhook delivered), then its page opened. */
  async function jobPageAfterOneRun(name: string) {
    const { body } = await api("POST", "/api/jobs", { taskName: name, payload: { step: 1 } });
    const id = body.data.id as string;
    await api("POST", `/api/jobs/${id}/run`);
    await expect.poll(async () => (await api("GET", `/api/jobs/${id}`)).body.data.latestRun?.delivery?.state, { timeout: 15_000 }).toBe("DELIVERED");
    await open(`/jobs/${id}`);
    return id;
  }

  it("keeps what a person opened and focused while the page refreshes itself, and says once that the run finished", async () => {
    const name = `Reader ${word()}`;
    const id = await jobPageAfterOneRun(name);
    // Count what is said to screen readers from here on.
    await page.evaluate(() => {
      (window as any).__announced = [];
      new MutationObserver(() => (window as any).__announced.push(document.getElementById("announcer")!.textContent)).observe(document.getElementById("announcer")!, { childList: true, characterData: true, subtree: true });
    });
    await page.getByRole("button", { name: `Run ${name}` }).click();
    const run2 = page.locator("li.run", { hasText: "Run 2" });
    await run2.waitFor();
    await expect.poll(() => page.locator("#job-live").getAttribute("data-poll")).toBe(`/jobs/${id}/live`);

    // While run 2 runs (and the section refreshes every second), the reader opens run 1 and its attempt, and focuses a button.
    const run1 = page.locator("li.run", { hasText: "Run 1" });
    await run1.locator("summary").first().click();
    await run1.locator(".attempts summary").first().click();
    await run1.getByRole("button", { name: "Redeliver webhook of run 1" }).focus();
    const polls = page.waitForRequest((req) => req.url().endsWith(`/jobs/${id}/live`));
    await polls;
    await expect.poll(() => run2.locator("[data-status]").first().getAttribute("data-status"), { timeout: 15_000 }).toBe("COMPLETED");
    await expect.poll(() => page.locator("#job-live").getAttribute("data-poll"), { timeout: 15_000 }).toBeNull();

    expect(await run1.locator("details").first().evaluate((d) => (d as HTMLDetailsElement).open)).toBe(true);
    expect(await run1.locator(".attempts details").first().evaluate((d) => (d as HTMLDetailsElement).open)).toBe(true);
    expect(await page.evaluate(() => document.activeElement?.getAttribute("aria-label"))).toBe("Redeliver webhook of run 1");
    // Said once, when it finished; the refreshing section is not a live region.
    expect(await page.evaluate(() => (window as any).__announced)).toEqual([`${name}: completed, webhook delivered`]);
    expect(await page.locator("#job-live[aria-live], #job-live [aria-live]").count()).toBe(0);
    await page.screenshot({ path: `${shots}/job-detail.png`, fullPage: true });
  });

  it("keeps the keyboard focus on Run and Redeliver once pressed, and moves it to the status when Cancel run goes", async () => {
    const name = `Keyboard ${word()}`;
    const id = (await api("POST", "/api/jobs", { taskName: name })).body.data.id as string;
    /** What has the keyboard focus: its label, else its id, else its tag (BODY when it was dropped). */
    const focused = () => page.evaluate(() => document.activeElement?.getAttribute("aria-label") || document.activeElement?.id || document.activeElement?.tagName);
    const runRequests: string[] = [];
    page.on("request", (req) => req.method() === "POST" && new URL(req.url()).pathname === `/jobs/${id}/run` && runRequests.push(req.url()));
    const settled = () => page.waitForFunction(() => !document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling"));

    // A row's Run, pressed with the keyboard: it stays focused while the job runs, and pressing it again does nothing.
    await open(`/?search=${encodeURIComponent(name)}`);
    const row = page.locator("tr", { hasText: name });
    const rowRun = row.getByRole("button", { name: `Run ${name}`, exact: true });
    await rowRun.focus();
    await page.keyboard.press("Enter");
    await expect.poll(() => row.locator("[data-status]").first().getAttribute("data-status")).toBe("IN_PROGRESS");
    await settled();
    expect(await focused()).toBe(`Run ${name}`);
    expect(await rowRun.getAttribute("aria-disabled")).toBe("true");
    await page.keyboard.press("Enter");
    await new Promise((r) => setTimeout(r, 500));
    expect(runRequests).toHaveLength(1);
    expect(await page.locator(".toast-error").count()).toBe(0);
    await expect.poll(() => row.locator("[data-delivery]").getAttribute("data-delivery"), { timeout: 15_000 }).toBe("DELIVERED");
    expect(await rowRun.getAttribute("aria-disabled")).toBeNull();
    expect(await focused()).toBe(`Run ${name}`);

    // On the job's page: Redeliver keeps the focus while its webhook is sent again.
    await open(`/jobs/${id}`);
    await page.getByRole("button", { name: "Redeliver webhook of run 1" }).focus();
    const redelivered = page.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith("/redeliver"));
    await page.keyboard.press("Enter");
    expect((await redelivered).status()).toBe(200);
    await settled();
    expect(await focused()).toBe("Redeliver webhook of run 1");

    // Run, then Cancel run: Run keeps the focus; Cancel run is gone once the run is cancelled, and the status takes it.
    const run = page.locator("#job-live").getByRole("button", { name: `Run ${name}`, exact: true });
    await run.focus();
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("#job-live .status-cell [data-status]").first().getAttribute("data-status")).toBe("IN_PROGRESS");
    await settled();
    expect(await focused()).toBe(`Run ${name}`);
    expect(await run.getAttribute("aria-disabled")).toBe("true");
    await page.getByRole("button", { name: `Cancel run ${name}` }).focus();
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("#job-live .status-cell [data-status]").first().getAttribute("data-status")).toBe("CANCELLED");
    await settled();
    expect(await focused()).toBe("job-status");
  });

  it("tries a failed refresh again with a growing wait, says so, and carries on when the server answers again", async () => {
    const { body } = await api("POST", "/api/jobs", { taskName: `Flaky network ${word()}` });
    const id = body.data.id as string;
    await open(`/jobs/${id}`);
    const tried: number[] = [];
    await page.route(`**/jobs/${id}/live`, (route) => {
      tried.push(Date.now());
      return route.abort("connectionreset");
    });
    await page.getByRole("button", { name: /^Run / }).click();
    await page.locator("#live-status").waitFor({ state: "visible" });
    expect(await page.locator("#live-status").textContent()).toMatch(/Live updates paused/);
    await new Promise((r) => setTimeout(r, 6500));
    // Every second it would be 6 or 7 tries; with waits of 2 s then 4 s it is at most 3, and it did not give up.
    expect(tried.length).toBeGreaterThanOrEqual(2);
    expect(tried.length).toBeLessThanOrEqual(3);
    expect(tried[1]! - tried[0]!).toBeGreaterThanOrEqual(1800);
    expect(await page.locator(".toast-error").count()).toBe(0);

    await page.unroute(`**/jobs/${id}/live`);
    await expect.poll(() => page.locator("#job-live .status-cell [data-status]").getAttribute("data-status"), { timeout: 20_000 }).toBe("COMPLETED");
    await page.locator("#live-status").waitFor({ state: "hidden" });
  });

  it("stops watching a job deleted elsewhere, without a lasting 'paused' note", async () => {
    const name = `Deleted elsewhere ${word()}`;
    const { body } = await api("POST", "/api/jobs", { taskName: name });
    await open(`/jobs/${body.data.id}`);
    // Run from the page: its answer shows the run in progress, live, however long the page took to open
    // (a run started before it might already be over, and the page then watches nothing).
    await page.getByRole("button", { name: `Run ${name}` }).click();
    await expect.poll(() => page.locator("#job-live").getAttribute("data-poll")).not.toBeNull();
    await api("DELETE", `/api/jobs/${body.data.id}`);
    const polls: string[] = [];
    page.on("request", (req) => req.url().includes(`/jobs/${body.data.id}/live`) && polls.push(req.url()));
    await new Promise((r) => setTimeout(r, 4000));
    expect(polls.length).toBeLessThanOrEqual(1);
    expect(await page.locator("#live-status").isHidden()).toBe(true);
    expect(await page.locator(".toast-error").count()).toBe(0);
  });

  it("keeps the inbox on the page that was asked for while new webhooks arrive", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 22; i++) ids.push((await api("POST", "/api/jobs", { taskName: `Inbox filler ${i}` })).body.data.id);
    await api("POST", "/api/jobs/run", { ids });
    await expect.poll(async () => (await api("GET", "/webhooks/inbox?limit=100")).body.pagination.total, { timeout: 20_000 }).toBeGreaterThanOrEqual(22);
    await open("/inbox");
    expect(await page.locator("#inbox-list").getAttribute("data-poll")).toBe("/inbox");
    await page.getByRole("link", { name: "Next ›" }).click();
    await expect.poll(() => page.url()).toContain("/inbox?page=2");
    const firstOnPage2 = await page.locator(".inbox li").first().getAttribute("data-entry-id");
    expect(await page.locator("#inbox-list").getAttribute("data-poll")).toBeNull();
    // More webhooks arrive; page 2 stays page 2 (the first page alone refreshes itself).
    const more = (await api("POST", "/api/jobs", { taskName: "Inbox latecomer" })).body.data.id;
    await api("POST", `/api/jobs/${more}/run`);
    await new Promise((r) => setTimeout(r, 6000));
    expect(page.url()).toContain("/inbox?page=2");
    expect(await page.locator(".inbox li").first().getAttribute("data-entry-id")).toBe(firstOnPage2);
  });

  it("answers an unknown dashboard path with an HTML page", async () => {
    const res = await page.goto(`${appUrl}/no/such/page`);
    expect(res!.status()).toBe(404);
    expect(res!.headers()["content-type"]).toMatch(/^text\/html/);
    expect(await page.locator("h1").textContent()).toBe("Not found");
    expect(await page.getByRole("link", { name: "Back to the jobs" }).count()).toBe(1);
  });

  it("after a session ends, signing in again returns to the page, never to a POST-only path", async () => {
    const name = `Session ${word()}`;
    const { body } = await api("POST", "/api/jobs", { taskName: name });
    await open(`/jobs/${body.data.id}`);
    await context.clearCookies();
    await page.getByRole("button", { name: `Run ${name}` }).click();
    await page.waitForURL(`**/login?next=${encodeURIComponent(`/jobs/${body.data.id}`)}`);
    await page.getByLabel("API token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${appUrl}/jobs/${body.data.id}`);
    expect(await page.locator("h1").textContent()).toBe(name);
    expect((await api("GET", `/api/jobs/${body.data.id}`)).body.data.status).toBe("PENDING");
  });

  it("schedules a recurring job from the dialog: errors beside the fields, then the cron in words and the next runs", async () => {
    const name = `Weekday digest ${word()}`;
    await open("/");
    await page.locator(".page-head").getByRole("button", { name: "New job" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    await dialog.getByLabel("Task name").fill(name);
    await dialog.getByLabel("On a schedule").check();
    await dialog.getByLabel("Cron (minute hour day month weekday)").fill("61 9 * * 1-5");
    await dialog.getByLabel("Time zone (IANA)").fill("Europe/London");
    await page.getByRole("button", { name: "Create job" }).click();
    await expect.poll(() => page.locator("#cron-error").textContent()).toBe("minute 61 is out of range, 0-59");
    await page.waitForFunction(() => !document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling"));
    const cron = page.getByLabel("Cron (minute hour day month weekday)");
    expect(await cron.getAttribute("aria-invalid")).toBe("true");
    await cron.fill("0 9 * * 1-5");
    // Corrected, the cron's error goes as it is typed, and the cron is said in words.
    await expect.poll(() => page.locator("#cron-help").textContent()).toBe("At 09:00, Monday through Friday");
    expect(await page.locator("#cron-error").count()).toBe(0);
    // app.js sets these once the answer has settled, a moment after the swap.
    await expect.poll(() => cron.getAttribute("aria-invalid")).toBeNull();
    await expect.poll(() => cron.getAttribute("aria-describedby")).toBe("cron-help");
    // A wrong value in another field is said beside that field; the cron stays right (the README's screenshot).
    const limit = page.getByLabel("At most (runs, optional)");
    await limit.fill("0");
    await expect.poll(() => page.locator("#limit-error").textContent()).toBe("at least 1 run, or leave it empty");
    await expect.poll(() => limit.getAttribute("aria-invalid")).toBe("true");
    expect(await page.locator("#cron-help").textContent()).toBe("At 09:00, Monday through Friday");
    await page.screenshot({ path: `${shots}/schedule-form.png` });
    await limit.fill("");
    await expect.poll(() => page.locator("#limit-error").count()).toBe(0);
    await page.getByRole("button", { name: "Create job" }).click();
    const row = page.locator("tr", { hasText: name });
    await row.waitFor();
    expect(await row.locator("[data-status]").first().getAttribute("data-status")).toBe("SCHEDULED");
    expect(await row.textContent()).toContain("At 09:00, Monday through Friday (Europe/London)");
    await row.getByRole("link", { name }).click();
    await page.locator("ol.next-runs li").first().waitFor();
    expect(await page.locator("ol.next-runs li").count()).toBe(5);
    await page.getByRole("button", { name: `Pause ${name}` }).click();
    await page.getByRole("button", { name: `Resume ${name}` }).waitFor();
    await page.getByRole("button", { name: `Resume ${name}` }).click();
    await page.getByRole("button", { name: `Pause ${name}` }).waitFor();
    await page.screenshot({ path: `${shots}/job-scheduled.png`, fullPage: true });
  });

  it("clears a field's error once the field is corrected, before the form is sent again", async () => {
    await open("/");
    await page.locator(".page-head").getByRole("button", { name: "New job" }).click();
    await page.locator("#modal dialog[open]").waitFor();
    await page.getByLabel("Payload (a JSON object)").fill("{ not json");
    await page.getByRole("button", { name: "Create job" }).click();
    await expect.poll(() => page.locator("#taskName-error").textContent()).toBe("give the job a name");
    await page.waitForFunction(() => !document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling"));
    const taskName = page.getByLabel("Task name");
    await taskName.fill("Corrected");
    await expect.poll(() => page.locator("#taskName-error").count()).toBe(0);
    await expect.poll(() => taskName.getAttribute("aria-invalid")).toBeNull();
    // The payload, still wrong, keeps its error until it is right too.
    expect(await page.locator("#payload-error").textContent()).toMatch(/payload is not valid JSON/);
    await page.getByLabel("Payload (a JSON object)").fill('{ "ok": true }');
    await expect.poll(() => page.locator("#payload-error").count()).toBe(0);
    await expect.poll(() => page.getByLabel("Payload (a JSON object)").getAttribute("aria-invalid")).toBeNull();
    await page.keyboard.press("Escape");
  });

  it("cancels selected jobs after a confirmation that says how many, and filters by Scheduled and Cancelled", async () => {
    const tag = word();
    const runAt = new Date(Date.now() + 3_600_000).toISOString();
    for (let i = 0; i < 3; i++) await api("POST", "/api/jobs", { taskName: `Later ${i} ${tag}`, runAt });
    await open(`/?search=${tag}&status=SCHEDULED`);
    await expect.poll(() => page.locator("tbody tr").count()).toBe(3);
    await page.getByLabel(`Select Later 0 ${tag}`).check();
    await page.getByLabel(`Select Later 2 ${tag}`).check();
    await page.locator(".bulk-bar").getByRole("button", { name: "Cancel" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain("Cancel the current run of 2 jobs?");
    await page.screenshot({ path: `${shots}/bulk-confirm.png` });
    await dialog.getByRole("button", { name: "Cancel 2 jobs" }).click();
    await expect.poll(() => page.locator(".toast").first().textContent()).toContain("Cancelled the current run of 2 of 2 jobs");
    await page.getByLabel("Status").selectOption("CANCELLED");
    await expect.poll(() => page.locator("tbody tr").count()).toBe(2);
    await page.getByLabel("Status").selectOption("SCHEDULED");
    await expect.poll(() => page.locator("tbody tr").count()).toBe(1);
    expect(await page.locator("tbody tr").textContent()).toContain(`Later 1 ${tag}`);
  });

  it("has no serious or critical accessibility violations on any page, in light and dark (axe-core)", async () => {
    const axeSource = readFileSync("node_modules/axe-core/axe.min.js", "utf8");
    const { body } = await api("POST", "/api/jobs", { taskName: `Accessible ${word()}`, payload: { a: 1 } });
    await api("POST", `/api/jobs/${body.data.id}/run`);
    await expect.poll(async () => (await api("GET", `/api/jobs/${body.data.id}`)).body.data.latestRun?.delivery?.state, { timeout: 15_000 }).toBe("DELIVERED");
    // A webhook the receiver refuses, so the pages show failed attempts and their errors (red text) too.
    const refused = (await api("POST", "/api/jobs", { taskName: `Accessible refused ${word()}`, webhookUrl: `${appUrl}/webhooks/inbox/missing` })).body.data.id;
    await api("POST", `/api/jobs/${refused}/run`);
    await expect.poll(async () => (await api("GET", `/api/jobs/${refused}/logs`)).body.data.length, { timeout: 15_000 }).toBeGreaterThan(0);
    /** Runs axe on what `on` shows, in each colour scheme. */
    const check = async (label: string, on: Page = page) => {
      await on.evaluate(axeSource);
      for (const colorScheme of ["light", "dark"] as const) {
        await on.emulateMedia({ colorScheme });
        await settleAnimations(on);
        const results = await on.evaluate(() => (window as any).axe.run(document, { resultTypes: ["violations"] }));
        const bad = (results.violations as any[]).filter((v) => v.impact === "serious" || v.impact === "critical");
        expect(bad.map((v) => `${label} (${colorScheme}): ${v.id} (${v.impact}) ${v.nodes.map((n: any) => `${n.target.join(" ")} ${n.any?.[0]?.message ?? ""}`).join(", ")}`)).toEqual([]);
      }
      await on.emulateMedia({ colorScheme: "light" });
    };
    const scheduled = (await api("POST", "/api/jobs", { taskName: `Accessible schedule ${word()}`, schedule: { cron: "0 9 * * 1-5", timezone: "Europe/London" } })).body.data.id;
    const paths = ["/", "/overview", `/jobs/${body.data.id}`, `/jobs/${scheduled}`, `/jobs/${refused}`, "/logs", "/logs?outcome=failure", "/inbox", "/jobs/new", `/jobs/${body.data.id}/delete`, "/no/such/page", "/?search=zzzz-nothing"];
    // The text in the badges' colours that each of these pages must show, so its contrast is checked.
    const shows: Record<string, string> = { "/": ".priority-medium", [`/jobs/${refused}`]: ".attempt-error", "/logs?outcome=failure": ".attempt-error" };
    for (const path of paths) {
      await open(path);
      if (shows[path]) expect(await page.locator(shows[path]).first().isVisible(), `${path} shows ${shows[path]}`).toBe(true);
      await check(path);
    }
    await open("/");
    await page.locator(".page-head").getByRole("button", { name: "New job" }).click();
    await page.getByRole("dialog").waitFor();
    await check("new job dialog");
    await page.getByRole("button", { name: "Create job" }).click();
    await page.locator("#taskName-error").waitFor();
    await check("new job dialog with errors");
    const signedOut = await browser.newContext();
    const anonymous = await signedOut.newPage();
    await anonymous.goto(`${appUrl}/login`);
    await check("/login", anonymous);
    await anonymous.getByLabel("API token").fill("wrong-token-000000000000000000");
    await anonymous.getByRole("button", { name: "Sign in" }).click();
    await anonymous.getByRole("alert").waitFor();
    await check("/login with an error", anonymous);
    await signedOut.close();
    // Thirty-two axe passes (sixteen views, two colour schemes each): more than the 60 s default when the
    // machine is busy with the other test files.
  }, 180_000);

  it("shows the overview with its charts in light and dark, and refreshes it in place", async () => {
    const { body } = await api("POST", "/api/jobs", { taskName: `Overview ${word()}` });
    await api("POST", `/api/jobs/${body.data.id}/run`);
    await expect.poll(async () => (await api("GET", `/api/jobs/${body.data.id}`)).body.data.latestRun?.delivery?.state, { timeout: 15_000 }).toBe("DELIVERED");
    await open("/overview");
    const stats = (await api("GET", "/api/stats")).body.data;
    expect(await page.locator(".stat-card", { hasText: "Jobs" }).locator(".stat-value").textContent()).toBe(stats.jobs.total.toLocaleString("en-US"));
    expect(await page.locator("svg.chart rect.bar-completed").count()).toBeGreaterThan(0);
    // What a person opened stays open when the figures refresh.
    await page.locator("#overview-live details summary").click();
    const refreshed = page.waitForResponse((r) => new URL(r.url()).pathname === "/overview" && r.request().headers()["hx-request"] === "true", { timeout: 30_000 });
    await markPage();
    expect((await refreshed).status()).toBe(200);
    await page.waitForFunction(() => !document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling"));
    expect(await page.locator("#overview-live details").getAttribute("open")).not.toBeNull();
    expect(await stillSamePage()).toBe(true);
    await page.locator("#overview-live details summary").click();
    await page.screenshot({ path: `${shots}/overview.png`, fullPage: true });
    await page.emulateMedia({ colorScheme: "dark" });
    const textColour = await page.locator("svg.chart .tick").first().evaluate((el) => getComputedStyle(el).fill);
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(textColour).not.toBe(background);
    await page.screenshot({ path: `${shots}/overview-dark.png`, fullPage: true });
    await page.emulateMedia({ colorScheme: "light" });
  });

  it("renders the API reference at /docs from the generated document, under the same CSP", async () => {
    const spec = page.waitForResponse((r) => new URL(r.url()).pathname === "/openapi.json");
    await page.goto(`${appUrl}/docs`);
    expect((await spec).status()).toBe(200);
    await page.locator(".opblock").first().waitFor();
    const operations = await page.locator(".opblock-summary-path").allTextContents();
    expect(operations.map((text) => text.replace(/\u200b/g, ""))).toEqual(expect.arrayContaining(["/api/jobs", "/api/jobs/{id}/run", "/api/runs/{runId}/redeliver", "/health/ready"]));
    await page.locator(".opblock-summary", { hasText: "Create a job" }).first().click();
    await page.locator(".opblock-body").first().waitFor();
    await page.screenshot({ path: `${shots}/api-reference.png` });
  });

  it("raised no script errors and no Content-Security-Policy violations on any page", () => {
    expect(pageErrors).toEqual([]);
    expect(cspViolations).toEqual([]);
  });
});
