/**
 * The trigram index (jobs_fts) must find exactly what a plain LIKE scan finds, and stay in step with
 * inserts, edits and deletes.
 */
import { env } from "cloudflare:workers";
import { and, inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "../src/db/client";
import { insertRows } from "../src/db/json-rows";
import { jobs } from "../src/db/schema";
import { INDEXED_SEARCH_MIN_CHARS, listJobs, scanCondition } from "../src/jobs/repository";
import { listJobs as listJobPage } from "../src/jobs/service";
import { COUNT_PAGES } from "../src/lib/pagination";
import { shardBindings } from "../src/db/shards";
import { call, createJob, sessionCookie, uniqueWord } from "./support/helpers";

const FIXTURE = [
  { taskName: "Send Invoice", payload: { email: "Billing@Example.com", amount: 100 } },
  { taskName: "ÉCOLE d'été", payload: { ville: "Zürich", mot: "Straße", cyr: "Привет МИР" } },
  { taskName: "日本語のレポート", payload: { emoji: "🚀 launch day", arabic: "مرحبا بالعالم" } },
  { taskName: "NEAR(alpha beta) OR gamma", payload: { expr: "a*b^c -d (e)", tags: ["x AND y", "NOT z"] } },
  { taskName: "send invoice reminder", payload: { note: "100% paid", code: "A_B" } },
  { taskName: "Nightly REPORT", payload: { team: "ops", path: "/var/log/app" } },
  { taskName: "Résumé parser", payload: { lang: "fr", text: "café crème" } },
  { taskName: 'Quote "this"', payload: { q: 'say "hello"' } },
  { taskName: "Backup", payload: { nested: { deep: { word: "needle-in-haystack" } } } },
  { taskName: "Export CSV", payload: { columns: ["id", "name"], sep: ";" } },
];

const TERMS = ["invoice", "INVOICE", "Invoice rem", "example.com", "100%", "A_B", "a_b", "report", "/var/log", "café", "crème", "Résumé", '"hello"', "needle", "in-hay", "\"id\",\"name\"", "xyz-none", "ops\"}"];

/** Non-ASCII terms (case folded by the index as Unicode case folding) and terms that are query syntax elsewhere. */
const TEXT_TERMS = [
  "école", "ÉTÉ", "zÜRICH", "STRAßE", "Straße", "привет", "мир", "日本語", "レポート", "🚀 launch", "مرحبا",
  "NEAR(", "NEAR(alpha", "OR gamma", "a*b", "^c", "-d", "(e)", "AND y", "NOT z", '"x', "b^c -d", "alpha beta)",
];

/**
 * What a search means, written independently of SQL: the term appears in the task name or in the
 * payload's stored JSON text, case-insensitively (Unicode lower case: what the trigram index folds).
 */
const matches = (term: string, job: { taskName: string; payload: unknown }) =>
  job.taskName.toLowerCase().includes(term.toLowerCase()) || JSON.stringify(job.payload).toLowerCase().includes(term.toLowerCase());

describe("search index", () => {
  it("lists the same jobs as a plain scan for every term", async () => {
    const tag = uniqueWord("fx");
    const made = [];
    for (const f of FIXTURE) made.push(await createJob({ ...f, taskName: `${f.taskName} ${tag}` }));
    const ids = made.map((j) => j.id);
    // Each shard's index against a scan of the same shard (one database: the one).
    const dbs = shardBindings(env).map(getDb);
    const listed = async (term: string) =>
      (await Promise.all(dbs.map((db) => listJobs(db, { search: term }, "newest", 100, { offset: 0 }, { start: true }, null))))
        .flatMap((page) => page.rows.map((r) => r.item.id))
        .filter((id) => ids.includes(id))
        .sort();
    const scanned = async (term: string) =>
      (await Promise.all(dbs.map((db) => db.select({ id: jobs.id }).from(jobs).where(and(inArray(jobs.id, ids), scanCondition(term)))))).flat().map((r) => r.id).sort();
    for (const term of TERMS) {
      expect([...term].length, `term ${term} goes through the index`).toBeGreaterThanOrEqual(INDEXED_SEARCH_MIN_CHARS);
      expect(await listed(term), `term ${term}`).toEqual(await scanned(term));
    }
    // and the fixture is not trivially empty: most terms find something
    expect((await Promise.all(TERMS.map(listed))).filter((r) => r.length > 0).length).toBeGreaterThan(12);
  });

  it("treats every term as text: non-ASCII case, quotes, *, ^, -, parentheses, NEAR/AND/OR/NOT find what they spell", async () => {
    const tag = uniqueWord("tx");
    const made: { id: string; taskName: string; payload: unknown }[] = [];
    for (const f of FIXTURE) made.push({ ...(await createJob({ ...f, taskName: `${f.taskName} ${tag}` })), payload: f.payload });
    for (const term of [...TEXT_TERMS, ...TERMS]) {
      const res = await call("GET", `/api/jobs?search=${encodeURIComponent(term)}&limit=100`);
      expect(res.status, term).toBe(200);
      const found = (res.body.data as { id: string }[]).map((j) => j.id).filter((id) => made.some((m) => m.id === id)).sort();
      const expected = made.filter((m) => matches(term, m)).map((m) => m.id).sort();
      expect(found, `term ${term}`).toEqual(expected);
    }
    // Every text term matches something: the check compares real matches, not two empty lists.
    for (const term of TEXT_TERMS) expect(made.some((m) => matches(term, m)), term).toBe(true);
  });

  it("answers 200 (never 500) for terms that are search syntax or odd text", async () => {
    for (const term of ['"', '""', "*", "'", "\\", "^", "(", ")", "-", "a OR b", "AND", "NOT", "NEAR(a b, 2)", '"a" "b"', "{}", "%", "_", "🚀", "\u202Ertl", "x".repeat(200)]) {
      const res = await call("GET", `/api/jobs?search=${encodeURIComponent(term)}`);
      expect(res.status, term).toBe(200);
    }
  });

  it("follows edits and deletes", async () => {
    const before = uniqueWord("old");
    const after = uniqueWord("new");
    const job = await createJob({ taskName: `Task ${before}` });
    expect((await call("GET", `/api/jobs?search=${before}`)).body.data.map((j: any) => j.id)).toEqual([job.id]);
    await call("PATCH", `/api/jobs/${job.id}`, { taskName: `Task ${after}`, payload: { k: before.toUpperCase() } });
    expect((await call("GET", `/api/jobs?search=${after}`)).body.data.map((j: any) => j.id)).toEqual([job.id]);
    expect((await call("GET", `/api/jobs?search=${before}`)).body.data.map((j: any) => j.id)).toEqual([job.id]); // now in the payload
    await call("PATCH", `/api/jobs/${job.id}`, { payload: {} });
    expect((await call("GET", `/api/jobs?search=${before}`)).body.data).toEqual([]);
    await call("DELETE", `/api/jobs/${job.id}`);
    expect((await call("GET", `/api/jobs?search=${after}`)).body.data).toEqual([]);
  });

  it("pages through a search newest or oldest first with the right total, with and without a filter", async () => {
    const word = uniqueWord("pg");
    const made: { id: string }[] = [];
    for (let i = 0; i < 7; i++) made.push(await createJob({ taskName: `Paged ${i}`, payload: { note: `${word} ${i}` } }));
    await call("POST", `/api/jobs/${made[2]!.id}/run`);
    await call("POST", `/api/jobs/${made[5]!.id}/run`);
    const ids = (res: { body: { data: { id: string }[] } }) => res.body.data.map((j) => j.id);
    const newest = made.map((j) => j.id).reverse();

    const page2 = await call("GET", `/api/jobs?search=${word}&limit=3&page=2`);
    expect(ids(page2)).toEqual(newest.slice(3, 6));
    expect(page2.body.pagination).toMatchObject({ page: 2, limit: 3, total: 7, totalPages: 3, totalExact: true });
    expect(ids(await call("GET", `/api/jobs?search=${word}&limit=3&page=3`))).toEqual(newest.slice(6));
    expect(ids(await call("GET", `/api/jobs?search=${word}&limit=3&sort=oldest`))).toEqual(made.slice(0, 3).map((j) => j.id));

    const running = await call("GET", `/api/jobs?search=${word}&status=IN_PROGRESS&limit=1&page=2`);
    expect(ids(running)).toEqual([made[2]!.id]);
    expect(running.body.pagination).toMatchObject({ total: 2, totalPages: 2 });
    const pastTheEnd = await call("GET", `/api/jobs?search=${word}&status=IN_PROGRESS&limit=1&page=5`);
    expect(pastTheEnd.body).toMatchObject({ data: [], pagination: { page: 5, total: 2, totalPages: 2 } });
    const pending = await call("GET", `/api/jobs?search=${word}&status=PENDING&limit=10&sort=oldest`);
    expect(ids(pending)).toEqual([0, 1, 3, 4, 6].map((i) => made[i]!.id));
  });

  it("still finds one- and two-character terms (by a scan)", async () => {
    const job = await createJob({ taskName: `Zq ${uniqueWord()}` });
    const res = await call("GET", "/api/jobs?search=Zq&limit=100");
    expect(res.body.data.map((j: any) => j.id)).toContain(job.id);
  });

  it("counts a search's matches through ten pages, then reports a lower bound, and still pages past it", async () => {
    expect(COUNT_PAGES).toBe(10);
    const word = uniqueWord("many");
    const now = new Date();
    // 25 matches, every other one COMPLETED (12), seeded in one batch.
    const rows = Array.from({ length: 25 }, (_, i) => ({
      id: `${word}-${String(i).padStart(2, "0")}`,
      taskName: `Many ${i}`,
      payload: { note: word },
      status: i % 2 === 1 ? ("COMPLETED" as const) : ("PENDING" as const),
      createdAt: now,
      updatedAt: now,
    }));
    const db = getDb(env.DB);
    const [first, ...rest] = insertRows(db, jobs, rows);
    await db.batch([first!, ...rest]);
    const ids = (res: { body: { data: { id: string }[] } }) => res.body.data.map((j) => j.id);
    const newest = rows.map((r) => r.id).reverse();
    const list = (query: string) => call("GET", `/api/jobs?search=${word}&limit=2${query}`);

    // Page 1 of 2 counts 20 matches (pages 1-10) and stops: "20 and more".
    const page1 = await list("");
    expect(ids(page1)).toEqual(newest.slice(0, 2));
    expect(page1.body.pagination).toMatchObject({ page: 1, limit: 2, total: 20, totalPages: 10, totalExact: false });
    expect((await list("&page=3")).body.pagination).toMatchObject({ total: 24, totalExact: false });
    // From page 4, ten pages reach past the last match: the count is exact.
    const page4 = await list("&page=4");
    expect(ids(page4)).toEqual(newest.slice(6, 8));
    expect(page4.body.pagination).toMatchObject({ page: 4, limit: 2, total: 25, totalPages: 13, totalExact: true });
    // A page past the first count still has its rows.
    expect(ids(await list("&page=13"))).toEqual(newest.slice(24));
    // A filter that leaves fewer matches than ten pages is counted exactly.
    const completed = await list("&status=COMPLETED&sort=oldest");
    expect(ids(completed)).toEqual(rows.filter((r) => r.status === "COMPLETED").slice(0, 2).map((r) => r.id));
    expect(completed.body.pagination).toMatchObject({ total: 12, totalExact: true });

    // The dashboard says "20+" and "page 1 of at least 10", and its Next link reads page 2 by cursor.
    const page = await call("GET", `/?search=${word}&limit=2`, undefined, { cookie: await sessionCookie() });
    expect(page.body).toContain("Showing 1–2 of 20+ jobs");
    expect(page.body).toContain("Page 1 of at least 10");
    const next = page.body.match(/<a href="(\/\?search=many[0-9a-f]+&amp;limit=2&amp;page=2&amp;cursor=[\w-]+)"[^>]*rel="next"/);
    expect(next).not.toBeNull();
    const page2 = await call("GET", next![1]!.replaceAll("&amp;", "&"), undefined, { cookie: await sessionCookie() });
    expect(page2.body).toContain("Showing 3–4 of 22+ jobs");
  });

  it("counts through ten pages alike on the index and on the scan of short terms", async () => {
    const word = uniqueWord("lim");
    for (let i = 0; i < 12; i++) await createJob({ taskName: `Qz${i} ${word}` });
    for (const term of [word, "Qz"]) {
      const totals = async (offset: number) => {
        const { items, pagination } = await listJobPage(env, { search: term, sort: "newest", count: "bounded", limit: 1, page: offset + 1 });
        return [items.length, pagination.total, pagination.totalExact];
      };
      expect(await totals(0), term).toEqual([1, 10, false]);
      expect(await totals(1), term).toEqual([1, 11, false]);
      expect(await totals(2), term).toEqual([1, 12, true]);
    }
  });
});
