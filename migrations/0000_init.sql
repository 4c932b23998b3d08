CREATE TABLE `inbox_entries` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`receivedAt` integer NOT NULL,
	`headers` text NOT NULL,
	`body` text
);
--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`taskName` text NOT NULL,
	`payload` text NOT NULL,
	`priority` text DEFAULT 'MEDIUM' NOT NULL,
	`status` text DEFAULT 'PENDING' NOT NULL,
	`createdAt` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`updatedAt` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`runId` integer DEFAULT 0 NOT NULL,
	`startedAt` integer,
	`completedAt` integer,
	`failureReason` text,
	`deliveryStatus` text DEFAULT 'NONE' NOT NULL,
	`deliveryAttempts` integer DEFAULT 0 NOT NULL,
	`deliveryLeaseUntil` integer,
	`nextDeliveryAt` integer,
	`lastDeliveryError` text
);
--> statement-breakpoint
CREATE INDEX `jobs_created_idx` ON `jobs` (`createdAt`);--> statement-breakpoint
CREATE INDEX `jobs_status_created_idx` ON `jobs` (`status`,`createdAt`);--> statement-breakpoint
CREATE INDEX `jobs_priority_created_idx` ON `jobs` (`priority`,`createdAt`);--> statement-breakpoint
CREATE TABLE `webhook_logs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`jobId` text NOT NULL,
	`runId` integer NOT NULL,
	`deliveryId` text NOT NULL,
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
CREATE INDEX `webhook_logs_job_idx` ON `webhook_logs` (`jobId`,`id`);