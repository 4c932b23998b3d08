/**
 * Exports: every job the list's filters match, as CSV or NDJSON, streamed. The jobs are read in keyset
 * pages of EXPORT_PAGE_SIZE, one page per pull of the stream, so memory holds about one page whatever
 * the number of jobs, and a slow reader slows the reads instead of filling a buffer.
 */
import { getDb } from "../db/client";
import { eachShard } from "../db/shards";
import type { Env } from "../env";
import { csvLine, type CsvValue } from "../lib/csv";
import { errorSummary, logFailure } from "../lib/log";
import * as repo from "./repository";
import type { ExportRow } from "./repository";
import type { ExportFormat, ExportJobsQuery } from "./schemas";

/** Jobs read per D1 query. */
export const EXPORT_PAGE_SIZE = 500;

/** The columns of an export, in order: the job's definition, its status and its latest run. */
export const EXPORT_COLUMNS = [
  "id",
  "taskName",
  "priority",
  "status",
  "payload",
  "webhookUrl",
  "schedule",
  "paused",
  "nextRunAt",
  "createdAt",
  "updatedAt",
  "lastRunNumber",
  "lastRunStartedAt",
  "lastRunCompletedAt",
  "lastRunFailureReason",
  "webhookState",
] as const;

type Column = (typeof EXPORT_COLUMNS)[number];

const iso = (date: Date | null | undefined) => date?.toISOString() ?? null;

/** One job as an export writes it (NDJSON keeps payload and schedule as JSON; CSV writes their JSON text). */
export function exportRecord({ job, lastRun: run }: repo.ExportRow): Record<Column, unknown> {
  return {
    id: job.id,
    taskName: job.taskName,
    priority: job.priority,
    status: job.status,
    payload: job.payload,
    webhookUrl: job.webhookUrl,
    schedule: job.schedule,
    paused: job.paused,
    nextRunAt: iso(job.nextRunAt),
    createdAt: iso(job.createdAt),
    updatedAt: iso(job.updatedAt),
    lastRunNumber: run?.number ?? null,
    lastRunStartedAt: iso(run?.startedAt),
    lastRunCompletedAt: iso(run?.completedAt),
    lastRunFailureReason: run?.failureReason ?? null,
    webhookState: run?.webhookState ?? null,
  };
}

const csvValue = (value: unknown): CsvValue => (value !== null && typeof value === "object" ? JSON.stringify(value) : (value as CsvValue));

interface Writer {
  mediaType: string;
  /** Written before the first job (CSV: the header line, so an empty export is that line alone). */
  head: string;
  line: (row: repo.ExportRow) => string;
}

const writers: Record<ExportFormat, Writer> = {
  csv: {
    mediaType: "text/csv; charset=utf-8",
    head: csvLine(EXPORT_COLUMNS),
    line: (row) => {
      const record = exportRecord(row);
      return csvLine(EXPORT_COLUMNS.map((column) => csvValue(record[column])));
    },
  },
  ndjson: {
    mediaType: "application/x-ndjson",
    head: "",
    line: (row) => `${JSON.stringify(exportRecord(row))}\n`,
  },
};

/** The export's media type and a file name dated by its day (UTC): `jobs-2026-05-01.csv`. */
export function exportFile(format: ExportFormat, now: Date) {
  return { mediaType: writers[format].mediaType, fileName: `jobs-${now.toISOString().slice(0, 10)}.${format}` };
}

/**
 * The export as a stream of UTF-8 bytes. Each job appears once: pages follow the rowid, which a job
 * keeps for life, so a job edited or created during the export neither repeats nor shifts a page. With
 * several shards, each is read a page at a time and the pages merge by rowid (the order of the list,
 * db/shards.ts): a page goes out once every shard that may still hold a row before its last has been read.
 */
export function exportJobs(env: Env, { format, sort, ...filter }: ExportJobsQuery, pageSize = EXPORT_PAGE_SIZE): ReadableStream<Uint8Array> {
  const writer = writers[format];
  const encoder = new TextEncoder();
  const shards = eachShard(env).map((shard) => ({ db: getDb(shard.DB), after: null as number | null, rows: [] as ExportRow[], done: false }));
  const before = (a: number, b: number) => (sort === "newest" ? a > b : a < b);
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        if (writer.head) controller.enqueue(encoder.encode(writer.head));
      },
      async pull(controller) {
        try {
          // Every shard with nothing in hand and more to give reads its next page.
          await Promise.all(
            shards
              .filter((shard) => shard.rows.length === 0 && !shard.done)
              .map(async (shard) => {
                const page = await repo.exportPage(shard.db, filter, sort, shard.after, pageSize);
                shard.rows = page;
                if (page.length > 0) shard.after = page[page.length - 1]!.rowid;
                if (page.length < pageSize) shard.done = true;
              }),
          );
          // Out go the rows up to the nearest last row in hand of a shard that has more to give.
          let bound: number | null = null;
          for (const shard of shards) {
            const last = shard.rows.at(-1);
            if (!shard.done && last && (bound === null || before(last.rowid, bound))) bound = last.rowid;
          }
          const out = shards.flatMap((shard) => {
            const cut = bound === null ? shard.rows.length : shard.rows.findIndex((row) => before(bound!, row.rowid));
            const taken = shard.rows.splice(0, cut === -1 ? shard.rows.length : cut);
            return taken;
          });
          out.sort((a, b) => (before(a.rowid, b.rowid) ? -1 : 1));
          if (out.length > 0) controller.enqueue(encoder.encode(out.map((row) => writer.line(row)).join("")));
          if (shards.every((shard) => shard.done && shard.rows.length === 0)) controller.close();
        } catch (err) {
          // The status line is already sent: the reader sees a cut-off file, and the log says why.
          logFailure("export.failed", {}, err);
          // Not the error itself: the runtime reports a stream's error, and Drizzle's quotes the search term.
          controller.error(new Error(`job export failed: ${errorSummary(err)}`));
        }
      },
    },
    // Read a page only when the reader has taken the one before.
    { highWaterMark: 0 },
  );
}
