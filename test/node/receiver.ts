/**
 * A real HTTP webhook receiver for the tests, run in Node on 127.0.0.1. Each job's payload may carry
 * `receiver: { script: [...] }`: the n-th request for that job gets the n-th step (the last repeats).
 * A step is a status code, or { status, delayMs, body, bodyBytes, gzipBytes, headers }, or "hang" / "drop"
 * (gzipBytes: that many bytes sent gzip-compressed, a small download that inflates).
 * GET /received/<jobId> lists what arrived for that job.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import type { ReceivedRequest } from "../support/receiver-types";

type Step =
  | number
  | "hang"
  | "drop"
  | { status?: number; delayMs?: number; body?: string; bodyBytes?: number; gzipBytes?: number; headers?: Record<string, string> };

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });

export function startReceiver(): Promise<{ server: Server; url: string }> {
  const received = new Map<string, ReceivedRequest[]>();

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://receiver");
    if (req.method === "GET" && url.pathname.startsWith("/received/")) {
      const key = decodeURIComponent(url.pathname.slice("/received/".length));
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(received.get(key) ?? []));
      return;
    }
    const rawBody = await readBody(req);
    let body: any = null;
    try {
      body = JSON.parse(rawBody);
    } catch {
      body = rawBody;
    }
    const key = String(body?.jobId ?? "unknown");
    const list = received.get(key) ?? [];
    const record: ReceivedRequest = { path: url.pathname, headers: req.headers, body, rawBody, receivedAt: Date.now(), respondedAt: null };
    list.push(record);
    received.set(key, list);

    const script: Step[] = body?.payload?.receiver?.script ?? [200];
    const step = script[Math.min(list.length - 1, script.length - 1)] ?? 200;
    if (step === "hang") return; // never answers: the sender's timeout must end it
    if (step === "drop") {
      req.socket.destroy();
      return;
    }
    const { status = 200, delayMs = 0, body: reply, bodyBytes, gzipBytes, headers = {} } = typeof step === "number" ? { status: step } : step;
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    if (gzipBytes) {
      const zipped = gzipSync("y".repeat(gzipBytes));
      res.writeHead(status, { "content-type": "text/plain", "content-encoding": "gzip", "content-length": String(zipped.length), ...headers });
      res.end(zipped);
    } else {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(bodyBytes ? "y".repeat(bodyBytes) : (reply ?? JSON.stringify({ received: true, status })));
    }
    record.respondedAt = Date.now();
  });

  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, url: `http://127.0.0.1:${port}` });
    });
  });
}

/** A port on 127.0.0.1 with nothing listening: a receiver that is down. */
export function closedPort(): Promise<number> {
  const probe = createServer();
  return new Promise((resolve) => {
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * A receiver that answers 200 to every webhook and counts what arrives by webhook-id (how the e2e tests
 * see that each run's webhook arrived once). Listens on 127.0.0.1; `url` is its hook.
 */
export async function countingReceiver(): Promise<{ server: Server; url: string; arrivals: Map<string, number> }> {
  const arrivals = new Map<string, number>();
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const id = String(req.headers["webhook-id"]);
      arrivals.set(id, (arrivals.get(id) ?? 0) + 1);
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, arrivals };
}
