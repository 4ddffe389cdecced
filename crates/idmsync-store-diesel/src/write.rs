//! The write side: begin a run, apply a change set, end a run. Every function runs inside the
//! caller's transaction, so a failure anywhere rolls all of it back.
//!
//! Bulk writes are set-based on every backend, through the loader of `load.rs`. Edges and log
//! lines are loaded into their tables; user and group rows and the sources' documents go into a
//! temporary staging table first and are merged with one `INSERT … SELECT` and the backend's
//! upsert clause ([`Stage`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::dsl::max;
use diesel::prelude::*;
use idmsync_domain::change::{Edge, GroupWrite, Key, UserWrite};
use idmsync_domain::{ChangeSet, Counts, Document, LogLine, Outcome, RunId, RunResult, Tenant};
use idmsync_ports::{DynProgress, NewRun};

use crate::batch::{in_batches, rows_per_statement};
use crate::bulk::{EdgeKeys, MEMBERSHIPS, NESTING};
use crate::conn::{on_backend, Conn};
use crate::error::DbError;
use crate::load::{load, upsert_few, Fields};
use crate::read::tenant_id;
use crate::rows::{NewDocument, NewGroup, NewLine, NewUser};
use crate::schema::{
    idm_group_nesting, idm_groups, idm_sync_log_lines, idm_sync_runs, idm_tenants,
    idm_user_memberships, idm_users,
};
use crate::url::Backend;

/// Records `run` as `running`. The tenant's runs still `running` belonged to a process that
/// died: they become `interrupted` and keep `finished_at` empty, since nobody saw them end.
pub(crate) fn begin_run(conn: &mut Conn, run: &NewRun) -> Result<RunId, DbError> {
    use idm_sync_runs::dsl as r;
    let tenant = ensure_tenant(conn, &run.tenant)?;
    let update = diesel::update(
        r::idm_sync_runs
            .filter(r::tenant_id.eq(tenant))
            .filter(r::outcome.eq(Outcome::Running.as_str())),
    )
    .set(r::outcome.eq(Outcome::Interrupted.as_str()));
    let interrupted = on_backend!(&mut *conn, c => update.execute(c))?;
    if interrupted > 0 {
        tracing::warn!(tenant = %run.tenant, interrupted, "runs cut off by a dead process");
    }
    insert_run(conn, tenant, run)
}

/// Records a run that another runner's lock kept from doing anything: inserted and ended with
/// `result` at once, leaving the tenant's other runs (one of them live) alone.
pub(crate) fn record_skipped(
    conn: &mut Conn,
    run: &NewRun,
    result: &RunResult,
) -> Result<RunId, DbError> {
    let tenant = ensure_tenant(conn, &run.tenant)?;
    let id = insert_run(conn, tenant, run)?;
    end_run(conn, id, result, std::iter::empty())?;
    Ok(id)
}

/// Inserts `run` as `running` with zero counts and returns its id.
fn insert_run(conn: &mut Conn, tenant: i64, run: &NewRun) -> Result<RunId, DbError> {
    use idm_sync_runs::dsl as r;
    let insert = diesel::insert_into(r::idm_sync_runs).values((
        r::tenant_id.eq(tenant),
        r::mode.eq(run.mode.as_str()),
        r::run_trigger.eq(run.trigger.as_str()),
        r::source.eq(&run.source),
        r::started_at.eq(run.started_at.naive_utc()),
        r::outcome.eq(Outcome::Running.as_str()),
        r::counts.eq(counts_json(&Counts::default())?),
    ));
    on_backend!(&mut *conn, c => insert.execute(c))?;
    let id = conn.last_insert_id()?;
    Ok(RunId(id))
}

/// Writes `changes` for `tenant`, then ends `run` with `result` and the change set's log lines.
pub(crate) fn apply(
    conn: &mut Conn,
    run: RunId,
    tenant: &Tenant,
    changes: &ChangeSet,
    result: &RunResult,
    progress: &DynProgress,
) -> Result<(), DbError> {
    let tenant = ensure_tenant(conn, tenant)?;
    let at = result.finished_at.naive_utc();
    // Each row counts as the loader takes it, so the counter moves batch by batch.
    let users = changes.users.iter().inspect(|_| progress.advance(1));
    upsert_users(conn, tenant, users, at)?;
    let groups = changes.groups.iter().inspect(|_| progress.advance(1));
    upsert_groups(conn, tenant, groups, at)?;
    let documents = changes.documents.iter().inspect(|_| progress.advance(1));
    upsert_documents(conn, tenant, documents, at)?;
    write_edges(conn, tenant, changes, progress)?;
    let lines = changes.log_lines().inspect(|_| progress.advance(1));
    end_run(conn, run, result, lines)
}

