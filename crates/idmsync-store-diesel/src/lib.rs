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
//!   the run lock and its fencing (`lock.rs`, `fence.rs`) and the migrations
//!   (`migrations/<backend>`, one `embed_migrations!` each, and their lock in `store.rs`).
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
//! - **Secrets.** `database.url` is taken apart once (`url.rs`): the password, whatever it
//!   contains, is handed to the drivers' option builders and never to their URL parsers (whose
//!   errors echo what they could not parse); every printed URL masks it, and messages from the
//!   drivers are scrubbed of it. The pool's background reconnections log once per burst of
//!   failures (`conn.rs`), not once per attempt.
//! - **Fencing.** The run lock can be lost while its run goes on (a terminated session, a
//!   process paused past its lease). Every write transaction of a run proves, inside itself,
//!   that the run still holds the lock (`fence.rs`), so a run that lost it rolls back instead of
//!   committing beside the runner that took over; a SQLite lease whose holder process provably
//!   died is taken over at once (`process.rs`).
//! - **Migrations** run under a lock of the database (an advisory lock, `GET_LOCK`, SQLite's
//!   write lock), so that processes starting together on a fresh database take turns.
//! - **Blocking.** The store is synchronous; the port methods run it with
//!   `tokio::task::block_in_place` on a multi-thread runtime (on a thread of its own under a
//!   current-thread runtime, inline outside tokio), so that borrowed change sets need no
//!   `'static` copy.
#![deny(missing_docs)]

mod batch;
mod bulk;
mod conn;
mod error;
mod fence;
mod load;
mod lock;
mod mysql;
mod pg;
mod ports;
mod process;
mod read;
mod rows;
mod runtime;
mod schema;
mod store;
mod url;
mod write;

pub use store::{DieselStore, StoreOptions};
pub use url::{DatabaseUrl, UrlError};
