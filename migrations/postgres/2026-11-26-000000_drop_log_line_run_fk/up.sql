-- Log lines no longer carry a foreign key to their run.
--
-- Why: a first sync of a large directory writes about a million log lines, and PostgreSQL
-- checks a foreign key with one trigger (one query) per row: about half of the lines' `COPY`.
-- Integrity without it: lines are written only by the store's `end_run`, in the transaction
-- that has just updated their run (a missing run is rejected before any line is written), and
-- runs are never deleted (see idmsync-ports' store contract), so no line can name a missing run.
-- The primary key (run_id, seq) stays: it orders and finds a run's lines.
ALTER TABLE idm_sync_log_lines DROP CONSTRAINT idm_sync_log_lines_run_id_fkey;