/// Sets the run's outcome, reason, counts, watermark and end, and appends `lines` after any it
/// already has (numbered from 1).
///
/// # Errors
/// `Rejected` when there is no such run.
pub(crate) fn end_run(
    conn: &mut Conn,
    run: RunId,
    result: &RunResult,
    lines: impl Iterator<Item = LogLine>,
) -> Result<(), DbError> {
    use idm_sync_log_lines::dsl as l;
    use idm_sync_runs::dsl as r;
    let update = diesel::update(r::idm_sync_runs.find(run.0)).set((
        r::outcome.eq(result.outcome.as_str()),
        r::reason.eq(result.reason.as_deref()),
        r::counts.eq(counts_json(&result.counts)?),
        r::watermark.eq(result.watermark.as_ref().map(|w| w.0.as_str())),
        r::finished_at.eq(result.finished_at.naive_utc()),
    ));
    let updated = on_backend!(&mut *conn, c => update.execute(c))?;
    if updated == 0 {
        return Err(DbError::Rejected(format!("run {run} does not exist")));
    }
    let query = l::idm_sync_log_lines
        .filter(l::run_id.eq(run.0))
        .select(max(l::seq));
    let last: Option<i64> = on_backend!(&mut *conn, c => query.first(c))?;
    let rows = lines
        .zip(last.unwrap_or(0) + 1..)
        .map(|(line, seq)| NewLine::new(run, seq, line));
    load(conn, "idm_sync_log_lines", NewLine::COLUMNS, rows)?;
    Ok(())
}

/// The tenant's id, creating the tenant on first use.
fn ensure_tenant(conn: &mut Conn, tenant: &Tenant) -> QueryResult<i64> {
    if let Some(id) = tenant_id(conn, tenant)? {
        return Ok(id);
    }
    let insert =
        diesel::insert_into(idm_tenants::table).values(idm_tenants::name.eq(tenant.as_str()));
    on_backend!(&mut *conn, c => insert.execute(c))?;
    tenant_id(conn, tenant)?.ok_or(diesel::result::Error::NotFound)
}

fn counts_json(counts: &Counts) -> Result<String, DbError> {
    serde_json::to_string(counts)
        .map_err(|e| DbError::Rejected(format!("cannot encode the run's counts: {e}")))
}

/// Upserts `rows` into `table`, keyed by the columns of `key` (a unique key of the table), in
/// three set-based steps:
/// the rows go into `stage`, a temporary table with the written `columns` ([`load`]: the
/// backend's bulk path); one `INSERT … SELECT` with the backend's upsert clause merges them;
/// the stage is dropped. Staging keeps the upsert one statement on every backend, whatever the
/// bind limit.
///
/// Up to [`FEW_ROWS`] rows skip the stage: one `INSERT` with the upsert clause
/// ([`upsert_few`]), as a pushed source's small batches write.
fn upsert_rows<R: Fields>(
    conn: &mut Conn,
    (table, key): (&'static str, &'static [&'static str]),
    stage: &'static str,
    columns: &'static [&'static str],
    mut rows: impl Iterator<Item = R>,
) -> Result<(), DbError> {
    let stage = Stage::new(conn.backend(), (table, key), stage, columns);
    let first: Vec<R> = rows.by_ref().take(FEW_ROWS + 1).collect();
    if first.len() <= FEW_ROWS {
        upsert_few(conn, table, columns, &first, &stage.upsert_clause())?;
        return Ok(());
    }
    conn.batch_execute(&stage.create())?;
    load(conn, stage.stage, columns, first.into_iter().chain(rows))?;
    conn.batch_execute(&stage.merge())?;
    conn.batch_execute(&stage.drop())?;
    Ok(())
}

/// The most rows written without a staging table: within one multi-row statement's binds on
/// SQLite and MariaDB (16 columns × 256 rows = 4,096 binds).
const FEW_ROWS: usize = 256;

/// The statements of an upsert through a staging table; the only SQL of the write path that
/// is spelled per backend.
struct Stage {
    backend: Backend,
    table: &'static str,
    key: &'static [&'static str],
    stage: &'static str,
    written: &'static [&'static str],
    columns: String,
}

