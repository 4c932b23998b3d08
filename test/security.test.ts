/**
 * The security model: API tokens, dashboard sessions, CSRF, headers, safe webhook targets, rate
 * limits and hostile input. Every protected route is listed from the app itself, so a new route
 * cannot ship unprotected without this file failing.
 */
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import type { Env } from "../src/env";
import worker from "../src/index";
import { findDuplicateKey } from "../src/lib/json";
import { unsafeWebhookTarget } from "../src/security/webhook-target";
import { API_TOKEN, call, countRows, createJob, delivered, getJob, ORIGIN, sessionCookie, uniqueWord, waitForJob } from "./support/helpers";

const [, ROTATED_TOKEN] = env.API_TOKENS!.split(" ");
const anonymous = { authorization: null, cookie: null } as const;
const raw = (path: string, init: RequestInit = {}, withEnv: Env = env) => worker.fetch(new Request(`${ORIGIN}${path}`, { redirect: "manual", ...init }), withEnv);
/** A client address of its own for each sign-in test (the limit counts per address). */
const randomIp = () => `198.${[...crypto.getRandomValues(new Uint8Array(3))].join(".")}`;

describe("API tokens", () => {
  it("answers 401 with a message and WWW-Authenticate when the header is missing", async () => {
    const res = await call("GET", "/api/jobs", undefined, anonymous);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ success: false, message: "Missing Authorization header: send Authorization: Bearer <API token>" });
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm="edge-job-scheduler"/);
  });

  it.each([["Basic dXNlcjpwYXNz"], ["Bearer"], ["Bearer two words"], ["Token abc"], [`Bearer ${"\u00e9".repeat(30)}`]])(
    "answers 400 to the malformed header %j, saying what is expected",
    async (header) => {
      const res = await call("GET", "/api/jobs", undefined, { authorization: header });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ success: false, message: "Malformed Authorization header: expected Bearer <API token>" });
      expect(res.headers.get("www-authenticate")).toBe('Bearer error="invalid_request"');
    },
  );

  it("answers 401 to a wrong token, and to a token that differs only in its last character", async () => {
    expect((await call("GET", "/api/jobs", undefined, { authorization: "Bearer not-the-token-0000000000000000" })).body.message).toBe("Invalid API token");
    const almost = API_TOKEN.slice(0, -1) + (API_TOKEN.endsWith("j") ? "k" : "j");
    expect((await call("GET", "/api/jobs", undefined, { authorization: `Bearer ${almost}` })).status).toBe(401);
  });

  it("accepts every configured token (rotation: old and new work side by side)", async () => {
    expect((await call("GET", "/api/jobs", undefined, { authorization: `Bearer ${API_TOKEN}` })).status).toBe(200);
    expect((await call("GET", "/api/jobs", undefined, { authorization: `Bearer ${ROTATED_TOKEN}` })).status).toBe(200);
  });

  it("fails closed with 503 naming API_TOKENS when no token is configured", async () => {
    const open: Env = { ...env, API_TOKENS: "" };
    const res = await raw("/api/jobs", { headers: { authorization: `Bearer ${API_TOKEN}` } }, open);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { message: string }).message).toMatch(/set API_TOKENS/);
    expect((await raw("/create-job", { method: "POST" }, open)).status).toBe(503);
    expect((await raw("/", {}, open)).status).toBe(503);
  });
});

/**
 * Routes anyone may call: liveness and readiness, the API's description and reference page, sign-in,
 * and the inbox receiver (which checks signatures itself). Static files (public/) are served by the
 * assets binding before the Worker and are no route of the app.
 */
const PUBLIC = ["GET /health", "GET /health/ready", "GET /openapi.json", "GET /docs", "GET /login", "POST /login", "POST /webhooks/inbox"];

/** Paths answered as JSON (the API, the inbox, the original routes); every other route is the dashboard's. */
const isJsonPath = (path: string) => /^\/(api|webhooks|create-job|run-job|get-jobs|update-job|delete-job|get-logs)(\/|$)/.test(path);

/** Every row of every table (full-text index internals aside): what an anonymous call must leave as it was. */
async function everyRowCount() {
  const { results } = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'jobs_fts_%' AND name != 'd1_migrations' ORDER BY name",
  ).all<{ name: string }>();
  const counts: Record<string, number> = {};
  for (const { name } of results) counts[name] = (await env.DB.prepare(`SELECT count(*) AS n FROM "${name}"`).first<{ n: number }>())!.n;
  return counts;
}

