//! Integration tests of the diesel store against real SQLite files and the local PostgreSQL and
//! MariaDB servers: every test runs on each backend, each on a fresh database of its own.

mod apply;
mod connection;
mod fencing;
mod lock;
mod logins;
mod migrate;
mod runs;
mod secrets;
mod support;
mod tls;
mod url;
mod views;
