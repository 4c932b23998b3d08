-- The first attempt of a webhook, claimed by the batch that finishes its run, keeps its lease in a column
-- of its own (leaseUntil) and leaves nextAttemptAt null: it writes no entry in deliveries_next_attempt_idx
-- (one row less per lifecycle). The sweep finds such an attempt whose worker died by walking the runs
-- finished since its cursor (runs_finished_idx), from the time this migration ran: deliveries made
-- before it are in the index as they were. Attempts in flight now keep their lease in both columns.
ALTER TABLE `deliveries` ADD `leaseUntil` integer;--> statement-breakpoint
UPDATE `deliveries` SET `leaseUntil` = `nextAttemptAt` WHERE `state` = 'SENDING';--> statement-breakpoint
INSERT OR IGNORE INTO `cursors` (`name`, `at`, `id`) VALUES ('first-attempts', cast(unixepoch('subsec') * 1000 as integer), 0);
