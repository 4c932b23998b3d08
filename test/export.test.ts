/**
 * GET /api/jobs/export and the dashboard's /jobs/export: every job the list's filters match, as CSV or
 * NDJSON, streamed in keyset pages.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getDb } from "../src/db/client";
import { insertRows } from "../src/db/json-rows";
import { jobs } from "../src/db/schema";
import { EXPORT_COLUMNS, EXPORT_PAGE_SIZE, exportJobs } from "../src/jobs/export";
import { csvField } from "../src/lib/csv";
import { API_TOKEN, call, createJob, ORIGIN, sessionCookie, SHARDS, countRows, uniqueWord } from "./support/helpers";

async function download(path: string, headers: Record<string, string> = { authorization: `Bearer ${API_TOKEN}` }) {
  const res = await exports.default.fetch(new Request(`${ORIGIN}${path}`, { headers, redirect: "manual" }));
  // Read as bytes: the runtime warns about .text() on a type it does not know as text (x-ndjson).
  return { status: res.status, headers: res.headers, text: new TextDecoder().decode(await res.arrayBuffer()) };
}

/** RFC 4180, read independently of the writer: quoted fields may hold commas, "" and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") row.push(field), (field = "");
    else if (ch === "\r" && text[i + 1] === "\n") {
      row.push(field), rows.push(row), (row = []), (field = ""), i++;
    } else field += ch;
  }
  if (field !== "" || row.length > 0) throw new Error("the last line does not end in CRLF");
  return rows;
}

/** The CSV as objects keyed by its header line. */
function csvRecords(text: string) {
  const [header, ...rows] = parseCsv(text);
  expect(header).toEqual([...EXPORT_COLUMNS]);
  for (const row of rows) expect(row).toHaveLength(EXPORT_COLUMNS.length);
  return rows.map((row) => Object.fromEntries(header!.map((name, i) => [name, row[i]!])));
}

const ndjsonRecords = (text: string) => (text === "" ? [] : text.split("\n").slice(0, -1).map((line) => JSON.parse(line)));

const listIds = async (query: string) => ((await call("GET", `/api/jobs?limit=100&${query}`)).body.data as { id: string }[]).map((j) => j.id);

