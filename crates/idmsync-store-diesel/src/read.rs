//! The read side: the planner's state, the directory views and the run log. A handful of
//! set-based queries per call, never one per row.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::connection::DefaultLoadingMode;
use diesel::prelude::*;
use idmsync_domain::{
    Document, LogLine, Outcome, RunId, RunRecord, SourceId, StoreState, SyncMode, Tenant,
    UserStatus,
};
use idmsync_ports::{
    GroupDetail, GroupView, HistoryLine, LoginField, LoginRecord, Page, Totals, UserDetail,
    UserFilter, UserView,
};

use crate::batch::{in_batches, rows_per_statement};
use crate::conn::{on_backend, Conn};
use crate::error::DbError;
use crate::rows::{log_line, DocumentRecord, GroupRecord, RunRow, UserRecord};
use crate::schema::{
    idm_group_nesting, idm_groups, idm_source_documents, idm_sync_log_lines, idm_sync_runs,
    idm_tenants, idm_user_memberships, idm_users, lower,
};

/// The tenant's id, or `None` for a tenant no run has used yet.
pub(crate) fn tenant_id(conn: &mut Conn, tenant: &Tenant) -> QueryResult<Option<i64>> {
    let query = idm_tenants::table
        .filter(idm_tenants::name.eq(tenant.as_str()))
        .select(idm_tenants::id);
    on_backend!(conn, c => query.first(c).optional())
}

/// Every document of the tenant, streamed; none for a tenant no run has used yet.
pub(crate) fn documents(conn: &mut Conn, tenant: &Tenant) -> Result<Vec<Document>, DbError> {
    let mut documents = Vec::new();
    let Some(tenant) = tenant_id(conn, tenant)? else {
        return Ok(documents);
    };
    on_backend!(&mut *conn, c => {
        let query = idm_source_documents::table
            .filter(idm_source_documents::tenant_id.eq(tenant))
            .select(DocumentRecord::as_select());
        for row in query.load_iter::<_, DefaultLoadingMode>(c)? {
            documents.push(row?.into_document()?);
        }
    });
    Ok(documents)
}

/// Which edges [`load_state`] reads.
#[derive(Clone, Copy)]
pub(crate) enum Edges<'a> {
    /// Every edge of the tenant (a full run).
    All,
    /// The edges whose group (or parent group) is one of `groups`, and every edge of the users
    /// and groups in `left` (a differential run: see `SyncStore::load_state_for`).
    Of {
        groups: &'a [SourceId],
        left: &'a [SourceId],
    },
}

