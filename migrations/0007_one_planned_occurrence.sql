-- Before the index: a job left with two planned occurrences (two dispatchers that each made "the next
-- one" from their own clock) keeps its earliest; the others are cancelled, with the reason.
UPDATE `runs` SET
  `status` = 'CANCELLED',
  `completedAt` = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
  `expectedAt` = NULL,
  `failureReason` = 'a second planned occurrence of the same schedule (made by two dispatchers at once); the earliest is kept'
WHERE `occurrenceAt` IS NOT NULL
  AND `status` = 'SCHEDULED'
  AND `id` NOT IN (
    SELECT (SELECT r.`id` FROM `runs` r WHERE r.`jobId` = p.`jobId` AND r.`occurrenceAt` IS NOT NULL AND r.`status` = 'SCHEDULED' ORDER BY r.`dueAt`, r.`id` LIMIT 1)
    FROM (SELECT DISTINCT `jobId` FROM `runs` WHERE `occurrenceAt` IS NOT NULL AND `status` = 'SCHEDULED') p
  );--> statement-breakpoint
CREATE UNIQUE INDEX `runs_planned_occurrence_idx` ON `runs` (`jobId`) WHERE "runs"."occurrenceAt" IS NOT NULL AND "runs"."status" = 'SCHEDULED';