-- Leases no longer record their process.
ALTER TABLE idm_run_locks DROP COLUMN process_start;
ALTER TABLE idm_run_locks DROP COLUMN pid_namespace;
ALTER TABLE idm_run_locks DROP COLUMN boot_id;
ALTER TABLE idm_run_locks DROP COLUMN pid;
