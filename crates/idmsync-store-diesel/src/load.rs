//! Bulk loads: every multi-row write of the store (staged users and groups, edges, log lines)
//! goes through [`load`], which picks each backend's fastest way to take many rows at once:
//!
//! - **PostgreSQL**: `INSERT … SELECT * FROM unnest($1::int8[], $2::text[], …)`, one array
//!   parameter per column. diesel-async offers no `COPY` (its tokio-postgres client is
//!   private); arrays are the nearest thing: one statement per 50,000 rows, binary parameters,
//!   no bind limit.
//! - **MySQL/MariaDB**: `LOAD DATA LOCAL INFILE` with the rows as tab-separated text the client
//!   holds in memory and hands over when the server asks for the "file" ([`Infiles`]); no file
//!   is written or read. One statement carries up to [`BYTES_PER_LOAD`] of text: MariaDB fills
//!   an empty table by sorting only within the first statement that writes to it, so a first
//!   sync's million memberships go in one load (1.9 s, against 3.4 s in four). A server that
//!   refuses local loads (`local_infile` off, MySQL 8's default) gets multi-row `INSERT`s.
//! - **SQLite**: multi-row `INSERT`s at its bind limit: it is in-process, so a bind costs a
//!   function call.
//!
//! The rows are described once, as [`Value`]s ([`Fields`]), whatever the backend.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::BoxedSqlQuery;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamp};
use futures_util::future::BoxFuture;
use mysql_async::prelude::GlobalHandler;
use mysql_async::{InfileData, LocalInfileError};

use crate::batch::{in_batches, rows_per_statement};
use crate::conn::Conn;
use crate::mysql::MysqlConn;
use crate::pg::PgConn;
use crate::url::Backend;

/// One column value of a row to load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'a> {
    /// A `BIGINT`.
    Int(i64),
    /// A text column; `None` is NULL.
    Text(Option<&'a str>),
    /// A boolean.
    Bool(bool),
    /// A UTC timestamp.
    Time(NaiveDateTime),
}

/// A row that [`load`] can write: its values, in the order of the columns it is loaded into.
pub(crate) trait Fields {
    /// Appends this row's values to `out`.
    fn fields<'a>(&'a self, out: &mut Vec<Value<'a>>);
}

impl Fields for (i64, i64) {
    fn fields<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([Value::Int(self.0), Value::Int(self.1)]);
    }
}

/// Rows [`load`] encodes at once: the arrays of one PostgreSQL statement, or one chunk of a
/// `LOAD DATA`.
const ROWS_PER_LOAD: usize = 50_000;

/// `LOAD DATA` text one statement carries at most, in whole chunks of [`ROWS_PER_LOAD`] rows:
/// what the loader holds in memory at once on MySQL.
const BYTES_PER_LOAD: usize = 32 << 20;

/// Inserts `rows` into `columns` of `table`, in the backend's bulk way (see the module
/// documentation), inside the caller's transaction.
///
/// # Errors
/// The database's refusal (a key or a constraint violated, a value too long), or, on MySQL,
/// any warning the load raised.
pub(crate) fn load<R: Fields>(
    conn: &mut Conn,
    table: &str,
    columns: &[&str],
    rows: impl IntoIterator<Item = R>,
) -> QueryResult<()> {
    if let Conn::Mysql(c) = conn {
        if accepts_local_loads(c)? {
            return load_data(c, table, columns, rows);
        }
    }
    let backend = conn.backend();
    let per_statement = match backend {
        Backend::Sqlite | Backend::Mysql => rows_per_statement(backend.max_binds(), columns.len()),
        Backend::Postgres => ROWS_PER_LOAD,
    };
    in_batches(rows, per_statement, |batch| {
        let values = values(&batch, columns.len());
        match conn {
            Conn::Pg(c) => unnest(c, table, columns, &values, ""),
            Conn::Mysql(c) => multi_row!(c, table, columns, values, ""),
            Conn::Sqlite(c) => multi_row!(c, table, columns, values, ""),
        }
    })
}