/// Every user and group of the tenant and the `edges` asked for: four streaming queries (or,
/// for the edges of some groups, batched `IN` lists of their row ids), edges mapped from row ids
/// to indexes into the user and group vectors.
pub(crate) fn load_state(
    conn: &mut Conn,
    tenant: &Tenant,
    edges: Edges<'_>,
) -> Result<StoreState, DbError> {
    let mut state = StoreState::default();
    let Some(tenant) = tenant_id(conn, tenant)? else {
        return Ok(state);
    };
    let (wanted, left): (Option<HashSet<&str>>, HashSet<&str>) = match edges {
        Edges::All => (None, HashSet::new()),
        Edges::Of { groups, left } => (
            Some(groups.iter().map(SourceId::as_str).collect()),
            left.iter().map(SourceId::as_str).collect(),
        ),
    };
    let mut users = RowIds::default();
    let mut left_users = Vec::new();
    on_backend!(&mut *conn, c => {
        let query = idm_users::table
            .filter(idm_users::tenant_id.eq(tenant))
            .order(idm_users::id)
            .select(UserRecord::as_select());
        for row in query.load_iter::<_, DefaultLoadingMode>(c)? {
            let row = row?;
            if left.contains(row.source_id.as_str()) {
                left_users.push(row.id);
            }
            users.push(row.id)?;
            state.users.push(row.into_stored()?);
        }
    });
    let mut groups = RowIds::default();
    let mut scoped = Vec::new();
    let mut left_groups = Vec::new();
    on_backend!(&mut *conn, c => {
        let query = idm_groups::table
            .filter(idm_groups::tenant_id.eq(tenant))
            .order(idm_groups::id)
            .select(GroupRecord::as_select());
        for row in query.load_iter::<_, DefaultLoadingMode>(c)? {
            let row = row?;
            let gone = left.contains(row.source_id.as_str());
            if gone {
                left_groups.push(row.id);
            }
            if gone
                || wanted
                    .as_ref()
                    .is_some_and(|w| w.contains(row.source_id.as_str()))
            {
                scoped.push(row.id);
            }
            groups.push(row.id)?;
            state.groups.push(row.into_stored()?);
        }
    });
    let (memberships, nesting) = match wanted {
        None => (all_memberships(conn, tenant)?, all_nesting(conn, tenant)?),
        Some(_) => {
            let (mut memberships, mut nesting) = scoped_edges(conn, &scoped)?;
            let (of_users, of_groups) = edges_of_members(conn, &left_users, &left_groups)?;
            for (edges, more) in [(&mut memberships, of_users), (&mut nesting, of_groups)] {
                edges.extend(more);
                edges.sort_unstable();
                edges.dedup();
            }
            (memberships, nesting)
        }
    };
    for (group, user) in memberships {
        let edge = "idm_user_memberships";
        state
            .memberships
            .push((groups.position(group, edge)?, users.position(user, edge)?));
    }
    for (parent, child) in nesting {
        let edge = "idm_group_nesting";
        state.nesting.push((
            groups.position(parent, edge)?,
            groups.position(child, edge)?,
        ));
    }
    Ok(state)
}

/// Row-id pairs of edges, as read.
type EdgeRows = Vec<(i64, i64)>;

/// `(group, user)` of every membership of the tenant.
fn all_memberships(conn: &mut Conn, tenant: i64) -> QueryResult<EdgeRows> {
    let query = idm_user_memberships::table
        .inner_join(idm_groups::table)
        .filter(idm_groups::tenant_id.eq(tenant))
        .select((
            idm_user_memberships::group_id,
            idm_user_memberships::user_id,
        ));
    on_backend!(conn, c => query.load_iter::<(i64, i64), DefaultLoadingMode>(c)?.collect())
}

/// `(parent, child)` of every nesting of the tenant.
fn all_nesting(conn: &mut Conn, tenant: i64) -> QueryResult<EdgeRows> {
    let query = idm_group_nesting::table
        .inner_join(idm_groups::table.on(idm_groups::id.eq(idm_group_nesting::parent_id)))
        .filter(idm_groups::tenant_id.eq(tenant))
        .select((idm_group_nesting::parent_id, idm_group_nesting::child_id));
    on_backend!(conn, c => query.load_iter::<(i64, i64), DefaultLoadingMode>(c)?.collect())
}

/// The memberships and nestings of the groups with row ids `groups`, through their primary
/// keys (whose first column is the group), in batches under the bind limit.
fn scoped_edges(conn: &mut Conn, groups: &[i64]) -> QueryResult<(EdgeRows, EdgeRows)> {
    let size = rows_per_statement(conn.backend().max_binds(), 1);
    let (mut memberships, mut nesting) = (Vec::new(), Vec::new());
    in_batches(groups.iter().copied(), size, |batch| {
        let query = idm_user_memberships::table
            .filter(idm_user_memberships::group_id.eq_any(&batch))
            .select((
                idm_user_memberships::group_id,
                idm_user_memberships::user_id,
            ));
        memberships.extend(on_backend!(&mut *conn, c => query.load::<(i64, i64)>(c)?));
        let query = idm_group_nesting::table
            .filter(idm_group_nesting::parent_id.eq_any(&batch))
            .select((idm_group_nesting::parent_id, idm_group_nesting::child_id));
        nesting.extend(on_backend!(&mut *conn, c => query.load::<(i64, i64)>(c)?));
        Ok::<_, diesel::result::Error>(())
    })?;
    Ok((memberships, nesting))
}

