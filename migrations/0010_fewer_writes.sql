-- Fewer rows written and bytes stored per job lifecycle (D1 bills each row and index entry written).
-- jobs_created_idx goes: lists and pages by number walk the table's own rowid order, which is creation
-- order. jobs_status_idx leaves out IN_PROGRESS: a run's start takes its job out of the index, which
-- writes no entry; jobs in progress are found through their runs in progress.
DROP INDEX `jobs_created_idx`;--> statement-breakpoint
DROP INDEX `jobs_status_idx`;--> statement-breakpoint
CREATE INDEX `jobs_status_idx` ON `jobs` (`status`) WHERE "jobs"."status" != 'IN_PROGRESS';--> statement-breakpoint
-- An attempt no longer keeps a copy of the bytes it sent when they are its delivery's body (every
-- attempt of a delivery sends those): the log reads them from the delivery. A row whose bytes differ
-- (attempts of runs from before 0004, whose body was made again on each attempt) keeps its own.
UPDATE `webhook_logs` SET `requestBody` = NULL
WHERE `requestBody` IS NOT NULL
  AND `requestBody` = (SELECT d.`body` FROM `deliveries` d WHERE d.`runId` = `webhook_logs`.`runId`);