describe("GET /api/jobs/export", () => {
  it("answers CSV by default: a dated attachment, the header line, then one line per job", async () => {
    const word = uniqueWord("csv");
    const job = await createJob({ taskName: `Nightly ${word}`, payload: { team: "ops" }, priority: "HIGH" });
    const res = await download(`/api/jobs/export?search=${word}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="jobs-${new Date().toISOString().slice(0, 10)}.csv"`);
    const [record, ...rest] = csvRecords(res.text);
    expect(rest).toEqual([]);
    expect(record).toMatchObject({ id: job.id, taskName: `Nightly ${word}`, priority: "HIGH", status: "PENDING", payload: '{"team":"ops"}', webhookUrl: "", lastRunNumber: "" });
    expect(new Date(record!.createdAt!).getTime()).toBe(new Date(job.createdAt).getTime());
  });

  it("escapes commas, quotes and JSON in cells (RFC 4180) and defuses cells a spreadsheet would run as formulas", async () => {
    const word = uniqueWord("esc");
    const names = [`a, b ${word}`, `say "hi" ${word}`, `=HYPERLINK("http://x") ${word}`, `+1 ${word}`, `-2 ${word}`, `@SUM(A1) ${word}`];
    for (const taskName of names) await createJob({ taskName, payload: { text: 'x,"y"\nz', formula: "=1+2" } });
    const records = csvRecords((await download(`/api/jobs/export?search=${word}&sort=oldest`)).text);
    expect(records.map((r) => r.taskName)).toEqual([names[0], names[1], `'${names[2]}`, `'${names[3]}`, `'${names[4]}`, `'${names[5]}`]);
    // The payload cell is the JSON text exactly (it starts with "{", so no prefix), parsed back whole.
    for (const r of records) expect(JSON.parse(r.payload!)).toEqual({ text: 'x,"y"\nz', formula: "=1+2" });
  });

  it("quotes a cell with a line break, and leaves numbers and plain text as they are", () => {
    expect(csvField("line 1\nline 2")).toBe('"line 1\nline 2"');
    expect(csvField("a\r\nb")).toBe('"a\r\nb"');
    expect(csvField('"')).toBe('""""');
    expect(csvField("\tcmd")).toBe("'\tcmd");
    expect(csvField("-1, then")).toBe(`"'-1, then"`);
    expect(csvField(-1)).toBe("-1");
    expect(csvField("plain")).toBe("plain");
    expect(csvField(null)).toBe("");
  });

  it("answers NDJSON with ?format=ndjson: one JSON object per line, payload and schedule kept as JSON", async () => {
    const word = uniqueWord("nd");
    const a = await createJob({ taskName: `A ${word}`, payload: { n: 1, nested: { ok: true } } });
    const b = await createJob({ taskName: `B ${word}`, schedule: { cron: "0 9 * * 1", timezone: "Europe/Paris" } });
    const res = await download(`/api/jobs/export?format=ndjson&search=${word}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-ndjson");
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="jobs-\d{4}-\d{2}-\d{2}\.ndjson"$/);
    expect(res.text.endsWith("\n")).toBe(true);
    const records = ndjsonRecords(res.text);
    expect(records.map((r) => r.id)).toEqual([b.id, a.id]);
    expect(Object.keys(records[0])).toEqual([...EXPORT_COLUMNS]);
    expect(records[1].payload).toEqual({ n: 1, nested: { ok: true } });
    expect(records[0]).toMatchObject({ status: "SCHEDULED", schedule: { cron: "0 9 * * 1", timezone: "Europe/Paris" }, paused: false });
    expect(new Date(records[0].nextRunAt).getTime()).toBe(new Date(b.nextRunAt).getTime());
  });

  it("matches exactly the jobs GET /api/jobs lists for the same search, status, priority and order", async () => {
    const word = uniqueWord("flt");
    for (const priority of ["HIGH", "LOW"]) {
      await createJob({ taskName: `Now ${priority} ${word}`, priority });
      await createJob({ taskName: `Later ${priority}`, payload: { tag: word }, priority, delaySeconds: 3600 });
    }
    await createJob({ taskName: "Unrelated", priority: "HIGH" });
    const queries = [
      `search=${word}`,
      `search=${word}&status=SCHEDULED`,
      `search=${word}&priority=high`,
      `search=${word}&status=PENDING&priority=LOW`,
      `search=${word}&status=SCHEDULED&priority=HIGH&sort=oldest`,
      `search=${word}&status=COMPLETED`,
    ];
    for (const query of queries) {
      const listed = await listIds(query);
      expect(ndjsonRecords((await download(`/api/jobs/export?format=ndjson&${query}`)).text).map((r) => r.id), query).toEqual(listed);
      expect(csvRecords((await download(`/api/jobs/export?${query}`)).text).map((r) => r.id), query).toEqual(listed);
    }
    expect(await listIds(`search=${word}&status=SCHEDULED&priority=HIGH`)).toHaveLength(1);
    // A term too short for the search index is matched by a scan, with the same filters.
    const short = await createJob({ taskName: `Qz ${word}`, priority: "LOW" });
    expect(ndjsonRecords((await download(`/api/jobs/export?format=ndjson&search=Qz&priority=LOW`)).text).map((r) => r.id)).toContain(short.id);
    expect(ndjsonRecords((await download(`/api/jobs/export?format=ndjson&search=Qz&priority=HIGH`)).text).map((r) => r.id)).not.toContain(short.id);
  });

  it("exports nothing but the header line (CSV) or an empty body (NDJSON) when no job matches", async () => {
    const word = uniqueWord("none");
    const csv = await download(`/api/jobs/export?search=${word}`);
    expect(csv.status).toBe(200);
    expect(csv.text).toBe(`${EXPORT_COLUMNS.join(",")}\r\n`);
    const ndjson = await download(`/api/jobs/export?format=ndjson&search=${word}`);
    expect(ndjson.status).toBe(200);
    expect(ndjson.text).toBe("");
  });

  it("refuses an unknown format or filter with the standard 400, and a request without the API token with 401", async () => {
    const bad = await call("GET", "/api/jobs/export?format=xlsx");
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ success: false, errors: [{ field: "format", message: "format must be one of csv, ndjson" }] });
    expect((await call("GET", "/api/jobs/export?status=DONE")).status).toBe(400);
    const anonymous = await download("/api/jobs/export", {});
    expect(anonymous.status).toBe(401);
    expect(JSON.parse(anonymous.text)).toMatchObject({ success: false });
  });

  it(`exports 1 200 jobs, more than two pages of ${EXPORT_PAGE_SIZE}, each exactly once and in the list's order`, async () => {
    const word = uniqueWord("bulk");
    const now = new Date();
    const rows = Array.from({ length: 1200 }, (_, i) => ({
      id: `${word}-${String(i).padStart(4, "0")}`,
      taskName: `Bulk ${i}`,
      payload: { word, i },
      createdAt: now,
      updatedAt: now,
    }));
    const db = getDb(env.DB);
    const [first, ...rest] = insertRows(db, jobs, rows);
    await db.batch([first!, ...rest]);
    const made = rows.map((r) => r.id);

    // Through the search index, newest first.
    const searched = ndjsonRecords((await download(`/api/jobs/export?format=ndjson&search=${word}`)).text).map((r) => r.id);
    expect(searched).toEqual([...made].reverse());

    // Every job, oldest first: ours appear once each, in order, among everyone else's.
    const all = csvRecords((await download("/api/jobs/export?sort=oldest")).text).map((r) => r.id!);
    const total = await countRows("jobs");
    expect(all.length).toBeGreaterThanOrEqual(1200);
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBeLessThanOrEqual(total);
    expect(all.filter((id) => id.startsWith(word))).toEqual(made);
  });

  it("reads one page per chunk of the stream: the whole list is never held at once", async () => {
    const word = uniqueWord("page");
    for (let i = 0; i < 5; i++) await createJob({ taskName: `Paged ${i} ${word}` });
    const reader = exportJobs(env, { format: "ndjson", sort: "oldest", search: word }, 2).getReader();
    const chunks: number[] = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(new TextDecoder().decode(r.value).split("\n").length - 1);
    // (Over several shards each reads its pages of 2, and a chunk holds what is known to come next: at most a page per shard.)
    if (SHARDS === 1) expect(chunks).toEqual([2, 2, 1]);
    expect(chunks.reduce((sum, n) => sum + n, 0)).toBe(5);
    for (const n of chunks) expect(n).toBeLessThanOrEqual(2 * SHARDS);
  });
});

describe("GET /jobs/export (dashboard)", () => {
  it("downloads the export with the session cookie alone, and the jobs page links to it with its filters", async () => {
    const word = uniqueWord("ui");
    const job = await createJob({ taskName: `Dash ${word}`, priority: "LOW" });
    const cookie = await sessionCookie();
    const res = await download(`/jobs/export?format=csv&search=${word}&priority=LOW`, { cookie });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(csvRecords(res.text).map((r) => r.id)).toEqual([job.id]);

    const page = await download(`/?search=${word}&priority=LOW&sort=oldest&page=1`, { cookie, accept: "text/html" });
    expect(page.text).toContain(`href="/jobs/export?format=csv&amp;search=${word}&amp;priority=LOW&amp;sort=oldest"`);
    expect(page.text).toContain(`href="/jobs/export?format=ndjson&amp;search=${word}&amp;priority=LOW&amp;sort=oldest"`);

    // Without a session it is the sign-in page's, not the data's.
    const anonymous = await download(`/jobs/export?search=${word}`, { accept: "text/html" });
    expect(anonymous.status).not.toBe(200);
    expect(anonymous.text).not.toContain(job.id);
  });
});