/// The key user and group rows are upserted on.
const SOURCE_KEY: &[&str] = &["tenant_id", "source_id"];

impl Stage {
    fn new(
        backend: Backend,
        (table, key): (&'static str, &'static [&'static str]),
        stage: &'static str,
        written: &'static [&'static str],
    ) -> Self {
        Self {
            backend,
            table,
            key,
            stage,
            written,
            columns: written.join(", "),
        }
    }

    /// An empty temporary table with the written columns of the target. PostgreSQL drops it
    /// at the end of the transaction, SQLite on rollback; a MySQL session keeps temporary tables
    /// past a rollback, so an old one is dropped first.
    fn create(&self) -> String {
        let Self {
            table,
            stage,
            columns,
            ..
        } = self;
        match self.backend {
            Backend::Postgres => format!(
                "CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS \
                 SELECT {columns} FROM {table} WITH NO DATA"
            ),
            Backend::Sqlite => format!(
                "DROP TABLE IF EXISTS temp.{stage}; \
                 CREATE TEMPORARY TABLE {stage} AS SELECT {columns} FROM {table} WHERE 0"
            ),
            Backend::Mysql => format!(
                "DROP TEMPORARY TABLE IF EXISTS {stage}; \
                 CREATE TEMPORARY TABLE {stage} AS SELECT {columns} FROM {table} LIMIT 0"
            ),
        }
    }

    /// Inserts the staged rows, updating every written column but the key and `created_at`
    /// (an existing row keeps when it was created) where the key exists:
    /// `ON CONFLICT … DO UPDATE` on SQLite and PostgreSQL, `ON DUPLICATE KEY UPDATE` on MySQL
    /// (each table's only unique key besides its id is that one). `WHERE 1 = 1` is SQLite's
    /// way to tell an upsert's `ON` from a join's.
    fn merge(&self) -> String {
        let Self {
            table,
            stage,
            columns,
            ..
        } = self;
        format!(
            "INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage} WHERE 1 = 1{}",
            self.upsert_clause()
        )
    }

    /// The backend's upsert clause for this table's key: what follows an `INSERT`.
    fn upsert_clause(&self) -> String {
        let (head, value): (String, fn(&str) -> String) = match self.backend {
            Backend::Mysql => (" ON DUPLICATE KEY UPDATE ".to_owned(), |c| {
                format!("{c} = VALUES({c})")
            }),
            Backend::Sqlite | Backend::Postgres => (
                format!(" ON CONFLICT ({}) DO UPDATE SET ", self.key.join(", ")),
                |c| format!("{c} = excluded.{c}"),
            ),
        };
        let sets: Vec<String> = self
            .written
            .iter()
            .filter(|c| !self.key.contains(*c) && **c != "created_at")
            .map(|c| value(c))
            .collect();
        format!("{head}{}", sets.join(", "))
    }

    /// Drops the stage at once, so that a session never keeps a million staged rows.
    fn drop(&self) -> String {
        let stage = self.stage;
        match self.backend {
            Backend::Postgres => format!("DROP TABLE {stage}"),
            Backend::Sqlite => format!("DROP TABLE temp.{stage}"),
            Backend::Mysql => format!("DROP TEMPORARY TABLE {stage}"),
        }
    }
}

fn upsert_users<'a>(
    conn: &mut Conn,
    tenant: i64,
    writes: impl Iterator<Item = &'a UserWrite>,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    let rows = writes.map(|w| NewUser::new(tenant, &w.row, at));
    upsert_rows(
        conn,
        ("idm_users", SOURCE_KEY),
        "idm_stage_users",
        NewUser::COLUMNS,
        rows,
    )
}

