//! The diesel store adapter of idmsync: the only crate that names diesel.
//!
//! It implements the ports [`SyncStore`](idmsync_ports::SyncStore),
//! [`DirectoryReader`](idmsync_ports::DirectoryReader) and
//! [`RunLogReader`](idmsync_ports::RunLogReader) on SQLite today; PostgreSQL and MariaDB follow.
//!
//! Design decisions, for whoever adds the next backend:
//! - **One code path.** Queries use diesel's DSL and SQL that SQLite, PostgreSQL and MySQL share,
//!   and every function takes the connection type alias `Conn`, so that a
//!   `#[derive(MultiConnection)]` enum can replace it. What differs per backend is kept in
//!   `store.rs` (pragmas, immediate transactions, the bind limit) and in the two statements that
//!   say so in `write.rs` (the upsert and the `RETURNING` of a new run's id).
//! - **Set-based.** Loading the state is one query per table; applying a change set writes rows
//!   and edges in multi-row statements sized to the backend's bind-parameter limit.
//! - **Timestamps** are stored as UTC without an offset (diesel's `Timestamp`, which all three
//!   backends map), converted from and to the domain's `DateTime<Utc>` at the edge.
//! - **Errors.** Diesel and r2d2 errors are mapped to [`StoreError`](idmsync_ports::StoreError)
//!   with the database's redacted name; no diesel type appears in the public API.
//! - **Blocking.** Diesel is synchronous; the port methods run it with
//!   `tokio::task::block_in_place` on a multi-thread runtime (and inline elsewhere), so that
//!   borrowed change sets need no `'static` copy.
#![deny(missing_docs)]

mod batch;
mod error;
mod ports;
mod read;
mod rows;
mod schema;
mod store;
mod url;
mod write;

pub use store::DieselStore;
pub use url::{DatabaseUrl, UrlError};
