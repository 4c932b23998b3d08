-- Lists are in creation (rowid) order. The status and priority indexes keep their entries in that
-- order (each index ends in the rowid), so a filtered page is read in order without a sort.
DROP INDEX `jobs_status_created_idx`;--> statement-breakpoint
DROP INDEX `jobs_priority_created_idx`;--> statement-breakpoint
CREATE INDEX `jobs_status_idx` ON `jobs` (`status`);--> statement-breakpoint
CREATE INDEX `jobs_priority_idx` ON `jobs` (`priority`);