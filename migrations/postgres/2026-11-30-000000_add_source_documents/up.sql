-- Documents: what a source knows of an entry beyond its row's columns, as JSON text the store
-- never parses (a SCIM user's `externalId`, `displayName`, `meta.created` and `lastModified`,
-- members' `display`). A pushed source is the only copy of them, so they are written in the
-- run's transaction, with the rows, and read back when the source starts. One document per
-- user or group of a tenant, keyed like the rows by source id; an entry's document is replaced
-- whole, never deleted, like the rows.
CREATE TABLE idm_source_documents (
    tenant_id BIGINT NOT NULL REFERENCES idm_tenants (id),
    is_group BOOLEAN NOT NULL,
    source_id TEXT COLLATE "C" NOT NULL,
    body TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, is_group, source_id)
);
