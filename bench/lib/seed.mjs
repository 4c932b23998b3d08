// Seeds jobs straight into the local D1 (wrangler d1 execute with multi-row INSERTs): the batch path,
// much faster than one API request per job. Payloads carry a word shared by 1% of jobs (tagNNN), and
// one shared by all (example). Every job that is not PENDING gets its run and its delivered webhook,
// as if it had run, so lists read the latest run of each row as they do in use.
import { writeFileSync } from "node:fs";
import { executeSql } from "./servers.mjs";

const STATUSES = ["COMPLETED", "COMPLETED", "COMPLETED", "PENDING", "FAILED"];
const PRIORITIES = ["HIGH", "MEDIUM", "LOW"];
const KINDS = ["invoice", "report", "email", "backup", "sync", "export", "billing", "digest"];

export const SEARCH_WORD = "tag042";
/** In every payload (the e-mail domain): a search whose count the API stops after ten pages. */
export const COMMON_WORD = "example";

const seedId = (n) => `seed${String(n).padStart(7, "0")}`;

export function seedJobs(state, from, count) {
  const now = Date.now();
  const rows = [];
  for (let n = from; n < from + count; n++) {
    const status = STATUSES[n % STATUSES.length];
    const payload = JSON.stringify({ email: `user${n}@example.com`, kind: KINDS[n % KINDS.length], tag: `tag${String(n % 100).padStart(3, "0")}`, ref: `R${n}` });
    const created = now - (from + count - n) * 1000;
    rows.push(
      `('${seedId(n)}','${KINDS[(n * 7) % KINDS.length]} job ${n}','${payload}','${PRIORITIES[n % 3]}','${status}',${created},${created})`,
    );
  }
  const statements = [];
  for (let i = 0; i < rows.length; i += 500) {
    statements.push(`INSERT INTO jobs (id, taskName, payload, priority, status, createdAt, updatedAt) VALUES ${rows.slice(i, i + 500).join(",")};`);
  }
  const range = `BETWEEN '${seedId(from)}' AND '${seedId(from + count - 1)}'`;
  statements.push(
    `INSERT INTO runs (jobId, number, status, taskName, payload, priority, dueAt, startedAt, expectedAt, completedAt, failureReason, recoveries)
     SELECT id, 1, status, taskName, payload, priority, createdAt, createdAt, NULL, createdAt + 3000, NULL, 0 FROM jobs WHERE id ${range} AND status != 'PENDING';`,
    `UPDATE jobs SET latestRunId = (SELECT r.id FROM runs r WHERE r.jobId = jobs.id) WHERE id ${range} AND status != 'PENDING';`,
    `INSERT INTO deliveries (runId, jobId, webhookId, event, url, body, state, attempts, series, nextAttemptAt, lastError, createdAt, deliveredAt)
     SELECT id, jobId, 'whd_' || jobId || '_1', CASE status WHEN 'FAILED' THEN 'job.failed' ELSE 'job.completed' END, 'http://127.0.0.1/hook',
       NULL, 'DELIVERED', 1, 1, NULL, NULL, completedAt, completedAt
     FROM runs WHERE jobId ${range};`,
  );
  const file = `${state}/seed-${from}.sql`;
  writeFileSync(file, statements.join("\n"));
  executeSql(state, file);
}
