CREATE TABLE `cursors` (
	`name` text PRIMARY KEY NOT NULL,
	`at` integer NOT NULL,
	`id` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `idempotency_keys_created_idx` ON `idempotency_keys` (`createdAt`);--> statement-breakpoint
CREATE INDEX `runs_finished_idx` ON `runs` (`completedAt`,`id`) WHERE "runs"."status" IN ('COMPLETED', 'FAILED', 'CANCELLED');