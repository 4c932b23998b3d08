-- A job's row no longer says IN_PROGRESS: a job shows it while one of its runs is in progress (found
-- through runs_in_progress_idx), so a run's start writes the job's row only when something else of it
-- changes (one row fewer per run call). Rows that say IN_PROGRESS now take what the row keeps once the
-- run is over: SCHEDULED while a run is to come, else the status of the job's last finished run, else
-- PENDING. The run each points at stays its latest; its end writes the status it finished with.
UPDATE `jobs` SET `status` = CASE
    WHEN `nextRunAt` IS NOT NULL THEN 'SCHEDULED'
    ELSE coalesce((
      SELECT r.`status` FROM `runs` r
      WHERE r.`jobId` = `jobs`.`id` AND r.`status` IN ('COMPLETED', 'FAILED', 'CANCELLED')
      ORDER BY r.`number` DESC LIMIT 1
    ), 'PENDING')
  END
WHERE `status` = 'IN_PROGRESS';
