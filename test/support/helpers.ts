/** Small fixtures for the tests: call the Worker, make jobs, wait for the queue, read the receiver. */
import { env, exports } from "cloudflare:workers";
import { vi } from "vitest";
import type { ReceivedRequest } from "./receiver-types";

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A request to the Worker as a client would send it. `body` objects are sent as JSON. */
export async function call<T = any>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResponse<T>> {
  const init: RequestInit = { method, headers: { ...headers }, redirect: "manual" };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
      (init.headers as Record<string, string>)["content-type"] = "application/json";
    }
  }
  const res = await exports.default.fetch(new Request(`http://scheduler.test${path}`, init));
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

/** A unique word to tag the jobs of one test, so assertions never depend on other tests' rows. */
export const uniqueWord = (prefix = "t") => `${prefix}${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;

export async function createJob(fields: Record<string, unknown> = {}) {
  const res = await call("POST", "/api/jobs", { taskName: uniqueWord("job"), payload: {}, priority: "MEDIUM", ...fields });
  if (res.status !== 201) throw new Error(`createJob failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data as { id: string; taskName: string; [k: string]: any };
}

export async function getJob(id: string) {
  return (await call("GET", `/api/jobs/${id}`)).body.data;
}

/** Polls until the job matches `predicate` (the real queue delivers after the job's duration). */
export async function waitForJob(id: string, predicate: (job: any) => boolean, timeout = 15_000) {
  return vi.waitUntil(
    async () => {
      const job = await getJob(id);
      return job && predicate(job) ? job : undefined;
    },
    { timeout, interval: 100 },
  );
}

export async function received(jobId: string): Promise<ReceivedRequest[]> {
  const res = await fetch(`${env.RECEIVER_URL}/received/${encodeURIComponent(jobId)}`);
  return res.json();
}

export async function logRows(jobId: string) {
  const { results } = await env.DB.prepare("SELECT * FROM webhook_logs WHERE jobId = ? ORDER BY id").bind(jobId).all();
  return results as Record<string, any>[];
}

export async function countRows(table: "jobs" | "webhook_logs") {
  const row = await env.DB.prepare(`SELECT count(*) AS n FROM ${table}`).first<{ n: number }>();
  return row?.n ?? 0;
}
