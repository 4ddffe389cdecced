//! The diesel store adapter of idmsync: the only crate that names diesel.
//!
//! It implements the ports [`SyncStore`](idmsync_ports::SyncStore),
//! [`DirectoryReader`](idmsync_ports::DirectoryReader),
//! [`RunLogReader`](idmsync_ports::RunLogReader) and [`RunLock`](idmsync_ports::RunLock) on
//! SQLite (the embedded default), PostgreSQL and MySQL/MariaDB, selected by the scheme of
//! `database.url`.
//!
//! Design decisions:
//! - **One code path.** Every query function takes `conn::Conn`, an enum over the three
//!   connections, and runs the same diesel expression on whichever it holds (`on_backend!`),
//!   using the SQL all three share. Where a backend needs its own SQL the code matches on the
//!   variant, and only there: session settings, the bind limit, `BEGIN IMMEDIATE` and the
//!   inserted row's id (`conn.rs`), the upsert clause (`write.rs`), the bulk loads (`load.rs`),
//!   the run lock (`lock.rs`) and the migrations (`migrations/<backend>`, one
//!   `embed_migrations!` each).
//! - **No C client library.** SQLite is diesel's own (bundled) connection; PostgreSQL and
//!   MySQL are diesel-async's pure-Rust connections (tokio-postgres, mysql_async) behind its
//!   `AsyncConnectionWrapper`, whose futures run on the store's driver runtime (`runtime.rs`).
//!   TLS is rustls (`pg.rs`, `mysql.rs`).
//! - **Set-based.** Loading the state is one streaming query per table; applying a change set
//!   writes rows, edges and log lines through one bulk loader (`load.rs`): arrays and
//!   `unnest` on PostgreSQL, `LOAD DATA LOCAL INFILE` from memory on MySQL, multi-row
//!   statements sized to the bind limit on SQLite; a first sync rebuilds the edge tables' keys
//!   around the load instead of maintaining them per row (`bulk.rs`: every key on PostgreSQL,
//!   the member index on SQLite). A differential run reads the edges of its groups only. The
//!   whole change set, its log lines and the run's end are one transaction on every backend.
//! - **Timestamps** are UTC (`TIMESTAMPTZ` on PostgreSQL, `DATETIME(6)` on MySQL, text on
//!   SQLite), read and written through diesel's `Timestamp` with UTC sessions, converted from
//!   and to the domain's `DateTime<Utc>` at the edge.
//! - **Errors.** Diesel and r2d2 errors are mapped to [`StoreError`](idmsync_ports::StoreError)
//!   with the database's redacted URL; no diesel type appears in the public API.
//! - **Blocking.** The store is synchronous; the port methods run it with
//!   `tokio::task::block_in_place` on a multi-thread runtime (on a thread of its own under a
//!   current-thread runtime, inline outside tokio), so that borrowed change sets need no
//!   `'static` copy.
#![deny(missing_docs)]

mod batch;
mod bulk;
mod conn;
mod error;
mod load;
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
