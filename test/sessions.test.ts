/**
 * Read replicas through D1's Sessions API (src/db/sessions.ts): every response names the point of the
 * database's history it read (`x-d1-bookmark`), a client that sends it back reads at least that recent
 * a copy, and a signed-in browser keeps it in a cookie. Local D1 has no replicas and answers every
 * session from the one copy, but it keeps real bookmarks (each write moves them on). Where a session
 * starts is read from the real binding, observed: local D1 would answer the same whatever it was given.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../src/env";
import worker from "../src/index";
import { API_TOKEN, call, countRows, createJob, ORIGIN, sessionCookie } from "./support/helpers";

const BOOKMARK = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;
const bookmarkOf = (res: { headers: Headers }) => res.headers.get("x-d1-bookmark");

/** A request as an API client makes it: a bearer token, no dashboard cookie. */
const apiCall = async (method: string, path: string, headers: Record<string, string> = {}, body?: unknown) => {
  const res = await exports.default.fetch(
    new Request(`${ORIGIN}${path}`, {
      method,
      headers: { authorization: `Bearer ${API_TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
};

describe("D1 sessions and bookmarks", () => {
  it("answers every API request with the bookmark of what it read or wrote, later after each write", async () => {
    const read = await apiCall("GET", "/api/jobs?limit=1");
    expect(read.status).toBe(200);
    expect(bookmarkOf(read)).toMatch(BOOKMARK);

    const created = await apiCall("POST", "/api/jobs", {}, { taskName: "Bookmarked", payload: {} });
    expect(created.status).toBe(201);
    const afterWrite = bookmarkOf(created)!;
    expect(afterWrite).toMatch(BOOKMARK);
    // Bookmarks sort as text: the write's comes after the read's.
    expect(afterWrite > bookmarkOf(read)!).toBe(true);
    // No cookie for an API client.
    expect(created.headers.get("set-cookie")).toBeNull();

    // Sent back, it anchors the next session: the job just created is there, and the answer's
    // bookmark is at least as recent as the one sent.
    const again = await apiCall("GET", `/api/jobs/${created.body.data.id}`, { "x-d1-bookmark": afterWrite });
    expect(again.status).toBe(200);
    expect(again.body.data.taskName).toBe("Bookmarked");
    expect(bookmarkOf(again)! >= afterWrite).toBe(true);
  });

  it("refuses a malformed bookmark with a 400 naming the header, and changes nothing", async () => {
    const jobs = await countRows("jobs");
    for (const bad of ["yesterday", "'; DROP TABLE jobs; --", "00000000-0000000f-00000000", "G0000000-0000000f-00000000-00000000000000000000000000000000"]) {
      const res = await apiCall("POST", "/api/jobs", { "x-d1-bookmark": bad }, { taskName: "Not made", payload: {} });
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/^Invalid headers: x-d1-bookmark: must be a bookmark/);
    }
    expect(await countRows("jobs")).toBe(jobs);
  });

  it("keeps a signed-in browser's bookmark in a cookie, and ignores a cookie that is not one", async () => {
    const job = await createJob({ taskName: "Seen after the change" });
    const signedIn = await sessionCookie();
    const ran = await call("POST", `/jobs/${job.id}/run?view=row`, undefined, { "hx-request": "true", "content-type": "application/x-www-form-urlencoded" });
    expect(ran.status).toBe(200);
    const cookie = ran.headers.get("set-cookie") ?? "";
    const kept = /d1_bookmark=([^;]+)/.exec(cookie)?.[1];
    expect(kept).toMatch(BOOKMARK);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    // For every page (not only this job's path), and for a few minutes: replicas lag seconds behind.
    expect(cookie).toMatch(/Path=\/(;|$)/);
    expect(cookie).toMatch(/Max-Age=300/);
    expect(kept).toBe(bookmarkOf(ran));

    // The page after the change, read with the cookie (no header): the run is there, and the page's own
    // bookmark is at least as recent.
    const page = await call("GET", `/jobs/${job.id}`, undefined, { accept: "text/html", cookie: `${signedIn}; d1_bookmark=${kept}` });
    expect(page.status).toBe(200);
    expect(String(page.body)).toContain('data-status="IN_PROGRESS"');
    expect(bookmarkOf(page)! >= kept!).toBe(true);

    // A cookie that is not a bookmark is ignored (a person cannot fix a cookie): the page still answers.
    const odd = await call("GET", `/jobs/${job.id}`, undefined, { accept: "text/html", cookie: `${signedIn}; d1_bookmark=not-a-bookmark` });
    expect(odd.status).toBe(200);
    expect(bookmarkOf(odd)).toMatch(BOOKMARK);

    // Signing out takes the bookmark with the session.
    const out = await call("POST", "/logout", undefined, { "content-type": "application/x-www-form-urlencoded", cookie: `${signedIn}; d1_bookmark=${kept}` });
    expect(out.headers.get("set-cookie") ?? "").toMatch(/d1_bookmark=;.*Max-Age=0/);
  });

  it("takes an empty bookmark header as none, as D1 does", async () => {
    const res = await apiCall("GET", "/api/jobs?limit=1", { "x-d1-bookmark": "" });
    expect(res.status).toBe(200);
    expect(bookmarkOf(res)).toMatch(BOOKMARK);
  });

  it("starts a read at the bookmark sent (header, else the browser's cookie), else anywhere; a change at the primary", async () => {
    const { starts, within } = observed();
    const mark = bookmarkOf(await apiCall("GET", "/api/jobs?limit=1"))!;
    const get = (headers: Record<string, string>) => within(new Request(`${ORIGIN}/api/jobs?limit=1`, { headers: { authorization: `Bearer ${API_TOKEN}`, ...headers } }));
    await get({});
    await get({ "x-d1-bookmark": mark });
    await get({ cookie: `d1_bookmark=${mark}` });
    await get({ cookie: "d1_bookmark=not-one" });
    const other = mark.replace(/.$/, (d) => (d === "0" ? "1" : "0"));
    await get({ "x-d1-bookmark": other, cookie: `d1_bookmark=${mark}` });
    // A change starts at the primary even with a bookmark: the primary is past every bookmark.
    await within(
      new Request(`${ORIGIN}/api/jobs`, { method: "POST", headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/json", "x-d1-bookmark": mark }, body: JSON.stringify({ taskName: "Primary first" }) }),
    );
    expect(starts).toEqual(["first-unconstrained", mark, mark, "first-unconstrained", other, "first-primary"]);
  });

  it("never moves a browser's cookie back to an older bookmark (a slow poll answered by a lagging copy)", async () => {
    const signedIn = await sessionCookie();
    const job = await createJob({ taskName: "Polled" });
    const now = bookmarkOf(await apiCall("GET", "/api/jobs?limit=1"))!;
    const older = "00000000-00000000-00000000-00000000000000000000000000000000";
    const newer = "ffffffff-ffffffff-ffffffff-ffffffffffffffffffffffffffffffff";
    const headers = { cookie: `${signedIn}; d1_bookmark=${now}` };
    // A read never sets it, whatever copy answered: a poll sent before a change and answered after the
    // change's response must not replace the newer cookie the change set.
    for (const answered of [older, newer]) {
      const read = await observed(() => answered).within(new Request(`${ORIGIN}/jobs/${job.id}`, { headers: { accept: "text/html", ...headers } }));
      expect(read.status).toBe(200);
      expect(read.headers.get("x-d1-bookmark")).toBe(answered);
      expect(read.headers.get("set-cookie") ?? "").not.toContain("d1_bookmark");
    }
    // A change sets it, forward only.
    const change = (answered: string) =>
      observed(() => answered).within(new Request(`${ORIGIN}/jobs/${job.id}/cancel`, { method: "POST", headers: { "hx-request": "true", "content-type": "application/x-www-form-urlencoded", origin: ORIGIN, ...headers } }));
    expect((await change(older)).headers.get("set-cookie") ?? "").not.toContain("d1_bookmark");
    expect((await change(newer)).headers.get("set-cookie")).toContain(`d1_bookmark=${newer}`);
  });
});

/**
 * The real binding with each session it opens recorded (where it started), and optionally the bookmark
 * a session reports replaced, as a replica behind the primary would report one. The app runs on it.
 */
function observed(reports?: (real: string | null) => string | null) {
  const starts: string[] = [];
  const DB = new Proxy(env.DB, {
    get(target, prop) {
      if (prop !== "withSession") {
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      }
      return (start: string) => {
        starts.push(start);
        const session = target.withSession(start);
        if (!reports) return session;
        return new Proxy(session, {
          get: (real, name) => (name === "getBookmark" ? () => reports(real.getBookmark()) : (Reflect.get(real, name) as Function).bind(real)),
        });
      };
    },
  });
  const observedEnv = { ...env, DB } as Env;
  return { starts, within: (request: Request) => worker.fetch(request, observedEnv) };
}
