-- The keyed check of a user's password beside its hash, as in migrations/postgres (the reasons
-- are there).
ALTER TABLE idm_users ADD COLUMN password_check TEXT;
