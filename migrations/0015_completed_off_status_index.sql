DROP INDEX `jobs_status_idx`;--> statement-breakpoint
CREATE INDEX `jobs_status_idx` ON `jobs` (`status`) WHERE "jobs"."status" NOT IN ('IN_PROGRESS', 'COMPLETED');