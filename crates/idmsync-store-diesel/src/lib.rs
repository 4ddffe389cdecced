//! The diesel store adapter of idmsync: the only crate that names diesel.
//!
//! It implements the ports [`SyncStore`](idmsync_ports::SyncStore),
//! [`DirectoryReader`](idmsync_ports::DirectoryReader),
//! [`RunLogReader`](idmsync_ports::RunLogReader) and [`RunLock`](idmsync_ports::RunLock) on
//! SQLite (the embedded default), PostgreSQL and MySQL/MariaDB, selected by the scheme of
//! `database.url`.
//!
//! Design decisions:
//! - **One code path.** Every query function takes `conn::Conn`, a `#[derive(MultiConnection)]`
//!   enum over the three connections, and uses diesel's DSL and the SQL all three share. Where
//!   a backend needs its own SQL the code matches on the variant, and only there: session
//!   settings, the bind limit, `BEGIN IMMEDIATE` and the inserted row's id (`conn.rs`), the
//!   upsert clause and PostgreSQL's `COPY` (`write.rs`), the run lock (`lock.rs`) and the
//!   migrations (`migrations/<backend>`, one `embed_migrations!` each).
//! - **Set-based.** Loading the state is one streaming query per table; applying a change set
//!   writes rows and edges with `COPY` on PostgreSQL and multi-row statements sized to the bind
//!   limit (65,535 on MySQL, 32,766 on SQLite) elsewhere; a first sync rebuilds the edge
//!   tables' keys around the insert instead of maintaining them per row (`bulk.rs`: every key
//!   on PostgreSQL, the member index on SQLite). A
//!   differential run reads the edges of its groups only. The whole change set, its log lines
//!   and the run's end are one transaction on every backend.
//! - **Timestamps** are UTC (`TIMESTAMPTZ` on PostgreSQL, `DATETIME(6)` on MySQL, text on
//!   SQLite), read and written through diesel's `Timestamp` with UTC sessions, converted from
//!   and to the domain's `DateTime<Utc>` at the edge.
//! - **Errors.** Diesel and r2d2 errors are mapped to [`StoreError`](idmsync_ports::StoreError)
//!   with the database's redacted URL; no diesel type appears in the public API.
//! - **Blocking.** Diesel is synchronous; the port methods run it with
//!   `tokio::task::block_in_place` on a multi-thread runtime (and inline elsewhere), so that
//!   borrowed change sets need no `'static` copy.
#![deny(missing_docs)]

mod batch;
mod bulk;
mod conn;
mod error;
mod lock;
mod mysql;
mod pg;
mod ports;
mod read;
mod rows;
mod runtime;
mod schema;
mod store;
mod url;
mod write;

pub use store::{DieselStore, StoreOptions};
pub use url::{DatabaseUrl, UrlError};
