-- The keyed check of a user's password beside its hash: HMAC-SHA256 of the user, the hash and
-- the clear password under a key kept outside the database (`auth.password_key_file`), in
-- lower-case hexadecimal. It lets a run tell an unchanged password from the source without an
-- argon2 verification. Empty in rows written before it existed (and without a password); such
-- a password is verified once at the next run, which then writes its check.
ALTER TABLE idm_users ADD COLUMN password_check TEXT;
