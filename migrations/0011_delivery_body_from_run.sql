-- Fewer rows written and bytes stored per job lifecycle, step 2.
-- jobs_priority_idx goes: every create wrote an entry in it for a filter the dashboard seldom uses; a
-- list by priority walks the table (or the status index) and checks each row.
DROP INDEX `jobs_priority_idx`;--> statement-breakpoint
-- A delivery no longer stores its body: the body is built from its run's row, which does not change once
-- the run has finished (src/webhooks/body.ts), so every attempt still sends the same bytes. The column
-- becomes nullable (SQLite rebuilds the table for that); a stored body is kept only where it differs
-- from what its run's row builds (deliveries of runs from before 0004, made by another expression).
-- Nothing references `deliveries`, so dropping the old table touches no other row.
CREATE TABLE `__new_deliveries` (
	`runId` integer PRIMARY KEY NOT NULL,
	`jobId` text NOT NULL,
	`webhookId` text NOT NULL,
	`event` text NOT NULL,
	`url` text,
	`body` text,
	`state` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`series` integer DEFAULT 1 NOT NULL,
	`nextAttemptAt` integer,
	`lastError` text,
	`createdAt` integer NOT NULL,
	`deliveredAt` integer,
	FOREIGN KEY (`runId`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
INSERT INTO `__new_deliveries`("runId", "jobId", "webhookId", "event", "url", "body", "state", "attempts", "series", "nextAttemptAt", "lastError", "createdAt", "deliveredAt")
SELECT d."runId", d."jobId", d."webhookId", d."event", d."url",
  CASE WHEN d."body" = (
    SELECT json_object(
      'event', CASE r."status" WHEN 'FAILED' THEN 'job.failed' WHEN 'CANCELLED' THEN 'job.cancelled' ELSE 'job.completed' END,
      'deliveryId', 'whd_' || r."jobId" || '_' || r."number",
      'jobId', r."jobId",
      'runId', r."id",
      'runNumber', r."number",
      'taskName', r."taskName",
      'priority', r."priority",
      'payload', CASE WHEN json_valid(r."payload") THEN json(r."payload") ELSE r."payload" END,
      'status', r."status",
      'dueAt', strftime('%Y-%m-%dT%H:%M:%fZ', r."dueAt" / 1000.0, 'unixepoch'),
      'startedAt', strftime('%Y-%m-%dT%H:%M:%fZ', r."startedAt" / 1000.0, 'unixepoch'),
      'completedAt', strftime('%Y-%m-%dT%H:%M:%fZ', r."completedAt" / 1000.0, 'unixepoch'),
      'failureReason', r."failureReason"
    )
    FROM `runs` r WHERE r."id" = d."runId"
  ) THEN NULL ELSE d."body" END,
  d."state", d."attempts", d."series", d."nextAttemptAt", d."lastError", d."createdAt", d."deliveredAt"
FROM `deliveries` d;--> statement-breakpoint
DROP TABLE `deliveries`;--> statement-breakpoint
ALTER TABLE `__new_deliveries` RENAME TO `deliveries`;--> statement-breakpoint
CREATE INDEX `deliveries_next_attempt_idx` ON `deliveries` (`nextAttemptAt`) WHERE "deliveries"."nextAttemptAt" IS NOT NULL;
