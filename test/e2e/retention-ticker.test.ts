/**
 * Retention where users run it: a local state with a job whose runs finished 400 days ago, then the app
 * started as the README says (`npm start`, on a free port). Nothing but `npm start` runs: its ticker
 * must fire the retention cron at start, which deletes the old run that is not the job's latest, keeps
 * the latest one and logs its report.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { killGroup, startApp, waitFor, type App } from "../node/npm-start";
import { closedPort } from "../node/receiver";

const token = /^API_TOKENS=(\S+)/m.exec(readFileSync("config/local.env", "utf8"))![1]!;
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" };

function wrangler(args: string[]) {
  const result = spawnSync("npx", ["wrangler", ...args], { env, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`wrangler ${args.join(" ")} failed:\n${result.stdout}\n${result.stderr}`);
}

/** A job with two runs that finished 400 days ago, each delivered with one log row; the job shows run 2. */
function seedSql(jobId: string) {
  const at = Date.now() - 400 * 86_400_000;
  const run = (id: number) => `
    INSERT INTO runs (id, jobId, number, status, taskName, payload, priority, dueAt, startedAt, completedAt)
      VALUES (${id}, '${jobId}', ${id}, 'COMPLETED', 'Old', '{}', 'MEDIUM', ${at}, ${at}, ${at});
    INSERT INTO deliveries (runId, jobId, webhookId, event, url, body, state, attempts, createdAt, deliveredAt)
      VALUES (${id}, '${jobId}', 'whd_${jobId}_${id}', 'job.completed', 'https://hooks.example/in', '{}', 'DELIVERED', 1, ${at}, ${at});
    INSERT INTO webhook_logs (jobId, runId, deliveryId, attempt, url, responseStatus, durationMs, sentAt)
      VALUES ('${jobId}', ${id}, 'whd_${jobId}_${id}', 1, 'https://hooks.example/in', 200, 5, ${at});`;
  return `
    INSERT INTO jobs (id, taskName, payload, priority, status, createdAt, updatedAt)
      VALUES ('${jobId}', 'Old', '{}', 'MEDIUM', 'COMPLETED', ${at}, ${at});
    ${run(1)}
    ${run(2)}
    UPDATE jobs SET latestRunId = 2 WHERE id = '${jobId}';`;
}

describe("npm start: retention", () => {
  const state = mkdtempSync(join(tmpdir(), "scheduler-retention-"));
  let app: App | undefined;
  afterAll(() => {
    if (app) killGroup(app, "SIGKILL");
    rmSync(state, { recursive: true, force: true });
  });

  it("fires the retention cron at start: the old run goes with its delivery and log, the job's latest run stays", async () => {
    const jobId = "job_retention_e2e";
    wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", state]);
    wrangler(["d1", "execute", "DB", "--local", "--persist-to", state, "--command", seedSql(jobId)]);

    const port = await closedPort();
    app = await startApp(port, state);
    const { output } = app;

    await waitFor("the retention report", async () => (output.join("").includes('{"event":"retention"') ? true : undefined), 90_000, app);
    const text = output.join("");
    expect(text, text.slice(-3000)).toContain(`{"event":"retention","runsDeleted":1,"deliveriesDeleted":1,"logsDeleted":1,"idempotencyKeysDeleted":0,"behind":0}`);

    const res = await fetch(`http://127.0.0.1:${port}/api/jobs/${jobId}/runs`, { headers: { authorization: `Bearer ${token}` } });
    const runs = ((await res.json()) as any).data as any[];
    expect(runs.map((r) => [r.number, r.status, r.delivery?.state])).toEqual([[2, "COMPLETED", "DELIVERED"]]);
  });
});