/// The values of `rows`, row after row.
fn values<R: Fields>(rows: &[R], width: usize) -> Vec<Value<'_>> {
    let mut values = Vec::with_capacity(rows.len() * width);
    for row in rows {
        row.fields(&mut values);
        debug_assert_eq!(values.len() % width, 0, "a row of the wrong width");
    }
    values
}

/// `INSERT INTO table (columns) VALUES (?, …), (?, …)` with every value bound: SQLite's way,
/// and MySQL's when it refuses local loads. A macro, since each connection type needs its own
/// boxed query.
macro_rules! multi_row {
    ($c:expr, $table:expr, $columns:expr, $values:expr, $tail:expr) => {{
        let width = $columns.len();
        let row = format!("({})", vec!["?"; width].join(", "));
        let rows = vec![row; $values.len() / width.max(1)].join(", ");
        let mut query = diesel::sql_query(format!(
            "INSERT INTO {} ({}) VALUES {rows}{}",
            $table,
            $columns.join(", "),
            $tail
        ))
        .into_boxed();
        for value in &$values {
            query = match *value {
                Value::Int(v) => query.bind::<BigInt, _>(v),
                Value::Text(v) => query.bind::<Nullable<Text>, _>(v),
                Value::Bool(v) => query.bind::<Bool, _>(v),
                Value::Time(v) => query.bind::<Timestamp, _>(v),
            };
        }
        query.execute($c).map(drop)
    }};
}
use multi_row;

/// Writes `rows` (few: one statement's worth) with `tail` after the insert, the backend's
/// upsert clause: no staging table, whose creation cost more than a small batch's rows
/// (issue 18's SCIM bench: about 5 ms per batch on PostgreSQL). Multi-row `INSERT`s on every
/// backend but PostgreSQL, whose arrays need no binds per row.
///
/// # Errors
/// The database's refusal.
pub(crate) fn upsert_few<R: Fields>(
    conn: &mut Conn,
    table: &str,
    columns: &[&str],
    rows: &[R],
    tail: &str,
) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let values = values(rows, columns.len());
    match conn {
        Conn::Pg(c) => unnest(c, table, columns, &values, tail),
        Conn::Mysql(c) => multi_row!(c, table, columns, values, tail),
        Conn::Sqlite(c) => multi_row!(c, table, columns, values, tail),
    }
}