describe("every route is protected", () => {
  // Every handler the app registers (middleware, registered for ALL methods, aside), once each.
  const routes = [...new Set(createApp().routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`))].map((key) => {
    const [method, path] = key.split(" ") as [string, string];
    return { key, method, path };
  });
  const guarded = routes.filter((r) => !PUBLIC.includes(r.key));

  /** A real job with a finished run and its delivered webhook: every :id and :runId names something that exists. */
  let victim: { id: string; runId: number };
  beforeAll(async () => {
    const job = await createJob({ taskName: uniqueWord("guarded") });
    await call("POST", `/api/jobs/${job.id}/run`);
    const done = await waitForJob(job.id, delivered);
    victim = { id: job.id, runId: done.latestRun.id };
  });
  const urlOf = (method: string, path: string) => {
    const url = path.replace(/:id\b/g, victim.id).replace(/:runId\b/g, String(victim.runId));
    return `${url}${method === "DELETE" && path === "/delete-job" ? `?id=${victim.id}` : ""}`;
  };

  it("lists the public routes exactly: each is one the app registers", () => {
    expect(routes.length).toBeGreaterThan(50);
    for (const key of PUBLIC) expect(routes.map((r) => r.key), key).toContain(key);
  });

  it.each(guarded.map((r) => [r.method, r.path] as const))("%s %s refuses a caller with no token and no session, and changes nothing", async (method, path) => {
    const url = urlOf(method, path);
    expect(url, "a route parameter this test does not fill in").not.toContain(":");
    const before = { rows: await everyRowCount(), job: await getJob(victim.id) };
    const json = isJsonPath(path);
    const body = method === "GET" ? undefined : json ? { taskName: "anonymous", ids: [victim.id] } : `taskName=anonymous&ids=${victim.id}`;
    const res = await call(method, url, body, { ...anonymous, ...(json || method === "GET" ? {} : { "content-type": "application/x-www-form-urlencoded" }) });
    if (json) {
      expect([res.status, res.body]).toEqual([401, { success: false, message: "Missing Authorization header: send Authorization: Bearer <API token>" }]);
    } else {
      // A page sends the person to sign in and back to it; a form post, to sign in and back home (it had no page to return to).
      expect([res.status, res.headers.get("location")]).toEqual([302, `/login?next=${encodeURIComponent(method === "GET" ? url : "/")}`]);
    }
    expect({ rows: await everyRowCount(), job: await getJob(victim.id) }).toEqual(before);
  });

  it.each([
    ["GET /health", 200],
    ["GET /health/ready", 200],
    ["GET /openapi.json", 200],
    ["GET /docs", 200],
    ["GET /login", 200],
    // Sign-in itself: no token in the form is a wrong token.
    ["POST /login", 401],
    // The receiver's own check: an unsigned webhook is refused for its signature, not for a token.
    ["POST /webhooks/inbox", 401],
  ] as const)("%s answers anyone (%i) without asking for a token or a session", async (key, status) => {
    const [method, path] = key.split(" ") as [string, string];
    const form = path === "/login" && method === "POST";
    const res = await raw(path, {
      method,
      headers: form ? { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN, "cf-connecting-ip": randomIp() } : { "content-type": "application/json" },
      body: method === "GET" ? undefined : form ? "token=" : "{}",
    });
    expect(res.status).toBe(status);
    expect(res.headers.get("location")).toBeNull();
    const text = await res.text();
    expect(text).not.toContain("Missing Authorization header");
    if (path === "/webhooks/inbox") expect(JSON.parse(text).message).toMatch(/^Webhook signature missing, invalid or too old/);
  });
});

describe("dashboard sign-in", () => {
  async function signIn(token: string, host = ORIGIN, ip = randomIp()) {
    return raw("/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: host, "cf-connecting-ip": ip },
      body: new URLSearchParams({ token, next: "/logs?outcome=failure" }),
    });
  }

  it("sets a signed, HttpOnly, Secure, SameSite=Lax session cookie with an expiry, and returns to the page asked for", async () => {
    const res = await signIn(API_TOKEN);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/logs?outcome=failure");
    const cookie = res.headers.get("set-cookie")!;
    expect(cookie).toMatch(/^scheduler_session=[^;]+\.[A-Za-z0-9%]+/);
    for (const flag of ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=43200"]) expect(cookie).toContain(flag);
  });

  it("leaves out Secure on http://localhost so local sign-in works", async () => {
    const res = await worker.fetch(
      new Request("http://localhost:8787/login", {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://localhost:8787", "cf-connecting-ip": randomIp() },
        body: new URLSearchParams({ token: API_TOKEN }),
      }),
      env,
    );
    expect(res.headers.get("set-cookie")).not.toContain("Secure");
  });

  it("refuses a wrong token with 401 and sets no cookie", async () => {
    const res = await signIn("wrong-token-000000000000000000");
    expect(res.status).toBe(401);
    expect(res.headers.get("set-cookie")).toBeNull();
    expect(await res.text()).toContain("That token is not valid.");
  });

  it("sends pages to sign-in and answers htmx 401 with HX-Redirect when not signed in", async () => {
    const page = await call("GET", "/logs", undefined, anonymous);
    expect(page.status).toBe(302);
    expect(page.headers.get("location")).toBe("/login?next=%2Flogs");
    // An htmx fragment or action is no page to land on: after sign-in the person returns to the page they were on.
    const fragment = await call("GET", "/jobs/x/row", undefined, { ...anonymous, "HX-Request": "true", "HX-Current-URL": `${ORIGIN}/?status=FAILED` });
    expect(fragment.status).toBe(401);
    expect(fragment.headers.get("HX-Redirect")).toBe("/login?next=%2F%3Fstatus%3DFAILED");
  });

  it("never sends a person back to a POST-only path after signing in again", async () => {
    const form = { ...anonymous, "content-type": "application/x-www-form-urlencoded" };
    const htmxAction = await call("POST", "/runs/5/redeliver", "", { ...form, "HX-Request": "true", "HX-Current-URL": `${ORIGIN}/jobs/abc?page=2` });
    expect(htmxAction.headers.get("HX-Redirect")).toBe("/login?next=%2Fjobs%2Fabc%3Fpage%3D2");
    const plainPost = await call("POST", "/jobs/abc/run", "", { ...form, referer: `${ORIGIN}/jobs/abc` });
    expect(plainPost.status).toBe(302);
    expect(plainPost.headers.get("location")).toBe("/login?next=%2Fjobs%2Fabc");
    const elsewhere = await call("POST", "/jobs/abc/run", "", { ...form, referer: "https://evil.example/jobs/abc" });
    expect(elsewhere.headers.get("location")).toBe("/login?next=%2F");
  });

  it("rejects a tampered cookie and signs out sessions of a token that was rotated out", async () => {
    const cookie = await sessionCookie();
    const tampered = cookie.replace(/=(\d)/, (_, d) => `=${(Number(d) + 1) % 10}`);
    expect((await call("GET", "/", undefined, { authorization: null, cookie: tampered })).status).toBe(302);
    const rotated: Env = { ...env, API_TOKENS: ROTATED_TOKEN!, SESSION_SECRET: undefined };
    expect((await raw("/", { headers: { cookie } }, rotated)).status).toBe(302);
  });

  it("signs out: the cookie is cleared", async () => {
    const res = await call("POST", "/logout", "", { "content-type": "application/x-www-form-urlencoded" });
    expect(res.status).toBe(303);
    expect(res.headers.get("set-cookie")).toMatch(/scheduler_session=;.*Max-Age=0/);
  });

  it("only redirects to paths on this site after sign-in", async () => {
    const res = await raw("/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN, "cf-connecting-ip": randomIp() },
      body: new URLSearchParams({ token: API_TOKEN, next: "//evil.example/steal" }),
    });
    expect(res.headers.get("location")).toBe("/");
  });

  it("stops a brute force: the 6th sign-in from one address in a minute is 429 with Retry-After", async () => {
    const ip = randomIp();
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await signIn(`guess-${i}-000000000000000000000`, ORIGIN, ip)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    const blocked = await signIn(API_TOKEN, ORIGIN, ip);
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get("retry-after")).toBe("60");
    expect(blocked.headers.get("set-cookie")).toBeNull();
  });
});

describe("API rate limit", () => {
  it("answers 429 with Retry-After once a token uses up its allowance", async () => {
    // The real limiter binding with a small allowance (the sign-in one: 5 a minute) stands in for the API's 600.
    const tight: Env = { ...env, API_RATE_LIMITER: env.SIGNIN_RATE_LIMITER };
    const token = ROTATED_TOKEN!;
    const statuses = [];
    for (let i = 0; i < 7; i++) statuses.push((await raw("/api/jobs?limit=1", { headers: { authorization: `Bearer ${token}` } }, tight)).status);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    const last = await raw("/api/jobs?limit=1", { headers: { authorization: `Bearer ${token}` } }, tight);
    expect(last.status).toBe(429);
    expect(last.headers.get("retry-after")).toBe("60");
    expect(((await last.json()) as { message: string }).message).toMatch(/Too many requests for this API token/);
  });
});

describe("CSRF on the dashboard", () => {
  it("refuses a cross-site form post with 403 and changes nothing", async () => {
    const job = await createJob();
    const res = await call("POST", `/jobs/${job.id}/delete`, "", { "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example" });
    expect(res.status).toBe(403);
    expect(res.body).toContain("cross-site request");
    expect((await call("GET", `/api/jobs/${job.id}`)).status).toBe(200);
  });

  it("refuses a cross-site request that only has Sec-Fetch-Site", async () => {
    const job = await createJob();
    const res = await call("POST", `/jobs/${job.id}/run`, "", { "content-type": "application/x-www-form-urlencoded", origin: null, "sec-fetch-site": "cross-site" });
    expect(res.status).toBe(403);
    expect((await call("GET", `/api/jobs/${job.id}`)).body.data.status).toBe("PENDING");
  });

  it("refuses a POST without Content-Type, even from this origin", async () => {
    const job = await createJob();
    const res = await call("POST", `/jobs/${job.id}/run`, undefined, {});
    expect(res.status).toBe(403);
    expect(res.body).toContain("must be a form submission");
    expect((await call("GET", `/api/jobs/${job.id}`)).body.data.status).toBe("PENDING");
  });

  it("lets a same-origin htmx request through", async () => {
    const job = await createJob();
    const res = await call("POST", `/jobs/${job.id}/run`, "", { "content-type": "application/x-www-form-urlencoded", "HX-Request": "true" });
    expect(res.status).toBe(200);
    // Let the run finish here, so its log row does not land in a later test's before/after count.
    await waitForJob(job.id, delivered);
  });
});

describe("security headers", () => {
  it.each([["/"], ["/logs"], ["/inbox"], ["/jobs/new"], ["/login"], ["/?limit=abc"], ["/jobs/unknown"]])("%s has the CSP and friends, and no inline script or style", async (path) => {
    const res = await call("GET", path);
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    const html = res.body as string;
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(html).not.toMatch(/\sstyle="/);
    expect(html).not.toMatch(/\son[a-z]+="/);
  });

  it("sends nosniff on JSON too", async () => {
    const res = await call("GET", "/api/jobs");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });
});

describe("safe webhook targets", () => {
  it.each([
    ["http://hooks.example.com/in", /only https/],
    ["https://user:pass@hooks.example.com/in", /credentials/],
    ["https://127.0.0.1/in", /not a public address \(loopback\)/],
    ["https://127.1.2.3/in", /\(loopback\)/],
    ["https://2130706433/in", /\(loopback\)/],
    ["https://0x7f.0.0.1/in", /\(loopback\)/],
    ["https://0177.0.0.1/in", /\(loopback\)/],
    ["https://10.1.2.3/in", /\(private\)/],
    ["https://172.16.0.1/in", /\(private\)/],
    ["https://172.31.255.255/in", /\(private\)/],
    ["https://192.168.1.10/in", /\(private\)/],
    ["https://169.254.169.254/latest/meta-data", /\(linkLocal\)/],
    ["https://0.0.0.0/in", /\(unspecified\)/],
    ["https://100.64.0.1/in", /\(carrierGradeNat\)/],
    ["https://198.18.0.1/in", /not a public address/],
    ["https://224.0.0.1/in", /\(multicast\)/],
    ["https://255.255.255.255/in", /\(broadcast\)/],
    ["https://[::1]/in", /\(loopback\)/],
    ["https://[::]/in", /\(unspecified\)/],
    ["https://[fc00::1]/in", /\(uniqueLocal\)/],
    ["https://[fd00:ec2::254]/in", /\(uniqueLocal\)/],
    ["https://[fe80::1]/in", /\(linkLocal\)/],
    ["https://[fec0::1]/in", /\(deprecatedSiteLocal\)/],
    ["https://[ff02::1]/in", /\(multicast\)/],
    ["https://[::ffff:127.0.0.1]/in", /\(ipv4Mapped\)/],
    ["https://[::ffff:10.0.0.1]/in", /\(ipv4Mapped\)/],
    ["https://[::127.0.0.1]/in", /IPv4-compatible/],
    ["https://[::10.0.0.1]/in", /IPv4-compatible/],
    ["https://[64:ff9b::127.0.0.1]/in", /\(rfc6052\)/],
    ["https://[64:ff9b::a9fe:a9fe]/in", /\(rfc6052\)/],
    ["https://[2002:7f00:1::]/in", /\(6to4\)/],
    ["https://[2002:a9fe:a9fe::1]/in", /\(6to4\)/],
    ["https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/in", /\(teredo\)/],
    ["https://[2001:db8::1]/in", /\(reserved\)/],
    ["https://localhost/in", /local or internal/],
    ["https://localhost./in", /local or internal/],
    ["https://LOCALHOST../in", /local or internal/],
    ["https://api.localhost/in", /local or internal/],
    ["https://api.localhost./in", /local or internal/],
    ["https://metadata.google.internal/computeMetadata/v1", /local or internal/],
    ["https://metadata.google.internal./computeMetadata/v1", /local or internal/],
    ["https://printer.local/in", /local or internal/],
    ["https://router.home.arpa/in", /local or internal/],
    ["ftp://hooks.example.com/in", /only https/],
    ["not a url", /not a valid URL/],
  ])("rejects %s", (url, reason) => {
    expect(unsafeWebhookTarget(url, false)).toMatch(reason);
  });

  it("accepts public https targets, and http to this machine only in local dev", () => {
    expect(unsafeWebhookTarget("https://hooks.example.com/in?x=1", false)).toBeNull();
    expect(unsafeWebhookTarget("https://172.32.0.1/in", false)).toBeNull();
    expect(unsafeWebhookTarget("https://[2606:4700:4700::1111]/in", false)).toBeNull();
    expect(unsafeWebhookTarget("https://hooks.example.com./in", false)).toBeNull();
    expect(unsafeWebhookTarget("http://127.0.0.1:8787/webhooks/inbox", true)).toBeNull();
    expect(unsafeWebhookTarget("http://localhost:9000/hook", true)).toBeNull();
    expect(unsafeWebhookTarget("http://127.0.0.1:8787/webhooks/inbox", false)).toMatch(/only https/);
    expect(unsafeWebhookTarget("http://10.0.0.1/hook", true)).toMatch(/only https/);
  });

  it("refuses an unsafe WEBHOOK_URL as a misconfiguration, changing nothing", async () => {
    const job = await createJob();
    const res = await raw(`/api/jobs/${job.id}/run`, { method: "POST", headers: { authorization: `Bearer ${API_TOKEN}` } }, { ...env, WEBHOOK_URL: "https://169.254.169.254/latest" });
    expect(res.status).toBe(500);
    // The answer names the variable to fix; why (the address) is in the Worker's log, not told to a client.
    expect(((await res.json()) as { message: string }).message).toBe("Server misconfigured: check WEBHOOK_URL (the Worker's log says what is wrong)");
    expect((await call("GET", `/api/jobs/${job.id}`)).body.data.status).toBe("PENDING");
  });
});

/**
 * The cost meter (COST_METER=true: benchmark and tests) answers only a client on this machine asking a
 * local server. Deployed, Cloudflare sets CF-Connecting-IP to the client's address and the URL's host is
 * one of the Worker's routes: neither is loopback, so a deployment left metered by mistake refuses all.
 */
describe("the cost meter at /__meter", () => {
  const metered: Env = { ...env, COST_METER: "true" };
  const meter = (url: string, headers: Record<string, string> = {}, method = "GET") => worker.fetch(new Request(url, { method, headers }), metered);

  it.each([
    ["127.0.0.1 asking 127.0.0.1 (wrangler dev, the benchmark)", "http://127.0.0.1:8787/__meter", "127.0.0.1"],
    ["::1 asking localhost", "http://localhost:8787/__meter", "::1"],
  ])("answers %s", async (_, url, client) => {
    const res = await meter(url, { "cf-connecting-ip": client });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ invocations: expect.any(Object), d1: expect.any(Object), queue: expect.any(Object) });
  });

  it.each([
    ["a deployed Worker's client", "https://scheduler.example.com/__meter", { "cf-connecting-ip": "203.0.113.7" }],
    ["a deployed Worker, even with a loopback client address", "https://scheduler.example.com/__meter", { "cf-connecting-ip": "127.0.0.1" }],
    ["a local server's client on another machine", "http://127.0.0.1:8787/__meter", { "cf-connecting-ip": "192.168.1.20" }],
    ["a request that names no client", "http://127.0.0.1:8787/__meter", {}],
    ["a host that only starts like a loopback name", "http://localhost.example.com/__meter", { "cf-connecting-ip": "127.0.0.1" }],
  ])("refuses %s with 403", async (_, url, headers) => {
    const res = await meter(url, headers);
    expect(res.status).toBe(403);
    expect(await res.text()).toBe("The cost meter answers only on a local server, to this machine");
  });

  it("does not reset the tally for a refused DELETE", async () => {
    const local = { "cf-connecting-ip": "127.0.0.1" };
    await meter("http://127.0.0.1:8787/__meter", local, "DELETE");
    await meter("http://127.0.0.1:8787/health");
    expect((await meter("https://scheduler.example.com/__meter", { "cf-connecting-ip": "203.0.113.7" }, "DELETE")).status).toBe(403);
    expect(((await (await meter("http://127.0.0.1:8787/__meter", local)).json()) as { invocations: { fetch: number } }).invocations.fetch).toBe(1);
  });
});

describe("duplicate keys", () => {
  it.each([
    ['{"a":1,"a":2}', "a"],
    ['{"a":1,"\\u0061":2}', "a"],
    ['{"x":{"k":1,"k":2}}', "k"],
    ['[{"k":1},{"k":2}]', null],
    ['{"a":{"b":1},"b":2}', null],
    ['{"s":"a\\"b","t":"{\\"a\\":1,\\"a\\":2}"}', null],
  ])("finds the repeated key in %s", (text, key) => {
    expect(findDuplicateKey(text)).toBe(key);
  });
});

/** Malformed or hostile requests, each with the status it must get (with a message), writing nothing. */
const deep = (n: number) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`;
const CORPUS: [string, number, string, string, unknown, Record<string, string | null>?][] = [
  ["wrong type: taskName number", 400, "POST", "/api/jobs", { taskName: 42 }],
  ["wrong type: taskName bool", 400, "POST", "/api/jobs", { taskName: true }],
  ["wrong type: priority number", 400, "POST", "/api/jobs", { taskName: "x", priority: 3 }],
  ["wrong type: payload string", 400, "POST", "/api/jobs", { taskName: "x", payload: "{}" }],
  ["wrong type: payload array", 400, "POST", "/api/jobs", { taskName: "x", payload: [] }],
  ["wrong type: body null", 400, "POST", "/api/jobs", "null"],
  ["wrong type: body number", 400, "POST", "/api/jobs", "12"],
  ["wrong type: body string", 400, "POST", "/api/jobs", '"job"'],
  ["empty body", 400, "POST", "/api/jobs", ""],
  ["null byte in taskName", 400, "POST", "/api/jobs", { taskName: "bad\u0000name" }],
  ["newline in taskName", 400, "POST", "/api/jobs", { taskName: "two\nlines" }],
  ["lone surrogate in taskName", 400, "POST", "/api/jobs", '{"taskName":"\\ud800"}'],
  ["only blanks", 400, "POST", "/api/jobs", { taskName: " \t " }],
  ["only zero-width spaces and blanks", 400, "POST", "/api/jobs", { taskName: " \u200B\t\u200B " }],
  ["only a byte-order mark", 400, "POST", "/api/jobs", { taskName: "\uFEFF" }],
  ["only combining marks", 400, "POST", "/api/jobs", { taskName: "\u0301\u0302" }],
  ["only Hangul fillers", 400, "POST", "/api/jobs", { taskName: "\u3164\u115F" }],
  ["only a braille blank", 400, "POST", "/api/jobs", { taskName: "\u2800" }],
  ["a right-to-left override", 400, "POST", "/api/jobs", { taskName: "invoice\u202Efdp.exe" }],
  ["a bidi isolate", 400, "POST", "/api/jobs", { taskName: "\u2066report\u2069" }],
  ["a right-to-left mark", 400, "POST", "/api/jobs", { taskName: "name\u200F" }],
  ["a C1 control", 400, "POST", "/api/jobs", { taskName: "next\u0085line" }],
  ["unicode taskName too long", 400, "POST", "/api/jobs", { taskName: "日本".repeat(101) }],
  ["deeply nested payload (25)", 400, "POST", "/api/jobs", `{"taskName":"x","payload":${deep(25)}}`],
  ["deeply nested payload (5000)", 400, "POST", "/api/jobs", `{"taskName":"x","payload":${deep(5000)}}`],
  ["deeply nested arrays", 400, "POST", "/api/jobs", `{"taskName":"x","payload":{"a":${"[".repeat(3000)}${"]".repeat(3000)}}}`],
  ["__proto__ key in payload", 400, "POST", "/api/jobs", '{"taskName":"x","payload":{"__proto__":{"admin":true}}}'],
  ["nested __proto__ key", 400, "POST", "/api/jobs", '{"taskName":"x","payload":{"a":{"__proto__":{"admin":true}}}}'],
  ["duplicate taskName keys", 400, "POST", "/api/jobs", '{"taskName":"a","taskName":"b"}'],
  ["duplicate keys in payload", 400, "POST", "/api/jobs", '{"taskName":"a","payload":{"k":1,"k":2}}'],
  ["duplicate keys via escapes", 400, "POST", "/api/jobs", '{"taskName":"a","\\u0074askName":"b"}'],
  ["trailing comma", 400, "POST", "/api/jobs", '{"taskName":"a",}'],
  ["single quotes", 400, "POST", "/api/jobs", "{'taskName':'a'}"],
  ["NaN literal", 400, "POST", "/api/jobs", '{"taskName":"a","payload":{"n":NaN}}'],
  ["comment in JSON", 400, "POST", "/api/jobs", '{"taskName":"a"/* hi */}'],
  ["two JSON documents", 400, "POST", "/api/jobs", '{"taskName":"a"}{"taskName":"b"}'],
  ["unknown field", 400, "POST", "/api/jobs", { taskName: "a", status: "COMPLETED" }],
  ["unknown field id", 400, "POST", "/api/jobs", { taskName: "a", id: "chosen" }],
  ["XML body", 415, "POST", "/api/jobs", "<job/>", { "content-type": "application/xml" }],
  ["form body on the API", 415, "POST", "/api/jobs", "taskName=a", { "content-type": "application/x-www-form-urlencoded" }],
  ["oversized body", 413, "POST", "/api/jobs", { taskName: "big", payload: { s: "x".repeat(70_000) } }],
  ["oversized body on an alias", 413, "POST", "/create-job", { taskName: "big", payload: { s: "x".repeat(70_000) } }],
  ["huge limit", 400, "GET", "/api/jobs?limit=99999999999999999999", undefined],
  ["negative page", 400, "GET", "/api/jobs?page=-5", undefined],
  ["float limit", 400, "GET", "/api/jobs?limit=2.5", undefined],
  ["exponent page", 400, "GET", "/api/jobs?page=1e9", undefined],
  ["limit with spaces", 400, "GET", "/api/jobs?limit=%2010", undefined],
  ["limit given twice", 400, "GET", "/api/jobs?limit=1&limit=2", undefined],
  ["unknown status", 400, "GET", "/api/jobs?status=DONE%00", undefined],
  ["search too long", 400, "GET", `/api/jobs?search=${"%E6%97%A5".repeat(201)}`, undefined],
  ["sort injection", 400, "GET", "/api/jobs?sort=createdAt;DROP TABLE jobs", undefined],
  ["patch with nothing", 400, "PATCH", "/api/jobs/ID", {}],
  ["patch unknown field", 400, "PATCH", "/api/jobs/ID", { status: "COMPLETED" }],
  ["patch null taskName", 400, "PATCH", "/api/jobs/ID", { taskName: null }],
  ["over-long id", 400, "GET", `/api/jobs/${"x".repeat(100)}`, undefined],
  ["run an unknown id with SQL in it", 404, "POST", "/api/jobs/' OR 1=1 --/run", undefined],
  ["logs of an unknown job", 404, "GET", "/api/jobs/%00/logs", undefined],
  // Query parameters: a control character anywhere is a 400, whatever the route and whether or not it reads the parameter.
  ["search with NUL", 400, "GET", "/api/jobs?search=abc%00", undefined],
  ["search with a newline", 400, "GET", "/api/jobs?search=abc%0Adef", undefined],
  ["search with a tab", 400, "GET", "/api/jobs?search=%09abc", undefined],
  ["search with DEL", 400, "GET", "/api/jobs?search=abc%7F", undefined],
  ["search with a C1 control", 400, "GET", "/api/jobs?search=abc%C2%85", undefined],
  ["search with an escape sequence", 400, "GET", "/api/jobs?search=%1B%5B31mred", undefined],
  ["status with NUL", 400, "GET", "/api/jobs?status=PENDING%00", undefined],
  ["priority with a carriage return", 400, "GET", "/api/jobs?priority=HIGH%0D", undefined],
  ["sort with NUL", 400, "GET", "/api/jobs?sort=newest%00", undefined],
  ["sort twice, one with NUL", 400, "GET", "/api/jobs?sort=oldest&sort=newest%00", undefined],
  ["limit with NUL", 400, "GET", "/api/jobs?limit=10%00", undefined],
  ["page with a newline", 400, "GET", "/api/jobs?page=1%0A", undefined],
  ["limit zero", 400, "GET", "/api/jobs?limit=0", undefined],
  ["page past the bound", 400, "GET", "/api/jobs?page=1000001", undefined],
  ["count with NUL", 400, "GET", "/api/jobs?count=exact%00", undefined],
  ["count unknown", 400, "GET", "/api/jobs?count=all", undefined],
  ["unknown parameter with NUL", 400, "GET", "/api/jobs?debug=%00", undefined],
  ["parameter name with NUL", 400, "GET", "/api/jobs?se%00arch=x", undefined],
  ["logs jobId with NUL", 400, "GET", "/api/logs?jobId=a%00", undefined],
  ["logs outcome with a newline", 400, "GET", "/api/logs?outcome=success%0A", undefined],
  ["logs outcome unknown", 400, "GET", "/api/logs?outcome=maybe", undefined],
  ["job logs page with NUL", 400, "GET", "/api/jobs/ID/logs?page=1%00", undefined],
  ["runs limit with NUL", 400, "GET", "/api/jobs/ID/runs?limit=%00", undefined],
  ["runs page zero", 400, "GET", "/api/jobs/ID/runs?page=0", undefined],
  ["run with a stray NUL parameter", 400, "GET", "/api/runs/1?x=%00", undefined],
  ["run id that is not a number", 400, "GET", "/api/runs/1e3", undefined],
  ["run id too large", 400, "GET", "/api/runs/99999999999999999999", undefined],
  ["original list with NUL", 400, "GET", "/get-jobs?search=%00", undefined],
  ["original logs with a newline", 400, "GET", "/get-logs?jobId=%0A", undefined],
  ["original delete with NUL", 400, "DELETE", "/delete-job?id=ID%00", undefined],
  ["inbox page with NUL", 400, "GET", "/webhooks/inbox?page=%00", undefined],
  ["create with NUL in the query", 400, "POST", "/api/jobs?x=%00", { taskName: "never created" }],
  ["run with a newline in the query", 400, "POST", "/api/jobs/ID/run?y=%0A", undefined],
  ["edit with NUL in the query", 400, "PATCH", "/api/jobs/ID?z=%00", { taskName: "never renamed" }],
  ["delete with NUL in the query", 400, "DELETE", "/api/jobs/ID?a=%00", undefined],
  ["bulk run with NUL in the query", 400, "POST", "/api/jobs/run?b=%00", { ids: ["ID"] }],
  ["redeliver with NUL in the query", 400, "POST", "/api/runs/1/redeliver?c=%00", undefined],
];

describe("hostile input", () => {
  it("has a corpus of at least 70 malformed requests, at least 30 of them in query parameters", () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(70);
    expect(CORPUS.filter(([, , , path]) => path.includes("?")).length).toBeGreaterThanOrEqual(30);
  });

  const counts = async () => ({ jobs: await countRows("jobs"), runs: await countRows("runs"), deliveries: await countRows("deliveries"), logs: await countRows("webhook_logs") });

  it.each(CORPUS)("%s: %i with a message, nothing written", async (_, status, method, path, body, headers = {}) => {
    const job = await createJob({ taskName: uniqueWord("victim") });
    const before = await counts();
    const snapshot = JSON.stringify((await call("GET", `/api/jobs/${job.id}`)).body.data);
    const victimized = path.replace("/ID", `/${job.id}`).replace("=ID", `=${job.id}`);
    const res = await call(method, victimized, typeof body === "object" && body !== null && "ids" in body ? { ids: [job.id] } : body, headers);
    expect(res.status).toBe(status);
    expect(res.body.success).toBe(false);
    expect(res.body.message).toEqual(expect.any(String));
    expect(JSON.stringify(res.body)).not.toMatch(/at \w+ \(|SQLITE|D1_ERROR|stack/i);
    expect(await counts()).toEqual(before);
    expect(JSON.stringify((await call("GET", `/api/jobs/${job.id}`)).body.data)).toBe(snapshot);
  });

  it("ignores unknown query parameters", async () => {
    expect((await call("GET", "/api/jobs?limit=5&debug=true&__proto__=x")).status).toBe(200);
  });

  it("answers a dashboard page with a control character in its query with a 400 page naming the parameter", async () => {
    const res = await call("GET", "/?search=abc%00", undefined, { accept: "text/html" });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.body).toContain("parameter &#39;search&#39; must not contain control characters");
  });

  it("accepts task names with visible text in any script, emoji included", async () => {
    for (const taskName of ["日本語のレポート", "🚀 launch", "Ünïcödé", "مرحبا", "e\u0301cole", "a\u200Db"]) {
      const res = await call("POST", "/api/jobs", { taskName });
      expect(res.status, taskName).toBe(201);
      expect(res.body.data.taskName).toBe(taskName);
    }
  });

  it("accepts a payload at the depth limit", async () => {
    const res = await call("POST", "/api/jobs", `{"taskName":"deep","payload":${deep(19)}}`);
    expect(res.status).toBe(201);
  });

  it("is not confused by exports.default when unauthenticated HTML is requested", async () => {
    const res = await exports.default.fetch(new Request(`${ORIGIN}/`, { redirect: "manual" }));
    expect(res.status).toBe(302);
  });
});
