//! End-to-end tests: the built `idmsync` binary, run as a user would, on temporary copies of
//! source files, against a fresh database on SQLite, PostgreSQL or MariaDB (`idmsync-test-db`)
//! and real directories (slapd, a Samba AD DC, 389 Directory Server) where a test needs one.

mod ad;
mod auth;
mod auth_ldap;
mod check;
mod console;
mod directories;
mod ds389;
mod file;
mod ldap;
mod live;
mod operator;
mod scim;
mod scim_sessions;
mod secrets;
mod serve;
mod sources;
mod support;
mod tenants;
mod untrusted;
