-- The process that holds a run lock's lease: its pid, the kernel's boot id, its pid namespace
-- and its start time (clock ticks after boot). A lease whose holder provably no longer runs (same
-- boot and namespace, and the pid is free or another process's) is taken over at once instead
-- of after it expires. Empty in leases of older versions, which are left to expire.
ALTER TABLE idm_run_locks ADD COLUMN pid BIGINT;
ALTER TABLE idm_run_locks ADD COLUMN boot_id TEXT;
ALTER TABLE idm_run_locks ADD COLUMN pid_namespace TEXT;
ALTER TABLE idm_run_locks ADD COLUMN process_start BIGINT;
