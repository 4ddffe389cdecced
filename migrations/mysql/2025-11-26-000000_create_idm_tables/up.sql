-- The idmsync schema for MySQL 8 and MariaDB 10.5+: the same tables, constraints and indexes
-- as migrations/sqlite, with MySQL's types.
--
-- - InnoDB (transactions, foreign keys), utf8mb4 throughout.
-- - Identities (`source_id`, `external_id`, tenant names) are VARCHAR with the utf8mb4_bin
--   collation: case-sensitive, byte-wise, like SQLite and PostgreSQL's "C" (case-insensitive
--   matching is the planner's job). Indexed columns need a length: InnoDB's key limit is 3,072
--   bytes and utf8mb4 counts 4 bytes a character, so VARCHAR(512) (2,048 bytes) plus the 8-byte
--   tenant id fits each composite key with room to spare; an entryUUID or objectGUID has 36
--   characters, a login id rarely 64. Strict mode (set per session) makes a longer value fail
--   the transaction rather than be truncated into another identity.
-- - Enumerations are short VARCHARs; free text (names, DNs, messages) is TEXT, never indexed.
-- - Timestamps are DATETIME(6): microseconds, UTC (the store's sessions run in UTC), with no
--   2038 limit and no implicit zone conversion.
-- - The run lock is GET_LOCK on a session: no table.

CREATE TABLE idm_tenants (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(255) COLLATE utf8mb4_bin NOT NULL UNIQUE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE idm_users (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    tenant_id BIGINT NOT NULL,
    source_id VARCHAR(512) COLLATE utf8mb4_bin NOT NULL,
    external_id VARCHAR(512) COLLATE utf8mb4_bin NOT NULL,
    locator TEXT,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT,
    status VARCHAR(16) NOT NULL,
    deactivated_by VARCHAR(16),
    is_admin BOOLEAN NOT NULL,
    password_hash TEXT,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    last_sync_at DATETIME(6),
    UNIQUE KEY idm_users_tenant_source_id (tenant_id, source_id),
    -- Not unique: a rename may swap two users' external ids within one transaction.
    KEY idm_users_tenant_external_id (tenant_id, external_id),
    FOREIGN KEY (tenant_id) REFERENCES idm_tenants (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE idm_groups (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    tenant_id BIGINT NOT NULL,
    source_id VARCHAR(512) COLLATE utf8mb4_bin NOT NULL,
    external_id VARCHAR(512) COLLATE utf8mb4_bin NOT NULL,
    locator TEXT,
    name TEXT NOT NULL,
    status VARCHAR(16) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    last_sync_at DATETIME(6),
    UNIQUE KEY idm_groups_tenant_source_id (tenant_id, source_id),
    KEY idm_groups_tenant_external_id (tenant_id, external_id),
    FOREIGN KEY (tenant_id) REFERENCES idm_tenants (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE idm_user_memberships (
    group_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id),
    KEY idm_user_memberships_user (user_id),
    FOREIGN KEY (group_id) REFERENCES idm_groups (id),
    FOREIGN KEY (user_id) REFERENCES idm_users (id)
) ENGINE = InnoDB;

CREATE TABLE idm_group_nesting (
    parent_id BIGINT NOT NULL,
    child_id BIGINT NOT NULL,
    PRIMARY KEY (parent_id, child_id),
    KEY idm_group_nesting_child (child_id),
    FOREIGN KEY (parent_id) REFERENCES idm_groups (id),
    FOREIGN KEY (child_id) REFERENCES idm_groups (id)
) ENGINE = InnoDB;

CREATE TABLE idm_sync_runs (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    tenant_id BIGINT NOT NULL,
    mode VARCHAR(16) NOT NULL,
    run_trigger VARCHAR(16) NOT NULL,
    source TEXT NOT NULL,
    started_at DATETIME(6) NOT NULL,
    finished_at DATETIME(6),
    outcome VARCHAR(32) NOT NULL,
    reason TEXT,
    counts TEXT NOT NULL,
    watermark TEXT,
    -- `last_success` and the interrupted-run sweep of `begin_run`.
    KEY idm_sync_runs_tenant_outcome (tenant_id, outcome, id),
    -- The run list, newest first.
    KEY idm_sync_runs_tenant (tenant_id, id),
    FOREIGN KEY (tenant_id) REFERENCES idm_tenants (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE idm_sync_log_lines (
    run_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    event VARCHAR(64) NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (run_id, seq),
    FOREIGN KEY (run_id) REFERENCES idm_sync_runs (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
