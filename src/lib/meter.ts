/**
 * The cost meter (COST_METER=true: the benchmark and the cost tests, never production). It counts what
 * Cloudflare bills, exactly: Worker invocations, D1 round trips and statements with the rows each read
 * and wrote (from D1's own `meta`, index entries included), and queue operations (a message is written,
 * read on each delivery to the consumer, and deleted when acknowledged). One tally per isolate, read and
 * reset at /__meter, from this machine only.
 */
import ipaddr from "ipaddr.js";
import type { Env } from "../env";
import { shardBindings, withShards } from "../db/shards";

export interface Tally {
  invocations: { fetch: number; queue: number; scheduled: number };
  d1: { roundTrips: number; statements: number; rowsRead: number; rowsWritten: number };
  queue: { writes: number; reads: number; deletes: number; retries: number };
}

const emptyTally = (): Tally => ({
  invocations: { fetch: 0, queue: 0, scheduled: 0 },
  d1: { roundTrips: 0, statements: 0, rowsRead: 0, rowsWritten: 0 },
  queue: { writes: 0, reads: 0, deletes: 0, retries: 0 },
});

let tally = emptyTally();

export const meterEnabled = (env: Env) => env.COST_METER === "true";

/** The tally so far; `reset` starts a new one. */
export function readMeter(reset = false): Tally {
  const current = tally;
  if (reset) tally = emptyTally();
  return current;
}

interface D1Meta {
  meta?: { rows_read?: number; rows_written?: number };
}

/**
 * The binding's own D1Database class over a fetcher that reads each answer's meta on the way: the
 * statements run exactly as they would (raw(), first() and batches included, whose results drop meta).
 */
function meterD1(db: D1Database): D1Database {
  const binding = db as D1Database & { fetcher?: Fetcher };
  const fetcher = binding.fetcher;
  if (!fetcher) throw new Error("COST_METER: this D1 binding has no fetcher to count through");
  const D1 = Object.getPrototypeOf(db).constructor as new (fetcher: Pick<Fetcher, "fetch">) => D1Database;
  return new D1({
    fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
      const res = await fetcher.fetch(input, init);
      tally.d1.roundTrips += 1;
      let answer: D1Meta | D1Meta[];
      try {
        answer = (await res.clone().json()) as D1Meta | D1Meta[];
      } catch {
        return res; // not D1's JSON (an error page): D1 reports it as it would
      }
      for (const result of Array.isArray(answer) ? answer : [answer]) {
        tally.d1.statements += 1;
        tally.d1.rowsRead += result.meta?.rows_read ?? 0;
        tally.d1.rowsWritten += result.meta?.rows_written ?? 0;
      }
      return res;
    },
  });
}

function meterQueue<T>(queue: Queue<T>): Queue<T> {
  return {
    send: async (body, options) => {
      const sent = await queue.send(body, options);
      tally.queue.writes += 1;
      return sent;
    },
    sendBatch: async (messages, options) => {
      const list = [...messages];
      const sent = await queue.sendBatch(list, options);
      tally.queue.writes += list.length;
      return sent;
    },
  } as Queue<T>;
}

/** The bindings of one invocation, counted. */
export function meteredEnv(env: Env, kind: keyof Tally["invocations"]): Env {
  tally.invocations[kind] += 1;
  return withShards({ ...env, JOB_QUEUE: meterQueue(env.JOB_QUEUE) }, shardBindings(env).map(meterD1));
}

/** A batch whose messages count their reads and retries; `settle` (once the handler returned) counts the deletes. */
export function meteredBatch<T>(batch: MessageBatch<T>): { batch: MessageBatch<T>; settle: () => void } {
  tally.queue.reads += batch.messages.length;
  const retried = new Set<string>();
  const messages = batch.messages.map(
    (message) =>
      new Proxy(message, {
        get(target, prop) {
          if (prop === "retry") {
            return (options?: QueueRetryOptions) => {
              retried.add(target.id);
              target.retry(options);
            };
          }
          const value = Reflect.get(target, prop, target) as unknown;
          return typeof value === "function" ? value.bind(target) : value;
        },
      }),
  );
  const metered: MessageBatch<T> = {
    queue: batch.queue,
    metadata: batch.metadata,
    messages,
    ackAll: () => batch.ackAll(),
    retryAll: (options) => {
      for (const m of messages) retried.add(m.id);
      batch.retryAll(options);
    },
  };
  const settle = () => {
    // A message neither retried nor failed is acknowledged: deleted from the queue.
    tally.queue.retries += retried.size;
    tally.queue.deletes += messages.length - retried.size;
  };
  return { batch: metered, settle };
}

const isLoopback = (host: string) => host === "localhost" || (ipaddr.isValid(host) && ipaddr.process(host).range() === "loopback");

/**
 * Whether a request comes from this machine to a server on this machine: its client address
 * (CF-Connecting-IP) and the host it asked for are both loopback. Deployed, neither can be: Cloudflare's
 * edge sets CF-Connecting-IP to the connecting client's address, and routes a request to a Worker only
 * by the host names of its routes, so a deployment left with COST_METER=true still refuses everyone.
 * Locally workerd's entry sets CF-Connecting-IP from the socket when the client sent none (`wrangler
 * dev` and Miniflare), and the servers listen on loopback unless told otherwise.
 */
export function fromThisMachine(request: Request): boolean {
  const client = request.headers.get("cf-connecting-ip");
  const host = new URL(request.url).hostname.replace(/^\[|\]$/g, "");
  return client !== null && isLoopback(client) && isLoopback(host);
}

/** GET /__meter: the tally; DELETE /__meter: the tally, then a fresh one. Refused unless from this machine. */
export function meterResponse(request: Request): Response {
  if (!fromThisMachine(request)) return new Response("The cost meter answers only on a local server, to this machine", { status: 403 });
  if (request.method !== "GET" && request.method !== "DELETE") return new Response("GET or DELETE", { status: 405 });
  return Response.json(readMeter(request.method === "DELETE"));
}
