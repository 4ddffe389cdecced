-- Log lines no longer carry a foreign key to their run, as in migrations/postgres (the reasons
-- are there), so that the three schemas stay the same. SQLite cannot drop a constraint: the
-- table is rebuilt without it (nothing references it, so this is safe with foreign keys on).
CREATE TABLE idm_sync_log_lines_new (
    run_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    event TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
INSERT INTO idm_sync_log_lines_new (run_id, seq, event, message)
    SELECT run_id, seq, event, message FROM idm_sync_log_lines;
DROP TABLE idm_sync_log_lines;
ALTER TABLE idm_sync_log_lines_new RENAME TO idm_sync_log_lines;
