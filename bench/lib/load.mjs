// A closed-loop load driver: `concurrency` clients, each sending its next request when the last
// one answered, over keep-alive connections (undici Pool). Records every latency.
import { Pool } from "undici";

export const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN);

export function summarize(latencies, durationMs, errors = 0, errorKinds = {}) {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    ...(errors ? { errorKinds } : {}),
    rps: Math.round((latencies.length / durationMs) * 1000),
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
  };
}

const round = (x) => Math.round(x * 100) / 100;

/** request(i) -> { method, path, headers, body }; onResponse(i, status, body, startedAt) optional. */
export async function runLoad(origin, { total, concurrency, request, onResponse }) {
  const pool = new Pool(origin, { connections: concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  const latencies = [];
  let next = 0;
  let errors = 0;
  // What went wrong, by status (and the start of the message) or by network error code.
  const errorKinds = {};
  const fail = (kind) => {
    errors += 1;
    errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
  };
  const started = performance.now();
  async function client() {
    while (next < total) {
      const i = next++;
      const r = request(i);
      const t0 = performance.now();
      try {
        const res = await pool.request({ method: r.method ?? "GET", path: r.path, headers: r.headers, body: r.body });
        const text = await res.body.text();
        const ms = performance.now() - t0;
        if (res.statusCode >= 400) fail(`${res.statusCode} ${text.slice(0, 120)}`);
        latencies.push(ms);
        onResponse?.(i, res.statusCode, text, t0);
      } catch (error) {
        fail(error.code ?? error.message);
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, client));
  const durationMs = performance.now() - started;
  await pool.close();
  return summarize(latencies, durationMs, errors, errorKinds);
}

/** Creates `n` jobs through the API (`body(i)`: the i-th job's fields); returns their ids in order. */
export async function createJobs(url, headers, n, body, concurrency = 32) {
  const ids = new Array(n);
  await runLoad(url, {
    total: n,
    concurrency,
    request: (i) => ({ method: "POST", path: "/api/jobs", headers, body: JSON.stringify(body(i)) }),
    onResponse: (i, status, text) => status === 201 && (ids[i] = JSON.parse(text).data.id),
  });
  return ids.filter(Boolean);
}
