CREATE TABLE `idempotency_keys` (
	`key` text PRIMARY KEY NOT NULL,
	`requestHash` text NOT NULL,
	`jobId` text NOT NULL,
	`createdAt` integer NOT NULL,
	FOREIGN KEY (`jobId`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
DROP INDEX `runs_expected_idx`;--> statement-breakpoint
ALTER TABLE `runs` ADD `occurrenceAt` integer;--> statement-breakpoint
ALTER TABLE `runs` ADD `rank` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `runs_occurrence_idx` ON `runs` (`jobId`,`occurrenceAt`) WHERE "runs"."occurrenceAt" IS NOT NULL AND "runs"."status" != 'CANCELLED';--> statement-breakpoint
CREATE INDEX `runs_in_progress_idx` ON `runs` (`expectedAt`) WHERE "runs"."status" = 'IN_PROGRESS';--> statement-breakpoint
CREATE INDEX `runs_job_running_idx` ON `runs` (`jobId`) WHERE "runs"."status" = 'IN_PROGRESS';--> statement-breakpoint
CREATE INDEX `runs_dispatch_idx` ON `runs` (`rank`) WHERE "runs"."status" = 'SCHEDULED';--> statement-breakpoint
CREATE INDEX `runs_job_scheduled_idx` ON `runs` (`jobId`,`dueAt`) WHERE "runs"."status" = 'SCHEDULED';--> statement-breakpoint
ALTER TABLE `jobs` ADD `nextRunAt` integer;--> statement-breakpoint
ALTER TABLE `jobs` ADD `webhookUrl` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `notifyOnCancel` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `jobs` ADD `schedule` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `paused` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `jobs` ADD `scheduleCursor` integer;--> statement-breakpoint
ALTER TABLE `jobs` ADD `occurrences` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Runs made before scheduling started when they were due, with no priority offset: their place in line is their due time.
UPDATE `runs` SET `rank` = `dueAt`;
