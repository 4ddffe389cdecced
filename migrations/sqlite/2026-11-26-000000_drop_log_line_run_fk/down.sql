-- Gives log lines their foreign key to their run back (a rebuild, as SQLite cannot add one).
CREATE TABLE idm_sync_log_lines_new (
    run_id BIGINT NOT NULL REFERENCES idm_sync_runs (id),
    seq BIGINT NOT NULL,
    event TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
INSERT INTO idm_sync_log_lines_new (run_id, seq, event, message)
    SELECT run_id, seq, event, message FROM idm_sync_log_lines;
DROP TABLE idm_sync_log_lines;
ALTER TABLE idm_sync_log_lines_new RENAME TO idm_sync_log_lines;
