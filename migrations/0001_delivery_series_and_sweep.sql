ALTER TABLE `jobs` ADD `dueAt` integer;--> statement-breakpoint
ALTER TABLE `jobs` ADD `recoveries` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `jobs` ADD `deliverySeries` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
CREATE INDEX `jobs_due_idx` ON `jobs` (`status`,`dueAt`);--> statement-breakpoint
CREATE INDEX `jobs_delivery_idx` ON `jobs` (`deliveryStatus`,`nextDeliveryAt`);--> statement-breakpoint
ALTER TABLE `webhook_logs` ADD `series` integer DEFAULT 1 NOT NULL;