-- Gives log lines their foreign key to their run back, under the name it had.
ALTER TABLE idm_sync_log_lines
    ADD CONSTRAINT idm_sync_log_lines_ibfk_1 FOREIGN KEY (run_id) REFERENCES idm_sync_runs (id);
