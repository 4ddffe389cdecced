-- Drops SQLite's run locks.
DROP TABLE idm_run_locks;