/// The memberships of the users with row ids `users` and the nestings whose child is one of
/// `groups`: the edges of entries that left, whichever group holds them.
fn edges_of_members(
    conn: &mut Conn,
    users: &[i64],
    groups: &[i64],
) -> QueryResult<(EdgeRows, EdgeRows)> {
    let size = rows_per_statement(conn.backend().max_binds(), 1);
    let (mut memberships, mut nesting) = (Vec::new(), Vec::new());
    in_batches(users.iter().copied(), size, |batch| {
        let query = idm_user_memberships::table
            .filter(idm_user_memberships::user_id.eq_any(&batch))
            .select((
                idm_user_memberships::group_id,
                idm_user_memberships::user_id,
            ));
        memberships.extend(on_backend!(&mut *conn, c => query.load::<(i64, i64)>(c)?));
        Ok::<_, diesel::result::Error>(())
    })?;
    in_batches(groups.iter().copied(), size, |batch| {
        let query = idm_group_nesting::table
            .filter(idm_group_nesting::child_id.eq_any(&batch))
            .select((idm_group_nesting::parent_id, idm_group_nesting::child_id));
        nesting.extend(on_backend!(&mut *conn, c => query.load::<(i64, i64)>(c)?));
        Ok::<_, diesel::result::Error>(())
    })?;
    Ok((memberships, nesting))
}

fn index(len: usize) -> Result<u32, DbError> {
    u32::try_from(len)
        .map_err(|_| DbError::Rejected("a tenant with more than 2^32 entries".to_string()))
}

/// The row ids of the tenant's loaded users or groups, in the order read (`ORDER BY id`), so
/// that a row's index in the state is found without hashing: ids are usually dense, so the
/// guess `id - first` hits; otherwise a binary search does. A million edges each look up two.
#[derive(Default)]
struct RowIds(Vec<i64>);

impl RowIds {
    /// Appends the next row's id, which must be greater than the last.
    fn push(&mut self, id: i64) -> Result<(), DbError> {
        index(self.0.len())?;
        if self.0.last().is_some_and(|&last| last >= id) {
            return Err(DbError::Corrupt(format!("row {id} read out of order")));
        }
        self.0.push(id);
        Ok(())
    }

    /// The index of row `id` among the tenant's loaded rows; an edge to a row of another
    /// tenant breaks the schema's promise.
    fn position(&self, id: i64, edge: &str) -> Result<u32, DbError> {
        let guess = self
            .0
            .first()
            .and_then(|&first| usize::try_from(id.checked_sub(first)?).ok())
            .filter(|&i| self.0.get(i) == Some(&id));
        guess
            .or_else(|| self.0.binary_search(&id).ok())
            .and_then(|i| u32::try_from(i).ok())
            .ok_or_else(|| {
                DbError::Corrupt(format!(
                    "{edge}: row {id} is not an entry of the edge's tenant"
                ))
            })
    }
}

/// The escape character of `LIKE` patterns: not the usual backslash, which MySQL reads as an
/// escape inside the `ESCAPE '…'` literal itself.
const LIKE_ESCAPE: char = '!';

/// `LIKE` pattern for a case-insensitive substring, with the wildcards of `text` escaped.
fn contains_pattern(text: &str) -> String {
    format!("%{}%", like_literal(&text.to_lowercase()))
}

/// `text` matching itself in a `LIKE` pattern: its wildcards escaped with [`LIKE_ESCAPE`].
fn like_literal(text: &str) -> String {
    let mut literal = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | LIKE_ESCAPE) {
            literal.push(LIKE_ESCAPE);
        }
        literal.push(c);
    }
    literal
}

/// `(limit, offset)` for a page; absurdly large values saturate rather than wrap.
fn window(page: Page) -> (i64, i64) {
    let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    (clamp(page.size), clamp(page.start))
}