fn upsert_groups<'a>(
    conn: &mut Conn,
    tenant: i64,
    writes: impl Iterator<Item = &'a GroupWrite>,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    let rows = writes.map(|w| NewGroup::new(tenant, &w.row, at));
    upsert_rows(
        conn,
        ("idm_groups", SOURCE_KEY),
        "idm_stage_groups",
        NewGroup::COLUMNS,
        rows,
    )
}

/// Upserts the last document of each key among `documents`: a later one replaces an earlier,
/// and one statement may not write a key twice (PostgreSQL refuses an `ON CONFLICT` that
/// touches a row twice, a stage's duplicate would be a warning on MySQL).
fn upsert_documents<'a>(
    conn: &mut Conn,
    tenant: i64,
    documents: impl DoubleEndedIterator<Item = &'a Document>,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    let mut seen = HashSet::new();
    let last: Vec<&Document> = documents
        .rev()
        .filter(|d| seen.insert((d.group, d.source_id.as_str())))
        .collect();
    // Only a pushed source sends documents: other runs skip the stage's statements.
    if last.is_empty() {
        return Ok(());
    }
    let rows = last.into_iter().map(|d| NewDocument::new(tenant, d, at));
    upsert_rows(
        conn,
        ("idm_source_documents", NewDocument::KEY),
        "idm_stage_documents",
        NewDocument::COLUMNS,
        rows,
    )
}

/// Row ids by source id, borrowed from the change set: a first sync maps a million of them.
type Ids<'a> = HashMap<&'a str, i64>;

/// Removes and adds the change set's edges, after the rows they name were written. Source ids
/// are mapped to row ids with batched `IN` lists (one query per table for all but huge sets),
/// removals are one `DELETE … IN` per group, additions one bulk load per table.
fn write_edges(
    conn: &mut Conn,
    tenant: i64,
    changes: &ChangeSet,
    progress: &DynProgress,
) -> Result<(), DbError> {
    use idm_group_nesting::dsl as n;
    use idm_user_memberships::dsl as m;
    let memberships = || {
        changes
            .memberships_added
            .iter()
            .chain(&changes.memberships_removed)
    };
    let nesting = changes.nesting_added.iter().chain(&changes.nesting_removed);
    let max_binds = conn.backend().max_binds();
    let users = lookup(max_binds, memberships().map(|e| &e.member), |batch| {
        let query = idm_users::table
            .filter(idm_users::tenant_id.eq(tenant))
            .filter(idm_users::source_id.eq_any(batch))
            .select((idm_users::source_id, idm_users::id));
        on_backend!(&mut *conn, c => query.load(c))
    })?;
    let group_keys = memberships()
        .map(|e| &e.group)
        .chain(nesting.flat_map(|e| [&e.group, &e.member]));
    let groups = lookup(max_binds, group_keys, |batch| {
        let query = idm_groups::table
            .filter(idm_groups::tenant_id.eq(tenant))
            .filter(idm_groups::source_id.eq_any(batch))
            .select((idm_groups::source_id, idm_groups::id));
        on_backend!(&mut *conn, c => query.load(c))
    })?;

    let removed = edge_ids(&changes.memberships_removed, &groups, &users, "user")?;
    delete_edges(max_binds, removed, |group, members| {
        progress.advance(members.len() as u64);
        let delete = diesel::delete(
            m::idm_user_memberships
                .filter(m::group_id.eq(group))
                .filter(m::user_id.eq_any(members)),
        );
        on_backend!(&mut *conn, c => delete.execute(c))
    })?;
    let removed = edge_ids(&changes.nesting_removed, &groups, &groups, "group")?;
    delete_edges(max_binds, removed, |parent, children| {
        progress.advance(children.len() as u64);
        let delete = diesel::delete(
            n::idm_group_nesting
                .filter(n::parent_id.eq(parent))
                .filter(n::child_id.eq_any(children)),
        );
        on_backend!(&mut *conn, c => delete.execute(c))
    })?;

    let added = edge_ids(&changes.memberships_added, &groups, &users, "user")?;
    insert_edges(
        conn,
        &MEMBERSHIPS,
        changes.memberships_added.len(),
        added,
        progress,
    )?;
    let added = edge_ids(&changes.nesting_added, &groups, &groups, "group")?;
    insert_edges(conn, &NESTING, changes.nesting_added.len(), added, progress)?;
    Ok(())
}

