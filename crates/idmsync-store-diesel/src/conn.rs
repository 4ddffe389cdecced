//! The connection to any of the three backends, how the pool opens one, and the few places
//! where the backends differ below the query builder: session settings, the bind-parameter
//! limit, write transactions and the id of a freshly inserted row.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::r2d2::{ManageConnection, R2D2Connection};
use diesel::sql_types::{BigInt, Text};
use diesel::SqliteConnection;

use crate::error::DbError;
use crate::mysql::{self, MysqlConn};
use crate::pg::{self, PgConn};
use crate::url::{Backend, DatabaseUrl, Target};

/// A connection to SQLite, PostgreSQL or MySQL/MariaDB. Query code runs the same diesel
/// expression on whichever variant it holds through [`on_backend!`]; code that needs a
/// backend's own SQL matches on the variant.
///
/// Not diesel's `MultiConnection`: that derive needs each connection's metadata lookup to be
/// downcastable, which diesel-async's connections (behind `AsyncConnectionWrapper`) are not.
/// Dispatching per statement costs nothing at run time, and each statement is compiled for its
/// backend directly.
// A pool holds a handful of these, so the size of the largest variant does not matter, and
// boxing it would only add an indirection to every statement.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Conn {
    /// The embedded default.
    Sqlite(SqliteConnection),
    /// PostgreSQL, through tokio-postgres.
    Pg(PgConn),
    /// MySQL or MariaDB, through mysql_async.
    Mysql(MysqlConn),
}

/// Evaluates `$body` with `$c` bound to the connection inside `$conn` (a `&mut Conn`),
/// whatever its backend: the one way query code reaches a connection. The body is compiled
/// once per backend, so a query built inside it (boxed ones included) takes each backend's
/// SQL dialect.
macro_rules! on_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::conn::Conn::Sqlite($c) => $body,
            $crate::conn::Conn::Pg($c) => $body,
            $crate::conn::Conn::Mysql($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// Set on every new SQLite connection: WAL lets readers run beside the writer, the busy timeout
/// makes a second writer wait instead of failing at once, foreign keys are off by default in
/// SQLite, and `NORMAL` synchronisation is durable enough in WAL mode at a fraction of the cost.
/// The timeout comes first so that switching to WAL can wait for a lock too. The page cache is
/// 32 MiB instead of 2: a first sync inserts a million edges into two B-trees in random order,
/// and with the default cache most of those inserts re-read a page from the file. Temporary
/// tables (the apply's staging tables) stay in memory.
const SQLITE_SESSION: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -32768; \
     PRAGMA temp_store = MEMORY;";

/// How long opening a SQLite connection retries settings that another connection's are in the
/// way of (see [`Conn::start_session`]).
const SQLITE_SESSION_WAIT: Duration = Duration::from_secs(5);

/// Timestamps are bound as UTC without an offset; PostgreSQL converts them into `TIMESTAMPTZ`
/// columns with the session's zone, so the session must be UTC whatever the server's default.
const PG_SESSION: &str = "SET TIME ZONE 'UTC'";

/// UTC for the same reason; strict mode so that a value longer than its `VARCHAR` fails the
/// transaction instead of being truncated into a different identity.
const MYSQL_SESSION: &str = "SET time_zone = '+00:00', \
     sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ENGINE_SUBSTITUTION'";

impl Backend {
    /// Bind parameters one statement may carry: SQLite's `SQLITE_MAX_VARIABLE_NUMBER` (the
    /// bundled build's default), the 16-bit parameter count of the PostgreSQL and MySQL wire
    /// protocols.
    pub(crate) fn max_binds(self) -> usize {
        match self {
            Backend::Sqlite => 32_766,
            Backend::Postgres | Backend::Mysql => 65_535,
        }
    }
}

impl Conn {
    /// Which backend this connection talks to.
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Pg(_) => Backend::Postgres,
            Conn::Mysql(_) => Backend::Mysql,
        }
    }

    /// Opens one connection to `url` and applies the backend's session settings. The error
    /// names the redacted URL and carries the client library's own reason (connection refused,
    /// access denied, unknown database), which never contains the password.
    pub(crate) fn open(url: &DatabaseUrl) -> Result<Self, ConnectError> {
        // The driver's reason never holds the password (it is never in what the driver parses),
        // but the message is scrubbed all the same, since it goes into logs and errors.
        let fail =
            |e: &dyn fmt::Display| ConnectError(url.scrub(&format!("{url}: {}", one_line(e))));
        let (conn, session) = match url.target() {
            Target::Sqlite(path) => (
                SqliteConnection::establish(path)
                    .map(Conn::Sqlite)
                    .map_err(|e| e.to_string()),
                SQLITE_SESSION,
            ),
            Target::Server(server) => match server.backend() {
                Backend::Postgres => (pg::connect(server).map(Conn::Pg), PG_SESSION),
                _ => (mysql::connect(server).map(Conn::Mysql), MYSQL_SESSION),
            },
        };
        let mut conn = conn.map_err(|e| fail(&e))?;
        conn.start_session(session).map_err(|e| fail(&e))?;
        Ok(conn)
    }

    /// Applies the session settings. On SQLite, two processes opening a new file at once both
    /// switch it to WAL, and SQLite answers one of them "database is locked" at once, without
    /// waiting (each holds the shared lock the other needs gone): that one tries again.
    fn start_session(&mut self, session: &str) -> QueryResult<()> {
        let deadline = Instant::now() + SQLITE_SESSION_WAIT;
        loop {
            match self.batch_execute(session) {
                Err(diesel::result::Error::DatabaseError(_, info))
                    if self.backend() == Backend::Sqlite
                        && info.message().contains("database is locked")
                        && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                done => return done,
            }
        }
    }

    /// Runs `work` in a transaction, all or nothing. On SQLite it is `BEGIN IMMEDIATE`, which
    /// takes the write lock up front: a deferred transaction that reads first could not upgrade
    /// its lock once another writer committed, and would fail instead of waiting. PostgreSQL and
    /// MySQL lock rows as they go.
    pub(crate) fn write_transaction<T>(
        &mut self,
        work: impl FnOnce(&mut Conn) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        match &mut *self {
            Conn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
            other => on_backend!(other, c => begin(c))?,
        }
        self.finish(work)
    }

    /// Runs `work` in a transaction (reads see one snapshot).
    pub(crate) fn transaction<T>(
        &mut self,
        work: impl FnOnce(&mut Conn) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        on_backend!(&mut *self, c => begin(c))?;
        self.finish(work)
    }

    /// Runs `work` inside the transaction just begun, then commits, or rolls back on error.
    fn finish<T>(
        &mut self,
        work: impl FnOnce(&mut Conn) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        match work(self) {
            Ok(value) => {
                on_backend!(&mut *self, c => commit(c))?;
                Ok(value)
            }
            Err(error) => {
                // A lost connection cannot roll back, but the server does it for us; the work's
                // error says more than the rollback's.
                if let Err(rollback) = on_backend!(&mut *self, c => rollback(c)) {
                    tracing::debug!(%rollback, "rollback after a failed transaction failed too");
                }
                Err(error)
            }
        }
    }

    /// Runs `sql` (one or more statements without results).
    pub(crate) fn batch_execute(&mut self, sql: &str) -> QueryResult<()> {
        on_backend!(self, c => c.batch_execute(sql))
    }

    /// The id the last `INSERT` on this connection generated; each backend keeps it per session,
    /// so concurrent writers never see each other's. (`RETURNING` would do on SQLite and
    /// PostgreSQL, but MySQL has none.)
    pub(crate) fn last_insert_id(&mut self) -> QueryResult<i64> {
        let function = match self {
            Conn::Sqlite(_) => "last_insert_rowid()",
            Conn::Pg(_) => "lastval()",
            Conn::Mysql(_) => "CAST(LAST_INSERT_ID() AS SIGNED)",
        };
        on_backend!(self, c => diesel::select(sql::<BigInt>(function)).get_result(c))
    }

    /// The server's product and version (`PostgreSQL 15.8`, `MariaDB 10.11.6-MariaDB-0+deb12u1`,
    /// `SQLite 3.46.0`), for `idmsync config check`.
    pub(crate) fn server_version(&mut self) -> QueryResult<String> {
        let (product, function) = match self {
            Conn::Sqlite(_) => ("SQLite", "sqlite_version()"),
            Conn::Pg(_) => ("PostgreSQL", "current_setting('server_version')"),
            Conn::Mysql(_) => ("MySQL", "VERSION()"),
        };
        let version: String =
            on_backend!(self, c => diesel::select(sql::<Text>(function)).get_result(c))?;
        let product = if version.contains("MariaDB") {
            "MariaDB"
        } else {
            product
        };
        Ok(format!("{product} {version}"))
    }
}

