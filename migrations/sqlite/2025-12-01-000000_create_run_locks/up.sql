-- SQLite's run locks: PostgreSQL and MySQL lock with the server's session locks instead. A row
-- is a held lock, valid until `expires_at` (UTC) unless its holder's heartbeat renews it; an
-- expired row is taken over by the next runner, which is how a dead holder's lock frees itself.
CREATE TABLE idm_run_locks (
    tenant TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
