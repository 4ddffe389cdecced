-- Fencing of the run lock (the store's fence.rs). The lock itself is a session advisory lock,
-- which a run can lose while it goes on (its session terminated); so whoever takes a tenant's
-- lock advances the tenant's row here (`generation`, and `holder`: the lock session's backend
-- pid), and a run's write transaction locks the row first, checks that the generation is still
-- its lock's, and checks before committing that the holder session still holds the lock. A
-- runner taking over waits on the row for any such transaction to end.
CREATE TABLE idm_run_fences (
    tenant TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    generation BIGINT NOT NULL,
    holder BIGINT NOT NULL
);