/// Adds the `count` `edges` to the table of `keys`, with the table's keys dropped and re-added
/// around the load when that is a bulk load ([`EdgeKeys::suspend_for`]).
fn insert_edges(
    conn: &mut Conn,
    keys: &EdgeKeys,
    count: usize,
    edges: impl Iterator<Item = (i64, i64)>,
    progress: &DynProgress,
) -> QueryResult<()> {
    let suspended = keys.suspend_for(conn, count)?;
    let rows = edges.inspect(|_| progress.advance(1));
    if let Err(error) = load(conn, keys.table, &keys.columns, rows) {
        keys.abandon(conn, suspended);
        return Err(error);
    }
    keys.restore(conn, suspended)
}

/// The row ids of the distinct source ids among `keys`, queried in batches by `query`.
fn lookup<'a>(
    max_binds: usize,
    keys: impl Iterator<Item = &'a Key>,
    mut query: impl FnMut(Vec<&'a str>) -> QueryResult<Vec<(String, i64)>>,
) -> QueryResult<Ids<'a>> {
    let wanted: HashSet<&str> = keys.map(|k| k.source_id.as_str()).collect();
    let mut ids = Ids::with_capacity(wanted.len());
    in_batches(
        wanted.iter().copied(),
        rows_per_statement(max_binds, 1),
        |batch| {
            // Each answer is one of the ids asked for, whose string the change set already holds.
            let found = query(batch)?;
            ids.extend(
                found
                    .into_iter()
                    .filter_map(|(sid, id)| Some((*wanted.get(sid.as_str())?, id))),
            );
            Ok::<_, diesel::result::Error>(())
        },
    )?;
    Ok(ids)
}

/// `(group id, member id)` of each edge, produced as the load consumes them rather than held
/// (a first sync adds ten million), once every edge is known to name stored or written rows.
///
/// # Errors
/// `Rejected` for an edge naming a source id that is neither stored nor written: applying it
/// would silently drop a membership, so the whole transaction is rolled back instead.
fn edge_ids<'e>(
    edges: &'e [Edge],
    groups: &'e Ids<'_>,
    members: &'e Ids<'_>,
    member_kind: &str,
) -> Result<impl Iterator<Item = (i64, i64)> + 'e, DbError> {
    let unknown = |ids: &Ids<'_>, key: &Key| !ids.contains_key(key.source_id.as_str());
    for e in edges {
        for (ids, key, kind) in [
            (groups, &e.group, "group"),
            (members, &e.member, member_kind),
        ] {
            if unknown(ids, key) {
                return Err(DbError::Rejected(format!(
                    "the edge from group {} to {member_kind} {} names the {kind} with source \
                     id `{}`, which is neither stored nor written",
                    e.group.external_id, e.member.external_id, key.source_id
                )));
            }
        }
    }
    Ok(edges.iter().filter_map(|e| {
        let id = |ids: &Ids<'_>, key: &Key| ids.get(key.source_id.as_str()).copied();
        Some((id(groups, &e.group)?, id(members, &e.member)?))
    }))
}

