-- A delete frees its job's Idempotency-Keys at once: they are found by job.
CREATE INDEX `idempotency_keys_job_idx` ON `idempotency_keys` (`jobId`);