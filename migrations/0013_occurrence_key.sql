-- A run's occurrence gets a column of its own, occurrenceKey: occurrenceAt until the run is cancelled,
-- then null. runs_occurrence_idx (one run per occurrence) is on it alone: its condition no longer names
-- the status, so starting and finishing an occurrence's run write no entry in it (two rows less per
-- occurrence). Runs already cancelled keep no key, as the old index left them out.
DROP INDEX `runs_occurrence_idx`;--> statement-breakpoint
ALTER TABLE `runs` ADD `occurrenceKey` integer;--> statement-breakpoint
UPDATE `runs` SET `occurrenceKey` = `occurrenceAt` WHERE `occurrenceAt` IS NOT NULL AND `status` != 'CANCELLED';--> statement-breakpoint
CREATE UNIQUE INDEX `runs_occurrence_idx` ON `runs` (`jobId`,`occurrenceKey`) WHERE "runs"."occurrenceKey" IS NOT NULL;