/// PostgreSQL: one `INSERT … SELECT * FROM unnest(…)` with a typed array per column, then
/// `tail` (an upsert clause, or nothing).
fn unnest(
    c: &mut PgConn,
    table: &str,
    columns: &[&str],
    values: &[Value<'_>],
    tail: &str,
) -> QueryResult<()> {
    let width = columns.len();
    let mut casts = Vec::with_capacity(width);
    let mut query: BoxedSqlQuery<'_, Pg, _> = diesel::sql_query("").into_boxed();
    for (i, first) in values.iter().take(width).enumerate() {
        let values = values.iter().skip(i).step_by(width);
        let (cast, bound) = match first {
            Value::Int(_) => {
                let ints = column(values, |v| match v {
                    Value::Int(v) => Some(*v),
                    _ => None,
                });
                ("int8", query.bind::<Array<BigInt>, _>(ints))
            }
            Value::Text(_) => {
                let texts = column(values, |v| match v {
                    Value::Text(v) => Some(*v),
                    _ => None,
                });
                ("text", query.bind::<Array<Nullable<Text>>, _>(texts))
            }
            Value::Bool(_) => {
                let bools = column(values, |v| match v {
                    Value::Bool(v) => Some(*v),
                    _ => None,
                });
                ("bool", query.bind::<Array<Bool>, _>(bools))
            }
            Value::Time(_) => {
                let times = column(values, |v| match v {
                    Value::Time(v) => Some(*v),
                    _ => None,
                });
                ("timestamp", query.bind::<Array<Timestamp>, _>(times))
            }
        };
        casts.push(format!("${}::{cast}[]", i + 1));
        query = bound;
    }
    if casts.is_empty() {
        return Ok(());
    }
    query
        .sql(format!(
            "INSERT INTO {table} ({}) SELECT * FROM unnest({}){tail}",
            columns.join(", "),
            casts.join(", ")
        ))
        .execute(c)
        .map(drop)
}

/// The values of one column, all of the kind `pick` accepts: the rows come from one [`Fields`]
/// impl, so a value of another kind is a bug.
fn column<'a, T>(
    values: impl Iterator<Item = &'a Value<'a>>,
    pick: impl Fn(&Value<'a>) -> Option<T>,
) -> Vec<T> {
    values
        .map(|value| pick(value).unwrap_or_else(|| unreachable!("a column holds {value:?}")))
        .collect()
}

/// MySQL: `LOAD DATA LOCAL INFILE` of the rows as text, [`BYTES_PER_LOAD`] at a time.
///
/// With `LOCAL`, MySQL turns what would be errors (a duplicate key, a value too long for its
/// column) into warnings and goes on; any warning therefore fails the load, and the caller's
/// transaction with it, so that nothing is silently truncated or skipped.
fn load_data<R: Fields>(
    c: &mut MysqlConn,
    table: &str,
    columns: &[&str],
    rows: impl IntoIterator<Item = R>,
) -> QueryResult<()> {
    let width = columns.len();
    let mut chunks = Vec::new();
    let mut bytes = 0;
    in_batches(rows, ROWS_PER_LOAD, |batch| {
        let chunk = tsv(&values(&batch, width), width);
        bytes += chunk.len();
        chunks.push(chunk);
        if bytes < BYTES_PER_LOAD {
            return Ok(());
        }
        bytes = 0;
        load_chunks(c, table, columns, std::mem::take(&mut chunks))
    })?;
    if chunks.is_empty() {
        return Ok(());
    }
    load_chunks(c, table, columns, chunks)
}

/// One `LOAD DATA LOCAL INFILE` of `chunks`, served by [`Infiles`] under a name of its own.
fn load_chunks(
    c: &mut MysqlConn,
    table: &str,
    columns: &[&str],
    chunks: Vec<Vec<u8>>,
) -> QueryResult<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "idmsync-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    pending().insert(name.clone(), chunks);
    let loaded = c.batch_execute(&format!(
        "LOAD DATA LOCAL INFILE '{name}' INTO TABLE {table} CHARACTER SET utf8mb4 \
         FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({})",
        columns.join(", ")
    ));
    // Gone already when the server read it; still there when the statement failed before.
    pending().remove(&name);
    loaded?;
    no_warnings(c, table)
}

/// Whether the server takes `LOAD DATA LOCAL` (`local_infile`: on by default in MariaDB, off in
/// MySQL 8). Asked before each load, since an administrator may turn it off at any time.
fn accepts_local_loads(c: &mut MysqlConn) -> QueryResult<bool> {
    diesel::select(sql::<Bool>("@@GLOBAL.local_infile <> 0")).get_result(c)
}

/// Fails when the statement just run raised a warning, naming the first.
fn no_warnings(c: &mut MysqlConn, table: &str) -> QueryResult<()> {
    let count: i64 =
        diesel::select(sql::<BigInt>("CAST(@@warning_count AS SIGNED)")).get_result(c)?;
    if count == 0 {
        return Ok(());
    }
    #[derive(QueryableByName)]
    struct Warning {
        #[diesel(sql_type = Text, column_name = "Message")]
        message: String,
    }
    let first = diesel::sql_query("SHOW WARNINGS LIMIT 1")
        .get_result::<Warning>(c)
        .map(|w| w.message)
        .unwrap_or_default();
    Err(diesel::result::Error::QueryBuilderError(
        format!("loading {table} raised {count} warning(s), the first: {first}").into(),
    ))
}

