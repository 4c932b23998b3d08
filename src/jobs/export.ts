/**
 * Exports: every job the list's filters match, as CSV or NDJSON, streamed. The jobs are read in keyset
 * pages of EXPORT_PAGE_SIZE, one page per pull of the stream, so memory holds about one page whatever
 * the number of jobs, and a slow reader slows the reads instead of filling a buffer.
 */
import { getDb } from "../db/client";
import type { Env } from "../env";
import { csvLine, type CsvValue } from "../lib/csv";
import { errorSummary, logFailure } from "../lib/log";
import * as repo from "./repository";
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
 * keeps for life, so a job edited or created during the export neither repeats nor shifts a page.
 */
export function exportJobs(env: Env, { format, sort, ...filter }: ExportJobsQuery, pageSize = EXPORT_PAGE_SIZE): ReadableStream<Uint8Array> {
  const db = getDb(env.DB);
  const writer = writers[format];
  const encoder = new TextEncoder();
  let after: number | null = null;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        if (writer.head) controller.enqueue(encoder.encode(writer.head));
      },
      async pull(controller) {
        try {
          const page = await repo.exportPage(db, filter, sort, after, pageSize);
          if (page.length > 0) {
            controller.enqueue(encoder.encode(page.map((row) => writer.line(row)).join("")));
            after = page[page.length - 1]!.rowid;
          }
          if (page.length < pageSize) controller.close();
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
