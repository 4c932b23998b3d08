-- Reads that stay bounded as the tables grow. `run_hours`: the overview's runs per hour for hours that
-- are over, written once an hour by the rollup pass, so the overview reads 24 rows instead of every
-- run of the last day. `webhook_logs_failed_idx`: failed attempts only, so the logs' failure filter
-- reads a page of them however rare they are (a successful attempt writes no entry).
CREATE TABLE `run_hours` (
	`hour` integer PRIMARY KEY NOT NULL,
	`started` integer NOT NULL,
	`completed` integer NOT NULL,
	`failed` integer NOT NULL,
	`cancelled` integer NOT NULL,
	`rolledAt` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `webhook_logs_failed_idx` ON `webhook_logs` (`id`) WHERE "webhook_logs"."responseStatus" IS NULL OR "webhook_logs"."responseStatus" < 200 OR "webhook_logs"."responseStatus" >= 300;