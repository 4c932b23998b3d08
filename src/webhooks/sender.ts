/**
 * One HTTP attempt of a webhook: POST with a timeout, redirects not followed, the response body
 * read up to a bound, and the outcome classified in plain words for the log.
 */

/** Bytes of the receiver's response kept in the log. */
export const RESPONSE_BODY_MAX_BYTES = 4096;

/** A Retry-After longer than this is treated as this (a day): the delivery still gets its tries. */
const RETRY_AFTER_MAX_SECONDS = 86_400;

export interface AttemptResult {
  /** 2xx only. */
  ok: boolean;
  responseStatus: number | null;
  responseBody: unknown;
  error: string | null;
  durationMs: number;
  /** The receiver asked not to be retried (410 Gone). */
  stop: boolean;
  /** Seconds the receiver asked to wait (Retry-After on 429/503), when it said. */
  retryAfterSeconds: number | null;
}

interface SendOptions {
  timeoutMs: number;
  headers: Record<string, string>;
}

/** POSTs `body` (already serialized: it is what the signature covers). Never throws. */
export async function sendWebhook(url: string, body: string, { timeoutMs, headers }: SendOptions): Promise<AttemptResult> {
  const started = Date.now();
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "edge-job-scheduler/0.1", ...headers },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    const responseBody = await readBounded(res, RESPONSE_BODY_MAX_BYTES);
    const ok = res.status >= 200 && res.status < 300;
    return {
      ok,
      responseStatus: res.status,
      responseBody,
      error: ok ? null : describeStatus(res, url),
      durationMs: Date.now() - started,
      stop: res.status === 410,
      retryAfterSeconds: res.status === 429 || res.status === 503 ? parseRetryAfter(res.headers.get("retry-after")) : null,
    };
  } catch (err) {
    return {
      ok: false,
      responseStatus: null,
      responseBody: null,
      error: describeError(err, timeoutMs),
      durationMs: Date.now() - started,
      stop: false,
      retryAfterSeconds: null,
    };
  }
}

/** Retry-After is either delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  const seconds = /^\s*\d+\s*$/.test(value) ? Number(value) : (Date.parse(value) - now) / 1000;
  if (!Number.isFinite(seconds)) return null;
  return Math.min(RETRY_AFTER_MAX_SECONDS, Math.max(0, Math.ceil(seconds)));
}

function describeStatus(res: Response, url: string): string {
  if (res.status >= 300 && res.status < 400) {
    return `redirect ${res.status} to ${redirectOrigin(res.headers.get("location"), url)} not followed`;
  }
  if (res.status === 410) return "receiver answered HTTP 410 Gone: no more retries";
  const retryAfter = res.headers.get("retry-after");
  return `receiver answered HTTP ${res.status}${retryAfter ? ` (Retry-After: ${retryAfter})` : ""}`;
}

/**
 * Where a redirect pointed, as its origin only: a Location often carries a token (a signed callback,
 * a session), and the error text is stored and shown. A relative Location resolves against the webhook URL.
 */
function redirectOrigin(location: string | null, url: string): string {
  if (location === null) return "(no location)";
  try {
    return `${new URL(location, url).origin} (path and query not kept)`;
  } catch {
    return "a location that is not a URL";
  }
}

function describeError(err: unknown, timeoutMs: number): string {
  if (err instanceof DOMException && (err.name === "TimeoutError" || err.name === "AbortError")) {
    return `timed out after ${timeoutMs} ms`;
  }
  const message = err instanceof Error ? err.message : String(err);
  if (/refused/i.test(message)) return `connection refused (${message})`;
  if (/dns|resolve|getaddrinfo|not found/i.test(message)) return `DNS lookup failed (${message})`;
  return `network error: ${message}`;
}

const decoder = new TextDecoder();

/** Reads at most `maxBytes` of the body (then cancels the stream); JSON when it parses, else text. */
async function readBounded(res: Response, maxBytes: number): Promise<unknown> {
  if (!res.body) return null;
  // One read into a buffer one byte larger than the bound: workerd's readAtLeast resolves when the
  // buffer is full or the body has ended, so a small body (the common case) costs a single read, and a
  // full buffer means the body went past the bound. Bytes are counted after any content-encoding.
  const reader = res.body.getReader({ mode: "byob" });
  const { value } = await reader.readAtLeast(maxBytes + 1, new Uint8Array(maxBytes + 1));
  const bytes = value ?? new Uint8Array(0);
  if (bytes.byteLength > maxBytes) {
    await reader.cancel().catch(() => undefined);
    return `${decoder.decode(bytes.subarray(0, maxBytes))}… [truncated at ${maxBytes} bytes]`;
  }
  reader.releaseLock();
  return parseBody(decoder.decode(bytes));
}

function parseBody(text: string): unknown {
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
