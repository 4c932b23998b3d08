// Seeds a local D1's SQLite file straight (better-sqlite3, not through the API): `jobs` jobs created
// evenly over the last 30 days, about two runs each (runs 60 s apart, the job's latest in its status),
// a delivery per finished run and a log row per attempt, plus one minutely job with a month of runs
// (43 200). The search index (jobs_fts) is kept by its triggers as rows go in. Failed attempts are
// rare (about 1 %), as in use. Every statement is one INSERT ... SELECT over a recursive count.
import Database from "better-sqlite3";

const DAY_MS = 86_400_000;
export const MINUTELY_JOB = "bench-minutely";
const KINDS = ["invoice", "report", "email", "backup", "sync", "export", "billing", "digest"];

/** The status of job i (its latest run's): 10 % never run, a few running or scheduled, 10 % failed, some cancelled. */
const statusOf = `CASE
  WHEN i % 10 = 0 THEN 'PENDING'
  WHEN i % 1000 = 5 THEN 'IN_PROGRESS'
  WHEN i % 1000 = 7 THEN 'SCHEDULED'
  WHEN i % 10 = 1 THEN 'FAILED'
  WHEN i % 50 = 2 THEN 'CANCELLED'
  ELSE 'COMPLETED'
END`;

export function seedLarge(file, { jobs = 1_000_000, now = Date.now(), log = console.log } = {}) {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = OFF");
  db.pragma("cache_size = -1000000");
  const spacing = Math.floor((30 * DAY_MS) / jobs);
  const t0 = now - jobs * spacing - 10 * 60_000;
  const kinds = `json_extract('${JSON.stringify(KINDS)}', '$[' || (i % ${KINDS.length}) || ']')`;
  const step = (label, sql, params = {}) => {
    const started = Date.now();
    const { changes } = db.prepare(sql).run(params);
    log(`  ${label}: ${changes} rows in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  };

  db.transaction(() => {
    step(
      "jobs",
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < @jobs)
       INSERT INTO jobs (id, taskName, payload, priority, status, createdAt, updatedAt)
       SELECT printf('bench%07d', i), ${kinds} || ' job ' || i,
         json_object('email', 'user' || i || '@example.com', 'kind', ${kinds}, 'tag', printf('tag%03d', i % 100), 'ref', 'R' || i),
         CASE i % 3 WHEN 0 THEN 'HIGH' WHEN 1 THEN 'MEDIUM' ELSE 'LOW' END,
         ${statusOf}, @t0 + i * @spacing, @t0 + i * @spacing
       FROM n`,
      { jobs, t0, spacing },
    );
    step(
      "the minutely job",
      `INSERT INTO jobs (id, taskName, payload, priority, status, createdAt, updatedAt, schedule, scheduleCursor, occurrences)
       VALUES (@id, 'minutely sync', '{"target":"crm"}', 'MEDIUM', 'COMPLETED', @t0, @t0, '{"cron":"* * * * *","timezone":"UTC","missed":"skip","overlap":"skip"}', @last, 43200)`,
      { id: MINUTELY_JOB, t0, last: now - 2 * 60_000 },
    );
    // Runs in the order they ran (ids in time order): two or three per job that has run, 60 s apart,
    // the latest in the job's status; and the minutely job's, one a minute until 2 minutes ago.
    step(
      "runs",
      `WITH RECURSIVE m(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM m WHERE k < 43200),
       planned AS (
         SELECT j.id AS jobId, k.k AS number, j.taskName, j.payload, j.priority,
           CASE WHEN k.k < (CASE WHEN CAST(substr(j.id, 6) AS INTEGER) % 10 IN (1, 2) THEN 3 ELSE 2 END) THEN 'COMPLETED' ELSE j.status END AS status,
           j.createdAt + (k.k - 1) * 60000 AS t,
           CASE WHEN CAST(substr(j.id, 6) AS INTEGER) % 10 IN (1, 2) THEN 3 ELSE 2 END AS runs
         FROM jobs j
         JOIN (SELECT 1 AS k UNION ALL SELECT 2 UNION ALL SELECT 3) k
         WHERE j.id LIKE 'bench0%' AND j.status != 'PENDING'
           AND k.k <= CASE WHEN CAST(substr(j.id, 6) AS INTEGER) % 10 IN (1, 2) THEN 3 ELSE 2 END
         UNION ALL
         SELECT @minutely, m.k, 'minutely sync', '{"target":"crm"}', 'MEDIUM', 'COMPLETED', @last - (43200 - m.k) * 60000, 1 FROM m
       ),
       timed AS (
         SELECT *,
           CASE status WHEN 'IN_PROGRESS' THEN @now - 60000 WHEN 'SCHEDULED' THEN @now + 86400000 + t % 3600000 ELSE t END AS due
         FROM planned
       )
       INSERT INTO runs (jobId, number, status, taskName, payload, priority, dueAt, rank, startedAt, expectedAt, completedAt, failureReason)
       SELECT jobId, number, status, taskName, payload, priority, due, due,
         CASE WHEN status = 'SCHEDULED' THEN NULL ELSE due END,
         CASE WHEN status = 'IN_PROGRESS' THEN @now + 86400000 END,
         CASE status WHEN 'COMPLETED' THEN due + 3000 WHEN 'FAILED' THEN due + 3000 WHEN 'CANCELLED' THEN due + 1000 END,
         CASE status WHEN 'FAILED' THEN 'the work failed' WHEN 'CANCELLED' THEN 'cancelled by a person' END
       FROM timed
       ORDER BY due`,
      { minutely: MINUTELY_JOB, last: now - 2 * 60_000, now },
    );
    step(
      "jobs' latest runs",
      `UPDATE jobs SET
         latestRunId = (SELECT max(r.id) FROM runs r WHERE r.jobId = jobs.id AND r.startedAt IS NOT NULL),
         nextRunAt = (SELECT min(r.dueAt) FROM runs r WHERE r.jobId = jobs.id AND r.status = 'SCHEDULED')
       WHERE status != 'PENDING'`,
    );
    // A delivery per finished run: 0.2 % gave up, 0.1 % retrying (due in an hour), 0.5 % needed a second attempt.
    // A job's row never says IN_PROGRESS (migration 0015): those with a run in progress keep what they
    // show once it is over, their earlier run's COMPLETED, and show IN_PROGRESS through the run.
    step("jobs in progress", `UPDATE jobs SET status = 'COMPLETED' WHERE status = 'IN_PROGRESS'`);
    step(
      "deliveries",
      `INSERT INTO deliveries (runId, jobId, webhookId, event, url, body, state, attempts, series, nextAttemptAt, lastError, createdAt, deliveredAt)
       SELECT r.id, r.jobId, 'whd_' || r.jobId || '_' || r.number,
         CASE r.status WHEN 'FAILED' THEN 'job.failed' ELSE 'job.completed' END,
         'http://127.0.0.1:9/hook',
         NULL, -- built from the run's row, as the app stores it
         CASE WHEN r.id % 500 = 13 THEN 'FAILED' WHEN r.id % 1000 = 9 THEN 'RETRYING' ELSE 'DELIVERED' END,
         CASE WHEN r.id % 500 = 13 THEN 3 WHEN r.id % 200 = 17 THEN 2 ELSE 1 END,
         1,
         CASE WHEN r.id % 1000 = 9 THEN @now + 3600000 END,
         CASE WHEN r.id % 500 = 13 OR r.id % 1000 = 9 THEN 'receiver answered HTTP 500' END,
         r.completedAt,
         CASE WHEN r.id % 500 != 13 AND r.id % 1000 != 9 THEN r.completedAt + 40 + r.id % 160 END
       FROM runs r
       WHERE r.status IN ('COMPLETED', 'FAILED')`,
      { now },
    );
    // A log row per attempt, in the order they were sent: 2xx except the failed attempts above (the bytes
    // sent are their delivery's body, as the app stores them).
    step(
      "webhook_logs",
      `INSERT INTO webhook_logs (jobId, runId, deliveryId, series, attempt, url, requestBody, responseStatus, responseBody, error, durationMs, sentAt, nextRetryAt)
       SELECT d.jobId, d.runId, NULL, 1, a.a, d.url, NULL,
         CASE WHEN d.state = 'DELIVERED' AND a.a = d.attempts THEN 200 WHEN a.a = 2 AND d.state = 'FAILED' THEN NULL ELSE 500 END,
         CASE WHEN d.state = 'DELIVERED' AND a.a = d.attempts THEN '{"ok":true}' ELSE '"Internal Server Error"' END,
         CASE WHEN d.state = 'DELIVERED' AND a.a = d.attempts THEN NULL WHEN a.a = 2 AND d.state = 'FAILED' THEN 'fetch failed: connection refused' ELSE 'receiver answered HTTP 500' END,
         20 + d.runId % 80,
         d.createdAt + 20 + (a.a - 1) * 5000,
         CASE WHEN d.state = 'RETRYING' OR a.a < d.attempts THEN d.createdAt + a.a * 5000 END
       FROM deliveries d
       JOIN (SELECT 1 AS a UNION ALL SELECT 2 UNION ALL SELECT 3) a ON a.a <= d.attempts
       ORDER BY d.createdAt + (a.a - 1) * 5000, d.runId`,
    );
  })();
  const counts = db
    .prepare(
      `SELECT (SELECT count(*) FROM jobs) AS jobs, (SELECT count(*) FROM runs) AS runs, (SELECT count(*) FROM deliveries) AS deliveries,
         (SELECT count(*) FROM webhook_logs) AS logs,
         (SELECT count(*) FROM webhook_logs WHERE responseStatus IS NULL OR responseStatus < 200 OR responseStatus >= 300) AS failedAttempts`,
    )
    .get();
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
  return counts;
}
