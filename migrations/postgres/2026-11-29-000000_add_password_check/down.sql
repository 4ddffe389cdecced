-- Passwords are checked by argon2 alone again.
ALTER TABLE idm_users DROP COLUMN password_check;
