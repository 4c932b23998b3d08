// Seeds jobs straight into the local D1 (wrangler d1 execute with multi-row INSERTs): the batch path,
// much faster than one API request per job. Payloads carry a word shared by 1% of jobs (tagNNN), and
// one shared by all (example).
import { writeFileSync } from "node:fs";
import { executeSql } from "./servers.mjs";

const STATUSES = ["COMPLETED", "COMPLETED", "COMPLETED", "PENDING", "FAILED"];
const PRIORITIES = ["HIGH", "MEDIUM", "LOW"];
const KINDS = ["invoice", "report", "email", "backup", "sync", "export", "billing", "digest"];

export const SEARCH_WORD = "tag042";
/** In every payload (the e-mail domain): a search whose count the API stops after ten pages. */
export const COMMON_WORD = "example";

export function seedJobs(state, from, count) {
  const now = Date.now();
  const rows = [];
  for (let n = from; n < from + count; n++) {
    const status = STATUSES[n % STATUSES.length];
    const payload = JSON.stringify({ email: `user${n}@example.com`, kind: KINDS[n % KINDS.length], tag: `tag${String(n % 100).padStart(3, "0")}`, ref: `R${n}` });
    const created = now - (from + count - n) * 1000;
    rows.push(
      `('seed${String(n).padStart(7, "0")}','${KINDS[(n * 7) % KINDS.length]} job ${n}','${payload}','${PRIORITIES[n % 3]}','${status}',${created},${created},${status === "PENDING" ? 0 : 1},'${status === "PENDING" ? "NONE" : "DELIVERED"}')`,
    );
  }
  const statements = [];
  for (let i = 0; i < rows.length; i += 500) {
    statements.push(`INSERT INTO jobs (id, taskName, payload, priority, status, createdAt, updatedAt, runId, deliveryStatus) VALUES ${rows.slice(i, i + 500).join(",")};`);
  }
  const file = `${state}/seed-${from}.sql`;
  writeFileSync(file, statements.join("\n"));
  executeSql(state, file);
}
