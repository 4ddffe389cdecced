//! The rows idmsync's tables hold after a full sync of a generated directory, as tab-separated
//! files: what the bulk-load limit (`psql \copy`, `LOAD DATA`, `sqlite3 .import`) writes, so
//! that limit moves the same rows and bytes as idmsync.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use idmsync_test_ldap::fixtures::Generated;

use super::options::SourceKind;

/// The tables in load order (parents before children), each with its file name. Columns are
/// every column of the table in the migrations' order, so no loader needs a column list.
pub const TABLES: [&str; 5] = [
    "idm_tenants",
    "idm_users",
    "idm_groups",
    "idm_user_memberships",
    "idm_group_nesting",
];

/// A timestamp every backend's loader accepts for TIMESTAMP, TIMESTAMPTZ and DATETIME(6).
const NOW: &str = "2025-01-01 00:00:00";

/// The text of each table's file, in [`TABLES`] order. NULL is `\N`, which PostgreSQL's COPY
/// and MariaDB's LOAD DATA read as NULL (sqlite3's `.import` stores the two characters, which
/// costs the same).
pub fn render(directory: &Generated, source: SourceKind) -> [String; 5] {
    let users = directory.users();
    let groups = directory.groups();
    let mut user_rows = String::with_capacity(users.len() * 200);
    for (i, user) in users.iter().enumerate() {
        // The LDAP source keys rows by entryUUID and keeps the DN as locator; the file source
        // keys by login id and has no locator. No password, so no password check (last).
        let (source_id, locator) = match source {
            SourceKind::Ldap => (uuid(i as u64), user.dn.as_str()),
            SourceKind::File => (user.uid.clone(), "\\N"),
        };
        writeln!(
            user_rows,
            "{}\t1\t{source_id}\t{}\t{locator}\t{}\t{}\t{}\tactive\t\\N\t0\t\\N\t{NOW}\t{NOW}\t{NOW}\t\\N",
            i + 1,
            user.uid,
            user.given_name,
            user.surname,
            user.mail.as_deref().unwrap_or("\\N"),
        )
        .expect("writing to a String");
    }
    let mut group_rows = String::with_capacity(groups.len() * 150);
    let mut memberships = String::new();
    let mut nesting = String::new();
    for (j, group) in groups.iter().enumerate() {
        let (source_id, locator) = match source {
            SourceKind::Ldap => (uuid((users.len() + j) as u64), group.dn.as_str()),
            SourceKind::File => (group.cn.clone(), "\\N"),
        };
        writeln!(
            group_rows,
            "{}\t1\t{source_id}\t{}\t{locator}\t{}\tactive\t{NOW}\t{NOW}\t{NOW}",
            j + 1,
            group.cn,
            group.cn,
        )
        .expect("writing to a String");
        for &user in &group.user_members {
            writeln!(memberships, "{}\t{}", j + 1, user + 1).expect("writing to a String");
        }
        for &child in &group.group_members {
            writeln!(nesting, "{}\t{}", j + 1, child + 1).expect("writing to a String");
        }
    }
    [
        "1\tdefault\n".to_string(),
        user_rows,
        group_rows,
        memberships,
        nesting,
    ]
}

/// Writes [`render`]'s files into `dir` and returns their paths, in [`TABLES`] order.
pub fn write(dir: &Path, directory: &Generated, source: SourceKind) -> Result<Vec<PathBuf>> {
    TABLES
        .iter()
        .zip(render(directory, source))
        .map(|(table, text)| {
            let path = dir.join(format!("{source}-{table}.tsv"));
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            Ok(path)
        })
        .collect()
}

/// A deterministic string shaped like an entryUUID (36 characters), so rows are as wide as the
/// LDAP source's.
fn uuid(n: u64) -> String {
    let hex = format!(
        "{:032x}",
        u128::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)
    );
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_match_the_directory_and_the_tables_columns() {
        let directory = Generated::new(50, 5, 120, 1);
        let [tenants, users, groups, memberships, nesting] = render(&directory, SourceKind::Ldap);
        assert_eq!(tenants, "1\tdefault\n");
        assert_eq!(users.lines().count(), 50);
        // idm_users has 16 columns, idm_groups 10.
        assert!(
            users.lines().all(|l| l.split('\t').count() == 16),
            "{users}"
        );
        assert!(
            groups.lines().all(|l| l.split('\t').count() == 10),
            "{groups}"
        );
        let members: usize = directory
            .groups()
            .iter()
            .map(|g| g.user_members.len() + g.group_members.len())
            .sum();
        assert_eq!(
            memberships.lines().count() + nesting.lines().count(),
            members
        );
        let first = users.lines().next().expect("a user");
        assert_eq!(first.split('\t').nth(2).map(str::len), Some(36), "{first}");
    }

    #[test]
    fn file_rows_are_keyed_by_login_id_without_locator() {
        let directory = Generated::new(3, 1, 3, 2);
        let [_, users, ..] = render(&directory, SourceKind::File);
        let first: Vec<&str> = users.lines().next().expect("a user").split('\t').collect();
        assert_eq!(first[2], directory.users()[0].uid);
        assert_eq!(first[4], "\\N");
    }
}