/// Deletes `(group, member)` edges with one statement per group (and batch of members).
fn delete_edges(
    max_binds: usize,
    edges: impl Iterator<Item = (i64, i64)>,
    mut delete: impl FnMut(i64, Vec<i64>) -> QueryResult<usize>,
) -> QueryResult<()> {
    let mut by_group: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (group, member) in edges {
        by_group.entry(group).or_default().push(member);
    }
    for (group, members) in by_group {
        in_batches(members, rows_per_statement(max_binds, 1), |batch| {
            delete(group, batch).map(drop)
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use chrono::{TimeZone, Utc};
    use diesel::connection::InstrumentationEvent;
    use diesel_migrations::MigrationHarness;
    use idmsync_domain::change::Event;
    use idmsync_domain::{
        ExternalId, SourceId, StoredGroup, StoredUser, SyncMode, Trigger, UserStatus,
    };

    use super::*;
    use diesel::SqliteConnection;

    use crate::store::SQLITE_MIGRATIONS;

    fn key(id: String) -> Key {
        Key::new(
            SourceId::new(&id).expect("source id"),
            ExternalId::new(&id).expect("external id"),
        )
    }

    fn stored_user(k: &Key) -> StoredUser {
        StoredUser {
            source_id: k.source_id.clone(),
            external_id: k.external_id.clone(),
            locator: None,
            first_name: String::new(),
            last_name: String::new(),
            email: None,
            status: UserStatus::Active,
            deactivated_by: None,
            admin: false,
            password_hash: None,
        }
    }

    /// The statements the connection runs from now on.
    fn record(conn: &mut Conn) -> Arc<Mutex<Vec<String>>> {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        let Conn::Sqlite(sqlite) = conn else {
            panic!("the statement tests run on SQLite");
        };
        sqlite.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::StartQuery { query, .. } = event {
                sink.lock().expect("log").push(query.to_string());
            }
        });
        log
    }

    fn run(conn: &mut Conn, changes: &ChangeSet) -> Vec<String> {
        let log = record(conn);
        let tenant = Tenant::new("acme").expect("tenant");
        let at = Utc
            .with_ymd_and_hms(2025, 11, 26, 8, 0, 0)
            .single()
            .expect("time");
        let result = RunResult {
            outcome: Outcome::Succeeded,
            reason: None,
            counts: changes.counts(),
            watermark: None,
            finished_at: at,
        };
        let new_run = NewRun {
            tenant: tenant.clone(),
            mode: SyncMode::Full,
            trigger: Trigger::Manual,
            source: "test".into(),
            started_at: at,
        };
        conn.write_transaction(|conn| {
            let id = begin_run(conn, &new_run)?;
            apply(
                conn,
                id,
                &tenant,
                changes,
                &result,
                &idmsync_ports::NoProgress,
            )
        })
        .expect("apply");
        let statements = log.lock().expect("log").clone();
        statements
    }

    fn count(statements: &[String], prefix: &str) -> usize {
        statements.iter().filter(|s| s.starts_with(prefix)).count()
    }

    #[test]
    fn bulk_writes_are_multi_row_statements() {
        let mut sqlite = SqliteConnection::establish(":memory:").expect("in-memory database");
        sqlite
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .expect("migrate");
        let mut conn = Conn::Sqlite(sqlite);
        let users: Vec<Key> = (0..3_000).map(|i| key(format!("u{i}"))).collect();
        let group = key("g".into());
        let changes = ChangeSet {
            users: users
                .iter()
                .map(|k| UserWrite {
                    event: Event::Created,
                    row: stored_user(k),
                })
                .collect(),
            groups: vec![GroupWrite {
                event: Event::Created,
                row: StoredGroup {
                    source_id: group.source_id.clone(),
                    external_id: group.external_id.clone(),
                    locator: None,
                    name: "g".into(),
                    status: UserStatus::Active,
                },
            }],
            memberships_added: users.iter().map(|u| edge(&group, u)).collect(),
            ..ChangeSet::default()
        };
        let statements = run(&mut conn, &changes);
        // 3,000 users at 14 binds need two statements into the stage, merged by one; 3,000
        // edges at 2 binds need one.
        assert_eq!(
            count(&statements, "INSERT INTO idm_stage_users "),
            2,
            "{statements:?}"
        );
        assert_eq!(count(&statements, "INSERT INTO idm_users "), 1);
        // One group is a few rows: one upsert, no stage.
        assert_eq!(count(&statements, "INSERT INTO idm_stage_groups "), 0);
        assert_eq!(
            count(&statements, "CREATE TEMPORARY TABLE idm_stage_groups"),
            0
        );
        assert_eq!(count(&statements, "INSERT INTO idm_groups "), 1);
        assert_eq!(count(&statements, "INSERT INTO idm_user_memberships "), 1);
        assert_eq!(count(&statements, "INSERT INTO idm_sync_log_lines "), 1);
        assert_eq!(count(&statements, "SELECT `idm_users`.`source_id`"), 1);

        let removal = ChangeSet {
            memberships_removed: changes.memberships_added.clone(),
            ..ChangeSet::default()
        };
        let statements = run(&mut conn, &removal);
        assert_eq!(count(&statements, "DELETE FROM `idm_user_memberships`"), 1);
    }

    fn edge(group: &Key, member: &Key) -> Edge {
        Edge {
            group: group.clone(),
            member: member.clone(),
        }
    }
}
