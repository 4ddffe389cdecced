//! The bulk path for the edge tables: a change set that adds more edges than a table holds (a
//! first sync) drops the table's keys, inserts the edges, and adds the keys back, all inside the
//! apply's transaction. PostgreSQL drops all of them around its bulk load; SQLite only the member
//! index ([`Suspended::MemberIndex`]). MySQL cannot drop anything, because its DDL would commit
//! the transaction; it turns the session's foreign-key and unique checks off instead
//! ([`Suspended::Checks`]), which on an empty InnoDB table also lets MariaDB build the indexes
//! by sorting, and checks the foreign keys itself afterwards.
//!
//! Why: every row loaded into a table with foreign keys fires one referential-integrity
//! trigger per key (a query each), and every row is inserted into two B-trees in random order.
//! For the million memberships of a large first sync that is about 9 s of triggers and 7 s of
//! index maintenance; adding the same keys after the load checks and builds them set-based
//! (one anti-join per foreign key, one sort per index), in about 2 s. Integrity is unchanged:
//! the re-added primary key rejects duplicate edges and the re-added foreign keys reject an edge
//! to a missing row, either of which rolls the whole transaction back, as a per-row check would.
//! On MariaDB the primary key stays checked (`unique_checks` only concerns secondary unique
//! indexes, which the edge tables have none of) and one `NOT EXISTS` query per foreign key
//! stands in for the per-row checks: 1.9 s of load and 0.6 s of checks instead of 6.0 s for a
//! million memberships.
//!
//! The cost: PostgreSQL's DDL takes an `ACCESS EXCLUSIVE` lock on the edge table (and a
//! `SHARE ROW EXCLUSIVE` lock on the tables it references) until the apply commits, so readers of
//! the edges (the REST API's group views) wait for the apply. That is why the path is taken only
//! when the added edges outnumber the table's rows, where rebuilding costs no more than the
//! rows being written: a first sync, never the differential runs of an established tenant.

use diesel::connection::SimpleConnection;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::result::DatabaseErrorKind;
use diesel::sql_types::BigInt;

use crate::conn::{on_backend, Conn};

/// Edges below this many are always inserted with the keys in place: rebuilding has a fixed
/// cost (reading the referenced tables) that only pays off for large additions.
const MIN_EDGES: usize = 10_000;

