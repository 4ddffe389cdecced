-- Documents, as in migrations/postgres (the reasons are there). The body is LONGTEXT: a large
-- group's document lists its members and outgrows TEXT's 64 KiB. The key is the users table's
-- (VARCHAR(512) utf8mb4_bin source ids) plus one byte, within InnoDB's 3,072-byte limit.
CREATE TABLE idm_source_documents (
    tenant_id BIGINT NOT NULL,
    is_group BOOLEAN NOT NULL,
    source_id VARCHAR(512) COLLATE utf8mb4_bin NOT NULL,
    body LONGTEXT NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (tenant_id, is_group, source_id),
    FOREIGN KEY (tenant_id) REFERENCES idm_tenants (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
