-- Log lines no longer carry a foreign key to their run, as in migrations/postgres (the reasons
-- are there): InnoDB, too, checks it row by row. `idm_sync_log_lines_ibfk_1` is the name InnoDB
-- gave the unnamed foreign key of the first migration. The primary key (run_id, seq) stays.
ALTER TABLE idm_sync_log_lines DROP FOREIGN KEY idm_sync_log_lines_ibfk_1;