/// The tenant's rows of `$table` matching `$filter`, sorted by external id, paged; the text
/// searched in the external id and the `$text` columns. A macro because users and groups are
/// different diesel tables with the same filterable columns.
macro_rules! listing {
    ($table:ident, $tenant:expr, $filter:expr, $page:expr, [$($text:expr),+]) => {{
        let mut query = $table::table
            .filter($table::tenant_id.eq($tenant))
            .order(($table::external_id, $table::id))
            .into_boxed();
        if let Some(status) = $filter.status {
            query = query.filter($table::status.eq(status.as_str()));
        }
        if let Some(external_id) = &$filter.external_id {
            query = query.filter($table::external_id.eq(external_id.clone()));
        }
        if let Some(text) = &$filter.text {
            let pattern = contains_pattern(text);
            query = query.filter(
                lower($table::external_id).like(pattern.clone()).escape(LIKE_ESCAPE)
                    $(.or(lower($text).like(pattern.clone()).escape(LIKE_ESCAPE)))+,
            );
        }
        if let Some(page) = $page {
            let (limit, offset) = window(page);
            query = query.limit(limit).offset(offset);
        }
        query
    }};
}

/// The users view.
pub(crate) fn users(
    conn: &mut Conn,
    tenant: &Tenant,
    filter: &UserFilter,
    page: Option<Page>,
) -> Result<Vec<UserView>, DbError> {
    let Some(tenant_row) = tenant_id(conn, tenant)? else {
        return Ok(Vec::new());
    };
    // A user without e-mail has a NULL there, which `LIKE` never matches.
    let email = idm_users::email.assume_not_null();
    on_backend!(conn, c => listing!(
            idm_users,
            tenant_row,
            filter,
            page,
            [idm_users::first_name, idm_users::last_name, email]
        )
        .select(UserRecord::as_select())
        .load_iter::<_, DefaultLoadingMode>(c)?
        .map(|row| row?.into_view(tenant))
        .collect())
}

/// The groups view, with direct active members and child groups (see [`group_views`]).
pub(crate) fn groups(
    conn: &mut Conn,
    tenant: &Tenant,
    filter: &UserFilter,
    page: Option<Page>,
) -> Result<Vec<GroupView>, DbError> {
    let Some(tenant_row) = tenant_id(conn, tenant)? else {
        return Ok(Vec::new());
    };
    let rows: Vec<GroupRecord> = on_backend!(&mut *conn, c => listing!(idm_groups, tenant_row, filter, page, [idm_groups::name])
        .select(GroupRecord::as_select())
        .load(c)?);
    group_views(conn, tenant, rows)
}

/// `rows` as the groups view shows them, with direct active members and child groups: two
/// batched queries for all of them, not one per group.
fn group_views(
    conn: &mut Conn,
    tenant: &Tenant,
    rows: Vec<GroupRecord>,
) -> Result<Vec<GroupView>, DbError> {
    let ids: Vec<i64> = rows.iter().map(|g| g.id).collect();
    let batch = rows_per_statement(conn.backend().max_binds(), 1);
    let mut members = direct_active(&ids, batch, |batch| {
        let query = idm_user_memberships::table
            .inner_join(idm_users::table)
            .filter(idm_user_memberships::group_id.eq_any(batch))
            .filter(idm_users::status.eq(UserStatus::Active.as_str()))
            .select((idm_user_memberships::group_id, idm_users::external_id));
        on_backend!(&mut *conn, c => query.load(c))
    })?;
    let mut children = direct_active(&ids, batch, |batch| {
        let query = idm_group_nesting::table
            .inner_join(idm_groups::table.on(idm_groups::id.eq(idm_group_nesting::child_id)))
            .filter(idm_group_nesting::parent_id.eq_any(batch))
            .filter(idm_groups::status.eq(UserStatus::Active.as_str()))
            .select((idm_group_nesting::parent_id, idm_groups::external_id));
        on_backend!(&mut *conn, c => query.load(c))
    })?;
    rows.into_iter()
        .map(|row| {
            let id = row.id;
            let group = row.into_stored()?;
            Ok(GroupView {
                tenant: tenant.to_string(),
                external_id: group.external_id.to_string(),
                name: group.name,
                status: group.status,
                members: members.remove(&id).unwrap_or_default(),
                child_groups: children.remove(&id).unwrap_or_default(),
            })
        })
        .collect()
}

