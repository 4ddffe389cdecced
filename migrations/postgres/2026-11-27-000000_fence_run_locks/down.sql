-- Drops the run lock's fences.
DROP TABLE idm_run_fences;
