-- The idmsync schema for SQLite: tenants, users, groups, their edges, and the run log.
--
-- Portability: every table is prefixed `idm_` (`groups` is reserved in MySQL 8), the run's
-- trigger column is `run_trigger` (TRIGGER is reserved in MySQL), timestamps are UTC without an
-- offset (diesel's `Timestamp`, which SQLite, PostgreSQL and MySQL all map), and enumerations are
-- plain TEXT validated by the reader (SQLite cannot alter a CHECK constraint without rebuilding
-- the table, and the domain's enumerations grow).

CREATE TABLE idm_tenants (
    id INTEGER PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE idm_users (
    id INTEGER PRIMARY KEY NOT NULL,
    tenant_id BIGINT NOT NULL REFERENCES idm_tenants (id),
    source_id TEXT NOT NULL,
    external_id TEXT NOT NULL,
    locator TEXT,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT,
    status TEXT NOT NULL,
    deactivated_by TEXT,
    is_admin BOOLEAN NOT NULL,
    password_hash TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    last_sync_at TIMESTAMP,
    UNIQUE (tenant_id, source_id)
);
-- Not unique: a rename may swap two users' external ids within one transaction.
CREATE INDEX idm_users_tenant_external_id ON idm_users (tenant_id, external_id);

CREATE TABLE idm_groups (
    id INTEGER PRIMARY KEY NOT NULL,
    tenant_id BIGINT NOT NULL REFERENCES idm_tenants (id),
    source_id TEXT NOT NULL,
    external_id TEXT NOT NULL,
    locator TEXT,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    last_sync_at TIMESTAMP,
    UNIQUE (tenant_id, source_id)
);
CREATE INDEX idm_groups_tenant_external_id ON idm_groups (tenant_id, external_id);

CREATE TABLE idm_user_memberships (
    group_id BIGINT NOT NULL REFERENCES idm_groups (id),
    user_id BIGINT NOT NULL REFERENCES idm_users (id),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX idm_user_memberships_user ON idm_user_memberships (user_id);

CREATE TABLE idm_group_nesting (
    parent_id BIGINT NOT NULL REFERENCES idm_groups (id),
    child_id BIGINT NOT NULL REFERENCES idm_groups (id),
    PRIMARY KEY (parent_id, child_id)
);
CREATE INDEX idm_group_nesting_child ON idm_group_nesting (child_id);

CREATE TABLE idm_sync_runs (
    id INTEGER PRIMARY KEY NOT NULL,
    tenant_id BIGINT NOT NULL REFERENCES idm_tenants (id),
    mode TEXT NOT NULL,
    run_trigger TEXT NOT NULL,
    source TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    outcome TEXT NOT NULL,
    reason TEXT,
    counts TEXT NOT NULL,
    watermark TEXT
);
-- `last_success` and the interrupted-run sweep of `begin_run`.
CREATE INDEX idm_sync_runs_tenant_outcome ON idm_sync_runs (tenant_id, outcome, id);
-- The run list, newest first.
CREATE INDEX idm_sync_runs_tenant ON idm_sync_runs (tenant_id, id);

CREATE TABLE idm_sync_log_lines (
    run_id BIGINT NOT NULL REFERENCES idm_sync_runs (id),
    seq BIGINT NOT NULL,
    event TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
