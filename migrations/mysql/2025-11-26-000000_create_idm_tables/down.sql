-- Drops the idmsync schema, children before parents so that foreign keys never dangle.
DROP TABLE idm_sync_log_lines;
DROP TABLE idm_sync_runs;
DROP TABLE idm_group_nesting;
DROP TABLE idm_user_memberships;
DROP TABLE idm_groups;
DROP TABLE idm_users;
DROP TABLE idm_tenants;
