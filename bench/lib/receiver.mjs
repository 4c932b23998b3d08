// The benchmark's webhook receiver on 127.0.0.1: records when each job's webhook arrived and how
// many times each webhook-id was seen (duplicates); under /fail-once/ the first attempt of each gets a 500.
import { createServer } from "node:http";

export function startReceiver() {
  const arrivals = new Map(); // jobId -> first arrival (performance.now() in this process)
  const seen = new Map(); // webhook-id -> count
  const delivered = new Map(); // webhook-id -> 2xx answers
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const at = performance.now();
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        if (!arrivals.has(body.jobId)) arrivals.set(body.jobId, at);
      } catch {}
      const id = String(req.headers["webhook-id"]);
      seen.set(id, (seen.get(id) ?? 0) + 1);
      // /fail-once/...: the first attempt of each webhook gets a 500 (the cost of a retry).
      const fail = req.url.startsWith("/fail-once") && seen.get(id) === 1;
      if (!fail) delivered.set(id, (delivered.get(id) ?? 0) + 1);
      res.writeHead(fail ? 500 : 200, { "content-type": "application/json" });
      res.end(fail ? '{"ok":false}' : '{"ok":true}');
    });
  });
  server.keepAliveTimeout = 30_000;
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}/hook`,
        origin: `http://127.0.0.1:${port}`,
        arrivals,
        seen,
        delivered,
        reset() {
          arrivals.clear();
          seen.clear();
          delivered.clear();
        },
        close: () => new Promise((r) => server.close(r)),
      });
    });
  });
}