/// The user `external_id` as the users view shows it, its direct groups (one query) and the
/// active groups it is in through nesting ([`ancestors`]).
pub(crate) fn user(
    conn: &mut Conn,
    tenant: &Tenant,
    external_id: &str,
) -> Result<Option<UserDetail>, DbError> {
    let Some(tenant_row) = tenant_id(conn, tenant)? else {
        return Ok(None);
    };
    // Built per backend: `as_select` is typed by the backend it loads from.
    let row: Option<UserRecord> = on_backend!(&mut *conn, c => idm_users::table
        .filter(idm_users::tenant_id.eq(tenant_row))
        .filter(idm_users::external_id.eq(external_id))
        .select(UserRecord::as_select())
        .first(c)
        .optional())?;
    let Some(row) = row else {
        return Ok(None);
    };
    let query = idm_user_memberships::table
        .inner_join(idm_groups::table)
        .filter(idm_user_memberships::user_id.eq(row.id))
        .select((idm_groups::id, idm_groups::external_id));
    let direct: Vec<(i64, String)> = on_backend!(&mut *conn, c => query.load(c))?;
    let direct_ids: Vec<i64> = direct.iter().map(|(id, _)| *id).collect();
    let inherited = ancestors(conn, &direct_ids)?;
    let mut groups: Vec<String> = direct.into_iter().map(|(_, id)| id).collect();
    groups.sort_unstable();
    let document = idm_source_documents::table
        .filter(idm_source_documents::tenant_id.eq(tenant_row))
        .filter(idm_source_documents::is_group.eq(false))
        .filter(idm_source_documents::source_id.eq(&row.source_id))
        .select(idm_source_documents::body);
    let document: Option<String> = on_backend!(&mut *conn, c => document.first(c).optional())?;
    Ok(Some(UserDetail {
        user: row.into_view(tenant)?,
        groups,
        inherited,
        document,
    }))
}

/// The external ids of the active groups above `groups` in the nesting (their parents, the
/// parents' parents, ...), none of `groups`, sorted. The walk goes up one level per batched
/// query and through every stored edge, whatever the status of the group it passes; a group
/// already reached is not walked again, which ends cycles.
fn ancestors(conn: &mut Conn, groups: &[i64]) -> QueryResult<Vec<String>> {
    let size = rows_per_statement(conn.backend().max_binds(), 1);
    let mut seen: HashSet<i64> = groups.iter().copied().collect();
    let mut level = groups.to_vec();
    let mut found = Vec::new();
    while !level.is_empty() {
        let mut next = Vec::new();
        in_batches(level, size, |batch| {
            let query = idm_group_nesting::table
                .inner_join(idm_groups::table.on(idm_groups::id.eq(idm_group_nesting::parent_id)))
                .filter(idm_group_nesting::child_id.eq_any(batch))
                .select((idm_groups::id, idm_groups::external_id, idm_groups::status));
            let parents: Vec<(i64, String, String)> = on_backend!(&mut *conn, c => query.load(c))?;
            for (id, external_id, status) in parents {
                if seen.insert(id) {
                    next.push(id);
                    if status == UserStatus::Active.as_str() {
                        found.push(external_id);
                    }
                }
            }
            Ok::<_, diesel::result::Error>(())
        })?;
        level = next;
    }
    found.sort_unstable();
    Ok(found)
}

/// The group `external_id` as the groups view shows it, and the groups it is a direct child
/// of, whatever their status.
pub(crate) fn group(
    conn: &mut Conn,
    tenant: &Tenant,
    external_id: &str,
) -> Result<Option<GroupDetail>, DbError> {
    let Some(tenant_row) = tenant_id(conn, tenant)? else {
        return Ok(None);
    };
    // Built per backend: `as_select` is typed by the backend it loads from.
    let row: Option<GroupRecord> = on_backend!(&mut *conn, c => idm_groups::table
        .filter(idm_groups::tenant_id.eq(tenant_row))
        .filter(idm_groups::external_id.eq(external_id))
        .select(GroupRecord::as_select())
        .first(c)
        .optional())?;
    let Some(row) = row else {
        return Ok(None);
    };
    let query = idm_group_nesting::table
        .inner_join(idm_groups::table.on(idm_groups::id.eq(idm_group_nesting::parent_id)))
        .filter(idm_group_nesting::child_id.eq(row.id))
        .select(idm_groups::external_id);
    let mut parents: Vec<String> = on_backend!(&mut *conn, c => query.load(c))?;
    parents.sort_unstable();
    let mut views = group_views(conn, tenant, vec![row])?;
    let group = views
        .pop()
        .ok_or_else(|| DbError::Corrupt(format!("group {external_id} vanished")))?;
    Ok(Some(GroupDetail { group, parents }))
}