/// An edge table's keys, spelled exactly as `migrations/postgres` creates them (the default
/// constraint names PostgreSQL gives them there), so that dropping and adding them back leaves
/// the schema as the migrations made it.
pub(crate) struct EdgeKeys {
    pub(crate) table: &'static str,
    /// The two columns: the group, then the member.
    pub(crate) columns: [&'static str; 2],
    /// The tables the two columns reference.
    references: [&'static str; 2],
    /// The secondary index on the member column.
    member_index: &'static str,
}

/// `idm_user_memberships`: group → user.
pub(crate) const MEMBERSHIPS: EdgeKeys = EdgeKeys {
    table: "idm_user_memberships",
    columns: ["group_id", "user_id"],
    references: ["idm_groups", "idm_users"],
    member_index: "idm_user_memberships_user",
};

/// `idm_group_nesting`: parent group → child group.
pub(crate) const NESTING: EdgeKeys = EdgeKeys {
    table: "idm_group_nesting",
    columns: ["parent_id", "child_id"],
    references: ["idm_groups", "idm_groups"],
    member_index: "idm_group_nesting_child",
};

impl EdgeKeys {
    /// Drops what of the table's keys a bulk load (see the module documentation) can rebuild
    /// inside the transaction, and says what it dropped; the caller then inserts and calls
    /// [`EdgeKeys::restore`].
    pub(crate) fn suspend_for(&self, conn: &mut Conn, adding: usize) -> QueryResult<Suspended> {
        if adding < MIN_EDGES {
            return Ok(Suspended::Nothing);
        }
        // Counting stops at `adding` rows: the check never reads more than is being written.
        let held = format!(
            "(SELECT COUNT(*) FROM (SELECT 1 FROM {} LIMIT {adding}) AS sample)",
            self.table
        );
        let held: i64 = on_backend!(conn, c => diesel::select(sql::<BigInt>(&held)).get_result(c))?;
        if usize::try_from(held).map_or(true, |held| held >= adding) {
            return Ok(Suspended::Nothing);
        }
        let Self {
            table,
            columns: [group, member],
            member_index,
            ..
        } = self;
        let suspended = match conn {
            Conn::Pg(c) => {
                c.batch_execute(&format!(
                    "ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, \
                     DROP CONSTRAINT {table}_{group}_fkey, DROP CONSTRAINT {table}_{member}_fkey; \
                     DROP INDEX {member_index}"
                ))?;
                Suspended::Keys
            }
            Conn::Sqlite(c) => {
                c.batch_execute(&format!("DROP INDEX {member_index}"))?;
                Suspended::MemberIndex
            }
            Conn::Mysql(c) => {
                c.batch_execute("SET SESSION foreign_key_checks = 0, unique_checks = 0")?;
                Suspended::Checks
            }
        };
        tracing::debug!(
            table,
            adding,
            ?suspended,
            "bulk load: keys dropped until the edges are in"
        );
        Ok(suspended)
    }

    /// Adds back what [`EdgeKeys::suspend_for`] dropped, validating every row at once.
    ///
    /// # Errors
    /// A unique or foreign-key violation when the inserted edges break the keys; on MySQL,
    /// [`diesel::result::Error::RollbackTransaction`] after logging the first dangling edge.
    pub(crate) fn restore(&self, conn: &mut Conn, suspended: Suspended) -> QueryResult<()> {
        let Self {
            table,
            columns: [group, member],
            references: [groups, members],
            member_index,
        } = self;
        let index = format!("CREATE INDEX {member_index} ON {table} ({member})");
        match (conn, suspended) {
            (Conn::Pg(c), Suspended::Keys) => c.batch_execute(&format!(
                "ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY ({group}, {member}), \
                 ADD CONSTRAINT {table}_{group}_fkey FOREIGN KEY ({group}) REFERENCES {groups} (id), \
                 ADD CONSTRAINT {table}_{member}_fkey FOREIGN KEY ({member}) REFERENCES {members} (id); \
                 {index}"
            )),
            (Conn::Sqlite(c), Suspended::MemberIndex) => c.batch_execute(&index),
            (Conn::Mysql(c), Suspended::Checks) => {
                c.batch_execute(CHECKS_ON)?;
                for (column, referenced) in [(group, groups), (member, members)] {
                    let dangling = diesel::sql_query(format!(
                        "SELECT {group} AS from_id, {member} AS to_id FROM {table} e \
                         WHERE NOT EXISTS (SELECT 1 FROM {referenced} r WHERE r.id = e.{column}) \
                         LIMIT 1"
                    ))
                    .get_result::<Dangling>(c)
                    .optional()?;
                    if let Some(Dangling { from_id, to_id }) = dangling {
                        return Err(diesel::result::Error::DatabaseError(
                            DatabaseErrorKind::ForeignKeyViolation,
                            Box::new(format!(
                                "the edge ({from_id}, {to_id}) of {table} refers to no row of \
                                 {referenced}"
                            )),
                        ));
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Undoes what outlives the transaction after a failed load: a MySQL session's variables,
    /// which would otherwise leave the pooled connection without checks. What the rollback
    /// undoes (PostgreSQL's and SQLite's DDL) is left to it. A failure here means the connection
    /// is broken, which the pool notices when it checks the connection next.
    pub(crate) fn abandon(&self, conn: &mut Conn, suspended: Suspended) {
        if let (Conn::Mysql(c), Suspended::Checks) = (conn, suspended) {
            if let Err(error) = c.batch_execute(CHECKS_ON) {
                tracing::debug!(%error, "could not turn the session's checks back on");
            }
        }
    }
}

/// Turns a MySQL session's checks back on.
const CHECKS_ON: &str = "SET SESSION foreign_key_checks = 1, unique_checks = 1";

/// An edge whose foreign key [`EdgeKeys::restore`] found dangling on MySQL.
#[derive(QueryableByName)]
struct Dangling {
    #[diesel(sql_type = BigInt)]
    from_id: i64,
    #[diesel(sql_type = BigInt)]
    to_id: i64,
}

/// What [`EdgeKeys::suspend_for`] dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Suspended {
    /// Nothing: the edges are inserted with every key in place.
    Nothing,
    /// PostgreSQL: the primary key, both foreign keys and the member index.
    Keys,
    /// SQLite: the member index. Its primary key belongs to the table and its foreign keys are
    /// checked per row against the referenced tables' row ids, which is cheap; the member index
    /// is a B-tree filled in random order, which at a million edges outgrew the page cache.
    MemberIndex,
    /// MySQL: the session's foreign-key and unique checks, until [`EdgeKeys::restore`] turns
    /// them back on and checks the foreign keys of the whole table at once.
    Checks,
}
