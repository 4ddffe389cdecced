//! End-to-end tests: the built `idmsync` binary, run as a user would, on temporary copies of
//! source files and a temporary SQLite database.

mod ad;
mod auth;
mod auth_ldap;
mod file;
mod ldap;
mod operator;
mod secrets;
mod serve;
mod support;
mod untrusted;
