-- Documents, as in migrations/postgres (the reasons are there).
CREATE TABLE idm_source_documents (
    tenant_id BIGINT NOT NULL REFERENCES idm_tenants (id),
    is_group BOOLEAN NOT NULL,
    source_id TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, is_group, source_id)
);
