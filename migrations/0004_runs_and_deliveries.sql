CREATE TABLE `deliveries` (
	`runId` integer PRIMARY KEY NOT NULL,
	`jobId` text NOT NULL,
	`webhookId` text NOT NULL,
	`event` text NOT NULL,
	`url` text,
	`body` text NOT NULL,
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
CREATE INDEX `deliveries_next_attempt_idx` ON `deliveries` (`nextAttemptAt`) WHERE "deliveries"."nextAttemptAt" IS NOT NULL;--> statement-breakpoint
CREATE TABLE `runs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`jobId` text NOT NULL,
	`number` integer NOT NULL,
	`status` text NOT NULL,
	`taskName` text NOT NULL,
	`payload` text NOT NULL,
	`priority` text NOT NULL,
	`dueAt` integer NOT NULL,
	`startedAt` integer,
	`expectedAt` integer,
	`completedAt` integer,
	`failureReason` text,
	`recoveries` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`jobId`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `runs_job_number_idx` ON `runs` (`jobId`,`number`);--> statement-breakpoint
CREATE INDEX `runs_expected_idx` ON `runs` (`expectedAt`) WHERE "runs"."expectedAt" IS NOT NULL;--> statement-breakpoint
-- Runs and deliveries become records. Every run the old jobs table knew is moved into `runs`: the
-- current one of each job from its row, earlier ones from the last logged attempt of their webhook
-- (the old table kept no other trace of them). Each finished run gets its delivery, its body frozen
-- as the bytes last sent (or, before any attempt, built as the old code built it), and every log row
-- is pointed at its run's new id. Nothing is deleted.
INSERT INTO `runs` (`jobId`, `number`, `status`, `taskName`, `payload`, `priority`, `dueAt`, `startedAt`, `expectedAt`, `completedAt`, `failureReason`, `recoveries`)
WITH last_attempt AS (
  SELECT `jobId`, `runId` AS `number`, max(`id`) AS `logId`
  FROM `webhook_logs`
  GROUP BY `jobId`, `runId`
),
sent AS (
  SELECT la.`jobId`, la.`number`, CASE WHEN json_valid(l.`requestBody`) THEN l.`requestBody` END AS `body`
  FROM last_attempt la
  JOIN `webhook_logs` l ON l.`id` = la.`logId`
)
SELECT
  j.`id`,
  j.`runId`,
  j.`status`,
  coalesce(json_extract(s.`body`, '$.taskName'), j.`taskName`),
  coalesce(json_extract(s.`body`, '$.payload'), j.`payload`),
  coalesce(json_extract(s.`body`, '$.priority'), j.`priority`),
  coalesce(j.`startedAt`, j.`updatedAt`),
  j.`startedAt`,
  CASE WHEN j.`status` = 'IN_PROGRESS' THEN coalesce(j.`dueAt`, j.`startedAt`, j.`updatedAt`) END,
  j.`completedAt`,
  j.`failureReason`,
  j.`recoveries`
FROM `jobs` j
LEFT JOIN sent s ON s.`jobId` = j.`id` AND s.`number` = j.`runId`
WHERE j.`runId` > 0
UNION ALL
-- Earlier runs of a job, known only by their webhook's attempts.
SELECT
  s.`jobId`,
  s.`number`,
  CASE json_extract(s.`body`, '$.status') WHEN 'FAILED' THEN 'FAILED' ELSE 'COMPLETED' END,
  coalesce(json_extract(s.`body`, '$.taskName'), j.`taskName`),
  coalesce(json_extract(s.`body`, '$.payload'), j.`payload`),
  coalesce(json_extract(s.`body`, '$.priority'), j.`priority`),
  coalesce(
    CAST(round(unixepoch(json_extract(s.`body`, '$.startedAt'), 'subsec') * 1000) AS integer),
    (SELECT min(`sentAt`) FROM `webhook_logs` WHERE `jobId` = s.`jobId` AND `runId` = s.`number`)
  ),
  CAST(round(unixepoch(json_extract(s.`body`, '$.startedAt'), 'subsec') * 1000) AS integer),
  NULL,
  CAST(round(unixepoch(json_extract(s.`body`, '$.completedAt'), 'subsec') * 1000) AS integer),
  NULL,
  0
FROM sent s
JOIN `jobs` j ON j.`id` = s.`jobId`
WHERE s.`number` < j.`runId`;
--> statement-breakpoint
INSERT INTO `deliveries` (`runId`, `jobId`, `webhookId`, `event`, `url`, `body`, `state`, `attempts`, `series`, `nextAttemptAt`, `lastError`, `createdAt`, `deliveredAt`)
WITH last_attempt AS (
  SELECT `jobId`, `runId` AS `number`, max(`id`) AS `logId`, max(`series`) AS `series`
  FROM `webhook_logs`
  GROUP BY `jobId`, `runId`
),
delivered AS (
  SELECT `jobId`, `runId` AS `number`, max(`sentAt`) AS `at`
  FROM `webhook_logs`
  WHERE `responseStatus` BETWEEN 200 AND 299
  GROUP BY `jobId`, `runId`
)
SELECT
  r.`id`,
  r.`jobId`,
  'whd_' || r.`jobId` || '_' || r.`number`,
  CASE r.`status` WHEN 'FAILED' THEN 'job.failed' ELSE 'job.completed' END,
  nullif(l.`url`, ''),
  -- The bytes of the last attempt; before any attempt, the body as the old code built it from the row.
  coalesce(
    CASE WHEN json_valid(l.`requestBody`) THEN l.`requestBody` END,
    json_object(
      'event', CASE j.`status` WHEN 'FAILED' THEN 'job.failed' ELSE 'job.completed' END,
      'deliveryId', 'whd_' || j.`id` || '_' || j.`runId`,
      'jobId', j.`id`,
      'taskName', j.`taskName`,
      'priority', j.`priority`,
      'payload', CASE WHEN json_valid(j.`payload`) THEN json(j.`payload`) ELSE j.`payload` END,
      'status', j.`status`,
      'runId', j.`runId`,
      'startedAt', strftime('%Y-%m-%dT%H:%M:%fZ', j.`startedAt` / 1000.0, 'unixepoch'),
      'completedAt', strftime('%Y-%m-%dT%H:%M:%fZ', j.`completedAt` / 1000.0, 'unixepoch')
    )
  ),
  CASE
    WHEN r.`number` < j.`runId` THEN CASE WHEN d.`at` IS NOT NULL THEN 'DELIVERED' ELSE 'FAILED' END
    WHEN j.`deliveryStatus` = 'NONE' THEN 'PENDING'
    ELSE j.`deliveryStatus`
  END,
  CASE
    WHEN r.`number` < j.`runId` THEN (SELECT count(*) FROM `webhook_logs` WHERE `jobId` = r.`jobId` AND `runId` = r.`number` AND `series` = la.`series`)
    ELSE j.`deliveryAttempts`
  END,
  CASE WHEN r.`number` < j.`runId` THEN la.`series` ELSE j.`deliverySeries` END,
  CASE
    WHEN r.`number` < j.`runId` THEN NULL
    WHEN j.`deliveryStatus` IN ('NONE', 'PENDING') THEN coalesce(j.`completedAt`, j.`updatedAt`)
    WHEN j.`deliveryStatus` = 'SENDING' THEN coalesce(j.`deliveryLeaseUntil`, j.`updatedAt`)
    WHEN j.`deliveryStatus` = 'RETRYING' THEN coalesce(j.`nextDeliveryAt`, j.`updatedAt`)
  END,
  CASE
    WHEN r.`number` < j.`runId` THEN CASE WHEN d.`at` IS NULL THEN coalesce(l.`error`, 'no attempt succeeded') || ' (its job was run again before runs were kept as records)' END
    ELSE j.`lastDeliveryError`
  END,
  coalesce(r.`completedAt`, l.`sentAt`, j.`updatedAt`),
  d.`at`
FROM `runs` r
JOIN `jobs` j ON j.`id` = r.`jobId`
LEFT JOIN last_attempt la ON la.`jobId` = r.`jobId` AND la.`number` = r.`number`
LEFT JOIN `webhook_logs` l ON l.`id` = la.`logId`
LEFT JOIN delivered d ON d.`jobId` = r.`jobId` AND d.`number` = r.`number`
WHERE r.`status` IN ('COMPLETED', 'FAILED');
--> statement-breakpoint
-- Log rows named their run by its number within the job; they now point at the run's record.
UPDATE `webhook_logs`
SET `runId` = (
  SELECT r.`id`
  FROM `runs` r
  WHERE r.`jobId` = `webhook_logs`.`jobId`
    AND r.`number` = `webhook_logs`.`runId`
);
--> statement-breakpoint
DROP INDEX `jobs_due_idx`;--> statement-breakpoint
DROP INDEX `jobs_delivery_idx`;--> statement-breakpoint
ALTER TABLE `jobs` ADD `latestRunId` integer;--> statement-breakpoint
UPDATE `jobs`
SET `latestRunId` = (
  SELECT r.`id`
  FROM `runs` r
  WHERE r.`jobId` = `jobs`.`id`
    AND r.`number` = `jobs`.`runId`
);--> statement-breakpoint
ALTER TABLE `jobs` DROP COLUMN `runId`;--> statement-breakpoint
ALTER TABLE `jobs` DROP COLUMN `startedAt`;--> statement-breakpoint
ALTER TABLE `jobs` DROP COLUMN `dueAt`;--> statement-breakpoint
ALTER TABLE `jobs` DROP COLUMN `recoveries`;--> statement-breakpoint
ALTER TABLE `jobs` DROP COLUMN `completedAt`;--> statement-breakpoint
ALTER TABLE `jobs` DROP COLUMN `failureReason`;--> statement-breakpoint
ALTER TABLE `jobs` DROP COLUMN `deliveryStatus`;--> statement-breakpoint
ALTER TABLE `jobs` DROP COLUMN `deliveryAttempts`;--> statement-breakpoint
ALTER TABLE `jobs` DROP COLUMN `deliverySeries`;--> statement-breakpoint
ALTER TABLE `jobs` DROP COLUMN `deliveryLeaseUntil`;--> statement-breakpoint
ALTER TABLE `jobs` DROP COLUMN `nextDeliveryAt`;--> statement-breakpoint
ALTER TABLE `jobs` DROP COLUMN `lastDeliveryError`;--> statement-breakpoint
CREATE INDEX `webhook_logs_run_idx` ON `webhook_logs` (`runId`,`id`);