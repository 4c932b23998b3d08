-- Substring search over task names and payloads without scanning every row: an FTS5 index with the
-- trigram tokenizer (case-insensitive; terms of 3+ characters), kept in step with `jobs` by triggers.
-- External content keyed by jobs' rowid (stable: D1 does not VACUUM; after a manual VACUUM of a local
-- copy run INSERT INTO jobs_fts(jobs_fts) VALUES ('rebuild')).
CREATE VIRTUAL TABLE `jobs_fts` USING fts5(`taskName`, `payload`, content='jobs', content_rowid='rowid', tokenize='trigram');
--> statement-breakpoint
CREATE TRIGGER `jobs_fts_after_insert` AFTER INSERT ON `jobs` BEGIN
  INSERT INTO `jobs_fts` (rowid, `taskName`, `payload`) VALUES (new.rowid, new.`taskName`, new.`payload`);
END;
--> statement-breakpoint
CREATE TRIGGER `jobs_fts_after_delete` AFTER DELETE ON `jobs` BEGIN
  INSERT INTO `jobs_fts` (`jobs_fts`, rowid, `taskName`, `payload`) VALUES ('delete', old.rowid, old.`taskName`, old.`payload`);
END;
--> statement-breakpoint
CREATE TRIGGER `jobs_fts_after_update` AFTER UPDATE OF `taskName`, `payload` ON `jobs` BEGIN
  INSERT INTO `jobs_fts` (`jobs_fts`, rowid, `taskName`, `payload`) VALUES ('delete', old.rowid, old.`taskName`, old.`payload`);
  INSERT INTO `jobs_fts` (rowid, `taskName`, `payload`) VALUES (new.rowid, new.`taskName`, new.`payload`);
END;
--> statement-breakpoint
INSERT INTO `jobs_fts` (`jobs_fts`) VALUES ('rebuild');
