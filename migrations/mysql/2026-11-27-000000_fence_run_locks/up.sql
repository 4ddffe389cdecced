-- Fencing of the run lock (the store's fence.rs), as in migrations/postgres: the lock is a
-- `GET_LOCK` user lock, which a run can lose while it goes on (its connection killed); whoever
-- takes a tenant's lock advances the tenant's row here (`holder`: the lock connection's id), and
-- a run's write transaction locks the row, checks its generation and, before committing, that
-- `IS_USED_LOCK` still names the holder connection.
CREATE TABLE idm_run_fences (
    tenant VARCHAR(255) COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
    generation BIGINT NOT NULL,
    holder BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