/// `values` as `LOAD DATA`'s text: fields separated by tabs, rows by newlines, `\` escaping a
/// tab, newline, carriage return, NUL or itself, `\N` for NULL.
fn tsv(values: &[Value<'_>], width: usize) -> Vec<u8> {
    let mut out = String::with_capacity(values.len() * 16);
    for row in values.chunks(width) {
        for (i, value) in row.iter().enumerate() {
            if i > 0 {
                out.push('\t');
            }
            // Writing into a String cannot fail.
            let _ = match value {
                Value::Int(v) => write!(out, "{v}"),
                Value::Bool(v) => write!(out, "{}", u8::from(*v)),
                Value::Time(v) => write!(out, "{}", v.format("%Y-%m-%d %H:%M:%S%.6f")),
                Value::Text(None) => write!(out, "\\N"),
                Value::Text(Some(text)) => {
                    for ch in text.chars() {
                        match ch {
                            '\t' => out.push_str("\\t"),
                            '\n' => out.push_str("\\n"),
                            '\r' => out.push_str("\\r"),
                            '\0' => out.push_str("\\0"),
                            '\\' => out.push_str("\\\\"),
                            other => out.push(other),
                        }
                    }
                    Ok(())
                }
            };
        }
        out.push('\n');
    }
    out.into_bytes()
}

/// The data of the `LOAD DATA LOCAL INFILE` statements under way, by the file name the
/// statement gives. Names are unique per process, so loads on several connections never meet.
struct Pending(Mutex<HashMap<String, Vec<Vec<u8>>>>);

impl Pending {
    fn insert(&self, name: String, data: Vec<Vec<u8>>) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name, data);
    }

    fn remove(&self, name: &str) -> Option<Vec<Vec<u8>>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name)
    }
}

fn pending() -> &'static Pending {
    static PENDING: OnceLock<Pending> = OnceLock::new();
    PENDING.get_or_init(|| Pending(Mutex::default()))
}

/// Answers the server's request for a local file with the bytes registered under its name,
/// and refuses any other name: a server may ask for any path, and no file of the client's is
/// ever read.
pub(crate) struct Infiles;

impl GlobalHandler for Infiles {
    fn handle(&self, file_name: &[u8]) -> BoxFuture<'static, Result<InfileData, LocalInfileError>> {
        let name = String::from_utf8_lossy(file_name).into_owned();
        let data = pending().remove(&name);
        Box::pin(async move {
            match data {
                Some(chunks) => {
                    let chunks = chunks.into_iter().map(|chunk| Ok(chunk.into()));
                    Ok(Box::pin(futures_util::stream::iter(chunks)) as InfileData)
                }
                None => Err(LocalInfileError::OtherError(
                    format!("the server asked for the local file {name}, which idmsync never sent")
                        .into(),
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::{tsv, Value};

    #[test]
    fn tsv_escapes_what_load_data_would_split_on_and_marks_nulls() {
        let at = NaiveDate::from_ymd_opt(2026, 11, 28)
            .and_then(|d| d.and_hms_micro_opt(8, 5, 3, 7))
            .expect("time");
        let values = [
            Value::Int(-7),
            Value::Text(Some("a\tb\nc\rd\0e\\f ü")),
            Value::Text(None),
            Value::Bool(true),
            Value::Time(at),
            Value::Int(2),
            Value::Text(Some("")),
            Value::Text(Some("N")),
            Value::Bool(false),
            Value::Time(at),
        ];
        assert_eq!(
            String::from_utf8(tsv(&values, 5)).expect("utf-8"),
            "-7\ta\\tb\\nc\\rd\\0e\\\\f ü\t\\N\t1\t2026-11-28 08:05:03.000007\n\
             2\t\tN\t0\t2026-11-28 08:05:03.000007\n"
        );
    }
}
