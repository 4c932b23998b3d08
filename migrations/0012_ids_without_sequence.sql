-- Fewer rows written per job lifecycle, step 3 (docs/performance.md).
-- `runs` and `webhook_logs` lose AUTOINCREMENT: its sqlite_sequence row was one more row written per
-- insert. Ids are still never given twice: an insert takes the next id after both the table's largest
-- and `high_water`, the largest id the table ever gave, which a trigger writes only when the newest
-- rows are deleted (src/db/ids.ts). It starts from AUTOINCREMENT's own record (none on a database that
-- never had a row: a restore's backup then brings its own).
CREATE TABLE `high_water` (
	`name` text PRIMARY KEY NOT NULL,
	`id` integer NOT NULL
);
--> statement-breakpoint
INSERT INTO `high_water` ("name", "id") SELECT "name", "seq" FROM `sqlite_sequence` WHERE "name" IN ('runs', 'webhook_logs') AND "seq" > 0;--> statement-breakpoint
-- SQLite rebuilds a table to drop AUTOINCREMENT. D1 keeps foreign keys on, and dropping `runs` would
-- cascade to `deliveries`: its rows wait in a plain copy while `runs` is rebuilt, then come back.
CREATE TABLE `__deliveries_copy` AS SELECT * FROM `deliveries`;--> statement-breakpoint
DROP TABLE `deliveries`;--> statement-breakpoint
CREATE TABLE `__new_runs` (
	`id` integer PRIMARY KEY NOT NULL,
	`jobId` text NOT NULL,
	`number` integer NOT NULL,
	`status` text NOT NULL,
	`taskName` text NOT NULL,
	`payload` text NOT NULL,
	`priority` text NOT NULL,
	`dueAt` integer NOT NULL,
	`occurrenceAt` integer,
	`rank` integer DEFAULT 0 NOT NULL,
	`startedAt` integer,
	`expectedAt` integer,
	`completedAt` integer,
	`failureReason` text,
	`recoveries` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`jobId`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
INSERT INTO `__new_runs`("id", "jobId", "number", "status", "taskName", "payload", "priority", "dueAt", "occurrenceAt", "rank", "startedAt", "expectedAt", "completedAt", "failureReason", "recoveries") SELECT "id", "jobId", "number", "status", "taskName", "payload", "priority", "dueAt", "occurrenceAt", "rank", "startedAt", "expectedAt", "completedAt", "failureReason", "recoveries" FROM `runs`;--> statement-breakpoint
DROP TABLE `runs`;--> statement-breakpoint
ALTER TABLE `__new_runs` RENAME TO `runs`;--> statement-breakpoint
CREATE UNIQUE INDEX `runs_job_number_idx` ON `runs` (`jobId`,`number`);--> statement-breakpoint
CREATE UNIQUE INDEX `runs_occurrence_idx` ON `runs` (`jobId`,`occurrenceAt`) WHERE "runs"."occurrenceAt" IS NOT NULL AND "runs"."status" != 'CANCELLED';--> statement-breakpoint
CREATE UNIQUE INDEX `runs_planned_occurrence_idx` ON `runs` (`jobId`) WHERE "runs"."occurrenceAt" IS NOT NULL AND "runs"."status" = 'SCHEDULED';--> statement-breakpoint
-- One index of the runs in progress, by job, instead of two (by job and by expected time): one entry
-- written per start instead of two. The sweep and the concurrency count walk it (the runs in progress).
CREATE INDEX `runs_in_progress_idx` ON `runs` (`jobId`) WHERE "runs"."status" = 'IN_PROGRESS';--> statement-breakpoint
CREATE INDEX `runs_dispatch_idx` ON `runs` (`rank`) WHERE "runs"."status" = 'SCHEDULED';--> statement-breakpoint
CREATE INDEX `runs_job_scheduled_idx` ON `runs` (`jobId`,`dueAt`) WHERE "runs"."status" = 'SCHEDULED';--> statement-breakpoint
CREATE INDEX `runs_finished_idx` ON `runs` (`completedAt`,`id`) WHERE "runs"."status" IN ('COMPLETED', 'FAILED', 'CANCELLED');--> statement-breakpoint
CREATE TABLE `deliveries` (
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
INSERT INTO `deliveries` ("runId", "jobId", "webhookId", "event", "url", "body", "state", "attempts", "series", "nextAttemptAt", "lastError", "createdAt", "deliveredAt")
SELECT "runId", "jobId", "webhookId", "event", "url", "body", "state", "attempts", "series", "nextAttemptAt", "lastError", "createdAt", "deliveredAt" FROM `__deliveries_copy`;--> statement-breakpoint
DROP TABLE `__deliveries_copy`;--> statement-breakpoint
CREATE INDEX `deliveries_next_attempt_idx` ON `deliveries` (`nextAttemptAt`) WHERE "deliveries"."nextAttemptAt" IS NOT NULL;--> statement-breakpoint
-- A log row keeps its webhook-id only where it is not its delivery's (none made since 0004): the
-- column becomes nullable, and the app reads the delivery's (src/webhooks/repository.ts).
CREATE TABLE `__new_webhook_logs` (
	`id` integer PRIMARY KEY NOT NULL,
	`jobId` text NOT NULL,
	`runId` integer NOT NULL,
	`deliveryId` text,
	`series` integer DEFAULT 1 NOT NULL,
	`attempt` integer NOT NULL,
	`url` text NOT NULL,
	`requestBody` text,
	`responseStatus` integer,
	`responseBody` text,
	`error` text,
	`durationMs` integer NOT NULL,
	`sentAt` integer NOT NULL,
	`nextRetryAt` integer,
	FOREIGN KEY (`jobId`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
INSERT INTO `__new_webhook_logs`("id", "jobId", "runId", "deliveryId", "series", "attempt", "url", "requestBody", "responseStatus", "responseBody", "error", "durationMs", "sentAt", "nextRetryAt") SELECT l."id", l."jobId", l."runId",
  CASE WHEN l."deliveryId" = (SELECT d."webhookId" FROM `deliveries` d WHERE d."runId" = l."runId") THEN NULL ELSE l."deliveryId" END,
  l."series", l."attempt", l."url", l."requestBody", l."responseStatus", l."responseBody", l."error", l."durationMs", l."sentAt", l."nextRetryAt"
FROM `webhook_logs` l;--> statement-breakpoint
DROP TABLE `webhook_logs`;--> statement-breakpoint
ALTER TABLE `__new_webhook_logs` RENAME TO `webhook_logs`;--> statement-breakpoint
CREATE INDEX `webhook_logs_job_idx` ON `webhook_logs` (`jobId`,`id`);--> statement-breakpoint
CREATE INDEX `webhook_logs_run_idx` ON `webhook_logs` (`runId`,`id`);--> statement-breakpoint
CREATE INDEX `webhook_logs_failed_idx` ON `webhook_logs` (`id`) WHERE "webhook_logs"."responseStatus" IS NULL OR "webhook_logs"."responseStatus" < 200 OR "webhook_logs"."responseStatus" >= 300;--> statement-breakpoint
-- The high-water marks: a delete of a table's newest row records its id when it is past the mark (a
-- delete of older rows, such as retention's, writes nothing here: one row written at most per newest
-- row deleted). Cascades from a deleted job fire them too.
CREATE TRIGGER `runs_high_water` AFTER DELETE ON `runs`
WHEN OLD."id" > coalesce((SELECT max("id") FROM `runs`), 0)
  AND OLD."id" > coalesce((SELECT "id" FROM `high_water` WHERE "name" = 'runs'), 0)
BEGIN
	INSERT INTO `high_water` ("name", "id") VALUES ('runs', OLD."id") ON CONFLICT ("name") DO UPDATE SET "id" = excluded."id";
END;--> statement-breakpoint
CREATE TRIGGER `webhook_logs_high_water` AFTER DELETE ON `webhook_logs`
WHEN OLD."id" > coalesce((SELECT max("id") FROM `webhook_logs`), 0)
  AND OLD."id" > coalesce((SELECT "id" FROM `high_water` WHERE "name" = 'webhook_logs'), 0)
BEGIN
	INSERT INTO `high_water` ("name", "id") VALUES ('webhook_logs', OLD."id") ON CONFLICT ("name") DO UPDATE SET "id" = excluded."id";
END;
