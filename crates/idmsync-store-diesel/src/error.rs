//! The crate's internal error, which transactions roll back on, and its mapping to the port's
//! `StoreError`: the only error type that leaves the crate.

use std::fmt::Display;

use diesel::result::Error as QueryError;
use idmsync_ports::StoreError;

use crate::url::DatabaseUrl;

/// Everything that can go wrong inside the crate. Its `From` conversions let `?` work inside
/// diesel transactions; [`DbError::into_store`] adds the database's name on the way out.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    /// A statement or the transaction failed.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// No connection could be had from the pool.
    #[error("no connection: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    /// Running or checking the migrations failed.
    #[error("migrations: {0}")]
    Migration(String),
    /// A row is not what the schema promises.
    #[error("{0}")]
    Corrupt(String),
    /// The request cannot be applied as asked (an edge to an unknown entry, an unknown run).
    #[error("{0}")]
    Rejected(String),
    /// The run's lock was lost (or never held): its transaction rolls back (`fence.rs`).
    #[error("{0}")]
    LockLost(String),
}

impl DbError {
    /// The port's error, naming `database` (a redacted URL) so that operators know which file
    /// or server failed. The message is scrubbed of the password, whatever a driver put in it.
    pub(crate) fn into_store(self, database: &DatabaseUrl) -> StoreError {
        match self.describe(database) {
            StoreError::Unavailable(m) => StoreError::Unavailable(database.scrub(&m)),
            StoreError::Schema(m) => StoreError::Schema(database.scrub(&m)),
            StoreError::Corrupt(m) => StoreError::Corrupt(database.scrub(&m)),
            StoreError::Failed(m) => StoreError::Failed(database.scrub(&m)),
        }
    }

    fn describe(self, database: &impl Display) -> StoreError {
        match self {
            DbError::Query(QueryError::DatabaseError(_, info)) if missing_table(info.message()) => {
                StoreError::Schema(format!(
                    "{database}: {}; the migrations have not been run",
                    info.message()
                ))
            }
            DbError::Query(QueryError::DatabaseError(_, info))
                if info.message().contains("database is locked") =>
            {
                StoreError::Unavailable(format!("{database}: {}", info.message()))
            }
            DbError::Query(e) => StoreError::Failed(format!("{database}: {e}")),
            DbError::Pool(e) => StoreError::Unavailable(format!("{database}: {e}")),
            DbError::Migration(m) => StoreError::Schema(format!("{database}: {m}")),
            DbError::Corrupt(m) => StoreError::Corrupt(format!("{database}: {m}")),
            DbError::Rejected(m) | DbError::LockLost(m) => {
                StoreError::Failed(format!("{database}: {m}"))
            }
        }
    }
}

/// How SQLite (`no such table: x`), PostgreSQL (`relation "x" does not exist`) and MySQL
/// (`Table 'db.x' doesn't exist`) say that the schema is missing.
fn missing_table(message: &str) -> bool {
    message.starts_with("no such table")
        || (message.starts_with("relation ") && message.ends_with("does not exist"))
        || (message.starts_with("Table ") && message.ends_with("doesn't exist"))
}
