/**
 * `npm start`'s configuration as the README gives it: a `.dev.vars` file overrides the local defaults,
 * also on another port (where the default webhook target, the app's own inbox, moves with the app).
 * The app runs from a copy of the project folder (its files linked) that has its own `.dev.vars`.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { killGroup, startApp, waitFor, type App } from "../node/npm-start";
import { closedPort, startReceiver } from "../node/receiver";

const token = /^API_TOKENS=(\S+)/m.exec(readFileSync("config/local.env", "utf8"))![1]!;

describe("npm start with a .dev.vars file", () => {
  const project = mkdtempSync(join(tmpdir(), "scheduler-devvars-"));
  const state = mkdtempSync(join(tmpdir(), "scheduler-devvars-state-"));
  let app: App | undefined;
  let stopReceiver = () => {};
  afterAll(() => {
    if (app) killGroup(app, "SIGKILL");
    stopReceiver();
    rmSync(project, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  });

  it("sends webhooks to the WEBHOOK_URL that .dev.vars names, on a port other than 8787", async () => {
    const receiver = await startReceiver();
    stopReceiver = () => receiver.server.close();
    for (const entry of readdirSync(".")) if (![".dev.vars", ".git", ".wrangler", "dist"].includes(entry)) symlinkSync(resolve(entry), join(project, entry));
    writeFileSync(join(project, ".dev.vars"), `WEBHOOK_URL=${receiver.url}/from-dev-vars\n`);

    const port = await closedPort();
    const base = `http://127.0.0.1:${port}`;
    app = await startApp(port, state, {}, project);
    await waitFor("the app to answer /health", async () => ((await fetch(`${base}/health`)).ok ? true : undefined), 90_000, app);

    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const creating = await fetch(`${base}/api/jobs`, { method: "POST", headers, body: JSON.stringify({ taskName: "Dev vars target" }) });
    const created = (await creating.json()) as any;
    // Under wrangler dev too, each answer names its D1 session's bookmark, and one sent back is taken.
    const bookmark = creating.headers.get("x-d1-bookmark");
    expect(bookmark).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/);
    const reread = await fetch(`${base}/api/jobs/${created.data.id}`, { headers: { ...headers, "x-d1-bookmark": bookmark! } });
    expect(reread.status).toBe(200);
    expect(reread.headers.get("x-d1-bookmark")! >= bookmark!).toBe(true);
    expect((await fetch(`${base}/api/jobs/${created.data.id}/run`, { method: "POST", headers })).status).toBe(202);
    const job = await waitFor(
      "the run's webhook to be delivered",
      async () => {
        const body = (await (await fetch(`${base}/api/jobs/${created.data.id}`, { headers })).json()) as any;
        return body.data.latestRun?.delivery?.state === "DELIVERED" ? body.data : undefined;
      },
      30_000,
      app,
    );
    expect(job.latestRun.delivery.url).toBe(`${receiver.url}/from-dev-vars`);
    const arrived = (await (await fetch(`${receiver.url}/received/${created.data.id}`)).json()) as any[];
    expect(arrived.map((r) => r.path)).toEqual(["/from-dev-vars"]);
    // Offline, the start prints no warning and no error (wrangler's `request.cf` fetch is off).
    expect(app.output.join("")).not.toMatch(/\[wrangler:(warn|error)\]|^Error|ENOTFOUND/m);
  });
});