/// External ids by group id, sorted, from `query` run over batches of `groups`.
fn direct_active(
    groups: &[i64],
    batch: usize,
    mut query: impl FnMut(Vec<i64>) -> QueryResult<Vec<(i64, String)>>,
) -> QueryResult<HashMap<i64, Vec<String>>> {
    let mut by_group: HashMap<i64, Vec<String>> = HashMap::new();
    in_batches(groups.iter().copied(), batch, |batch| {
        for (group, external_id) in query(batch)? {
            by_group.entry(group).or_default().push(external_id);
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    for ids in by_group.values_mut() {
        ids.sort_unstable();
    }
    Ok(by_group)
}

/// The tenant's runs, newest first.
pub(crate) fn runs(
    conn: &mut Conn,
    tenant: &Tenant,
    page: Option<Page>,
) -> Result<Vec<RunRecord>, DbError> {
    let (limit, offset) = page.map_or((i64::MAX, 0), window);
    on_backend!(conn, c => idm_sync_runs::table
        .inner_join(idm_tenants::table)
        .filter(idm_tenants::name.eq(tenant.as_str()))
        .order(idm_sync_runs::id.desc())
        .select(RunRow::as_select())
        .limit(limit)
        .offset(offset)
        .load_iter::<_, DefaultLoadingMode>(c)?
        .map(|row| row?.into_record())
        .collect())
}

/// One run.
pub(crate) fn run(conn: &mut Conn, id: RunId) -> Result<Option<RunRecord>, DbError> {
    on_backend!(conn, c => idm_sync_runs::table
        .inner_join(idm_tenants::table)
        .filter(idm_sync_runs::id.eq(id.0))
        .select(RunRow::as_select())
        .first(c)
        .optional())?
    .map(RunRow::into_record)
    .transpose()
}

/// The tenant's newest successful run.
pub(crate) fn last_success(conn: &mut Conn, tenant: &Tenant) -> Result<Option<RunRecord>, DbError> {
    on_backend!(conn, c => idm_sync_runs::table
        .inner_join(idm_tenants::table)
        .filter(idm_tenants::name.eq(tenant.as_str()))
        .filter(idm_sync_runs::outcome.eq(Outcome::Succeeded.as_str()))
        // A user run is no position in the source: the next differential run starts from
        // the last run of the whole source.
        .filter(idm_sync_runs::mode.ne(SyncMode::User.as_str()))
        .order(idm_sync_runs::id.desc())
        .select(RunRow::as_select())
        .first(c)
        .optional())?
    .map(RunRow::into_record)
    .transpose()
}

/// The id of the tenant's newest run (the run list's index serves it).
pub(crate) fn newest_run(conn: &mut Conn, tenant: &Tenant) -> Result<Option<RunId>, DbError> {
    let query = idm_sync_runs::table
        .inner_join(idm_tenants::table)
        .filter(idm_tenants::name.eq(tenant.as_str()))
        .order(idm_sync_runs::id.desc())
        .select(idm_sync_runs::id);
    let id: Option<i64> = on_backend!(conn, c => query.first(c).optional())?;
    Ok(id.map(RunId))
}

/// A run's log lines by sequence number.
pub(crate) fn lines(conn: &mut Conn, id: RunId) -> Result<Vec<LogLine>, DbError> {
    let query = idm_sync_log_lines::table
        .filter(idm_sync_log_lines::run_id.eq(id.0))
        .order(idm_sync_log_lines::seq)
        .select((
            idm_sync_log_lines::seq,
            idm_sync_log_lines::event,
            idm_sync_log_lines::message,
        ));
    on_backend!(conn, c => query
        .load_iter::<_, DefaultLoadingMode>(c)?
        .map(|row| log_line(id.0, row?))
        .collect())
}

/// Log lines read per query of [`history`]: its `LIKE` prefilter also passes lines where the id
/// is only part of a word, which the exact check then drops, so a page may yield fewer.
const HISTORY_PAGE: i64 = 256;

/// The newest `limit` run-log lines of the tenant that name `external_id` as a whole word,
/// newest run first and in written order within a run.
///
/// Log lines carry no entry column, so the messages are searched: the database prefilters
/// with `message LIKE '%id%'` (the id's wildcards and the escape character escaped, the same
/// `ESCAPE` on every backend), and [`LogLine::names`] keeps the exact matches. Pages are read
/// in the primary key's order, backwards (`run_id DESC, seq DESC`, an index scan on every
/// backend), each starting after the last line of the one before, until `limit` lines match or
/// the lines run out; the runs are the tenant's through the run table's tenant column. A page
/// is then put back in written order within each run.
pub(crate) fn history(
    conn: &mut Conn,
    tenant: &Tenant,
    external_id: &str,
    limit: u64,
) -> Result<Vec<HistoryLine>, DbError> {
    let Some(tenant) = tenant_id(conn, tenant)? else {
        return Ok(Vec::new());
    };
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let pattern = format!("%{}%", like_literal(external_id));
    let (run_id, seq) = (idm_sync_log_lines::run_id, idm_sync_log_lines::seq);
    let mut found = Vec::new();
    // The key of the last line read: the next page starts below it.
    let mut after = (i64::MAX, i64::MAX);
    while found.len() < limit {
        let query = idm_sync_log_lines::table
            .inner_join(idm_sync_runs::table.on(idm_sync_runs::id.eq(run_id)))
            .filter(idm_sync_runs::tenant_id.eq(tenant))
            .filter(
                run_id
                    .lt(after.0)
                    .or(run_id.eq(after.0).and(seq.lt(after.1))),
            )
            .filter(
                idm_sync_log_lines::message
                    .like(&pattern)
                    .escape(LIKE_ESCAPE),
            )
            .order((run_id.desc(), seq.desc()))
            .limit(HISTORY_PAGE)
            .select((
                run_id,
                seq,
                idm_sync_log_lines::event,
                idm_sync_log_lines::message,
                idm_sync_runs::started_at,
            ));
        let rows: Vec<(i64, i64, String, String, NaiveDateTime)> =
            on_backend!(&mut *conn, c => query.load(c))?;
        let complete = rows.len() < usize::try_from(HISTORY_PAGE).unwrap_or(usize::MAX);
        for (run, line_seq, event, message, started_at) in rows {
            after = (run, line_seq);
            let line = log_line(run, (line_seq, event, message))?;
            if line.names(external_id) && found.len() < limit {
                found.push(HistoryLine {
                    run: RunId(run),
                    started_at: started_at.and_utc(),
                    line,
                });
            }
        }
        if complete {
            break;
        }
    }
    // Read newest first: reversed, each run's lines are in written order; the stable sort
    // then puts the newest run first again.
    found.reverse();
    found.sort_by_key(|h| std::cmp::Reverse(h.run));
    Ok(found)
}

/// Users and groups of the tenant by status: two `GROUP BY` queries.
pub(crate) fn totals(conn: &mut Conn, tenant: &Tenant) -> Result<Totals, DbError> {
    let mut totals = Totals::default();
    let Some(tenant) = tenant_id(conn, tenant)? else {
        return Ok(totals);
    };
    let query = idm_users::table
        .filter(idm_users::tenant_id.eq(tenant))
        .group_by(idm_users::status)
        .select((idm_users::status, diesel::dsl::count_star()));
    let users: Vec<(String, i64)> = on_backend!(&mut *conn, c => query.load(c))?;
    let query = idm_groups::table
        .filter(idm_groups::tenant_id.eq(tenant))
        .group_by(idm_groups::status)
        .select((idm_groups::status, diesel::dsl::count_star()));
    let groups: Vec<(String, i64)> = on_backend!(&mut *conn, c => query.load(c))?;
    for (status, n) in users {
        let n = u64::try_from(n).unwrap_or_default();
        match UserStatus::parse(&status) {
            Some(UserStatus::Active) => totals.users_active = n,
            Some(UserStatus::Inactive) => totals.users_inactive = n,
            None => return Err(DbError::Corrupt(format!("idm_users: status {status:?}"))),
        }
    }
    for (status, n) in groups {
        let n = u64::try_from(n).unwrap_or_default();
        match UserStatus::parse(&status) {
            Some(UserStatus::Active) => totals.groups_active = n,
            Some(UserStatus::Inactive) => totals.groups_inactive = n,
            None => return Err(DbError::Corrupt(format!("idm_groups: status {status:?}"))),
        }
    }
    Ok(totals)
}

/// The tenant's users whose external id or e-mail is `login`; compared through `lower()` on
/// both sides when case does not matter (an index on the raw column cannot serve that, but a
/// login reads a handful of rows of one tenant).
pub(crate) fn find_login(
    conn: &mut Conn,
    tenant: &Tenant,
    login: &str,
    field: LoginField,
    case_sensitive: bool,
) -> Result<Vec<LoginRecord>, DbError> {
    let Some(tenant) = tenant_id(conn, tenant)? else {
        return Ok(Vec::new());
    };
    let rows: Vec<UserRecord> = on_backend!(conn, c => {
        let mut query = idm_users::table
            .filter(idm_users::tenant_id.eq(tenant))
            .order(idm_users::id)
            .select(UserRecord::as_select())
            .into_boxed();
        query = match (field, case_sensitive) {
            (LoginField::ExternalId, true) => {
                query.filter(idm_users::external_id.eq(login.to_string()))
            }
            (LoginField::ExternalId, false) => {
                query.filter(lower(idm_users::external_id).eq(login.to_lowercase()))
            }
            (LoginField::Email, true) => query.filter(idm_users::email.eq(login.to_string())),
            (LoginField::Email, false) => {
                query.filter(lower(idm_users::email.assume_not_null()).eq(login.to_lowercase()))
            }
        };
        query.load::<UserRecord>(c)?
    });
    rows.into_iter()
        .map(|row| {
            let user = row.into_stored()?;
            Ok(LoginRecord {
                external_id: user.external_id.to_string(),
                locator: user.locator,
                status: user.status,
                admin: user.admin,
                password_hash: user.password_hash,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_positions_follow_dense_and_sparse_ids() {
        let mut ids = RowIds::default();
        for id in [3, 4, 5, 9, 10, 40] {
            ids.push(id).expect("ascending");
        }
        let positions: Vec<u32> = [3, 5, 9, 10, 40]
            .iter()
            .map(|&id| ids.position(id, "edge").expect("known"))
            .collect();
        assert_eq!(positions, [0, 2, 3, 4, 5]);
        for unknown in [2, 6, 41, i64::MIN, i64::MAX] {
            let error = ids
                .position(unknown, "idm_user_memberships")
                .expect_err("unknown");
            assert!(
                error
                    .to_string()
                    .contains(&format!("idm_user_memberships: row {unknown} ")),
                "{error}"
            );
        }
        assert!(ids.push(40).is_err(), "ids must ascend");
        assert!(RowIds::default().position(1, "edge").is_err());
    }

    #[test]
    fn patterns_escape_wildcards_and_lower_the_text() {
        assert_eq!(contains_pattern("JLen"), "%jlen%");
        assert_eq!(contains_pattern("50%_a!b\\"), "%50!%!_a!!b\\%");
    }

    #[test]
    fn huge_pages_saturate() {
        let page = Page {
            start: u64::MAX,
            size: 10,
        };
        assert_eq!(window(page), (10, i64::MAX));
    }
}