/// Driver messages may span lines (PostgreSQL's hints and details); a log line or an
/// error message reads better as one.
fn one_line(message: &dyn fmt::Display) -> String {
    message
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a connection could not be opened, already naming the redacted URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ConnectError(pub(crate) String);

/// Opens pooled connections with [`Conn::open`]. diesel's own `ConnectionManager` would try each
/// backend in turn and drop the reasons, so a refused PostgreSQL connection would be reported as
/// an invalid URL.
///
/// It also does the pool's logging (the pool's own error handler is silenced, see
/// `store.rs`): r2d2 retries a failed connection in the background every few seconds for as
/// long as the database is down, and its default handler logs every attempt. Here a failure is
/// logged once per burst (the first failure after a success), naming the masked URL, and the
/// first success after a burst says so.
#[derive(Debug)]
pub(crate) struct Manager {
    url: DatabaseUrl,
    failing: AtomicBool,
}

impl Manager {
    pub(crate) fn new(url: DatabaseUrl) -> Self {
        Self {
            url,
            failing: AtomicBool::new(false),
        }
    }
}

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = ConnectError;

    fn connect(&self) -> Result<Conn, ConnectError> {
        match Conn::open(&self.url) {
            Ok(conn) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(database = %self.url, "connecting to the database works again");
                }
                Ok(conn)
            }
            Err(e) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "cannot connect to the database; retrying quietly until it answers");
                }
                Err(e)
            }
        }
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), ConnectError> {
        on_backend!(conn, c => c.ping())
            .map_err(|e| ConnectError(self.url.scrub(&format!("{}: {}", self.url, one_line(&e)))))
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        on_backend!(conn, c => c.is_broken())
    }
}

fn begin<C: diesel::Connection>(c: &mut C) -> QueryResult<()> {
    C::TransactionManager::begin_transaction(c)
}

fn commit<C: diesel::Connection>(c: &mut C) -> QueryResult<()> {
    C::TransactionManager::commit_transaction(c)
}

fn rollback<C: diesel::Connection>(c: &mut C) -> QueryResult<()> {
    C::TransactionManager::rollback_transaction(c)
}
