-- A log row no longer enters an index of runs (one row fewer per attempt): a run's attempts are read
-- through webhook_logs_job_idx, between the first and the last log row its delivery records. Each
-- delivery with attempts gets them here (through the index of runs, while it still exists).
ALTER TABLE `deliveries` ADD `firstLogId` integer;--> statement-breakpoint
ALTER TABLE `deliveries` ADD `lastLogId` integer;--> statement-breakpoint
UPDATE `deliveries` SET
    `firstLogId` = (SELECT min(l.`id`) FROM `webhook_logs` l WHERE l.`runId` = `deliveries`.`runId`),
    `lastLogId` = (SELECT max(l.`id`) FROM `webhook_logs` l WHERE l.`runId` = `deliveries`.`runId`)
  WHERE EXISTS (SELECT 1 FROM `webhook_logs` l WHERE l.`runId` = `deliveries`.`runId`);--> statement-breakpoint
DROP INDEX `webhook_logs_run_idx`;
