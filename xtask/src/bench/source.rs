//! The sources idmsync reads in the bench: the file source's two files, or a slapd started
//! with idmsync-test-ldap (with the syncprov overlay) and loaded with slapadd; with how each
//! takes a change and the source's own reading limit (`ldapsearch`, `cat`).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result};
use idmsync_test_ldap::fixtures::Generated;
use idmsync_test_ldap::{SessionLog, Slapd};

use super::measure::Measured;
use super::options::SourceKind;

/// `lastModified` of every unchanged line: long before any watermark.
const BASE_DATE: &str = "01/01/2020";
/// LDAP entries per page, for idmsync and for ldapsearch alike.
pub const PAGE_SIZE: u32 = 1000;
const PEOPLE: &str = "ou=people,dc=example,dc=com";
const GROUPS: &str = "ou=groups,dc=example,dc=com";
const USER_FILTER: &str = "(objectClass=inetOrgPerson)";
const GROUP_FILTER: &str = "(objectClass=groupOfNames)";
/// What idmsync's LDAP source requests with its default mapping (see its `attributes.rs`).
const USER_ATTRIBUTES: [&str; 5] = ["entryUUID", "uid", "givenName", "sn", "mail"];
const GROUP_ATTRIBUTES: [&str; 3] = ["entryUUID", "cn", "member"];

/// How a differential run finds what changed (`source.ldap.deltas`; the file source has one
/// way, its lines' dates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deltas {
    /// `modifyTimestamp` after the last run's watermark: sees no deletion.
    Timestamp,
    /// RFC 4533 content synchronisation from the last run's cookies: sees deletions too.
    Syncrepl,
}

/// A running source, holding the directory's current content.
pub enum Source {
    /// `users.txt` and `groups.txt` in the bench's temporary directory.
    File {
        /// Path of users.txt.
        users: PathBuf,
        /// Path of groups.txt.
        groups: PathBuf,
    },
    /// A slapd loaded with the directory.
    Ldap(Box<Slapd>),
}

impl Source {
    /// Writes the files, or starts slapd loaded (with slapadd) with `directory` and the syncprov
    /// overlay with `session_log`.
    pub fn start(
        kind: SourceKind,
        directory: &Generated,
        tmp: &Path,
        session_log: SessionLog,
    ) -> Result<Source> {
        Ok(match kind {
            SourceKind::File => {
                let source = Source::File {
                    users: tmp.join("users.txt"),
                    groups: tmp.join("groups.txt"),
                };
                source.write_files(directory, BASE_DATE)?;
                source
            }
            SourceKind::Ldap => Source::Ldap(Box::new(
                Slapd::builder()
                    .ldif(directory.ldif())
                    .syncprov(session_log)
                    .start(),
            )),
        })
    }

    /// The file source's two files for scenario p: `directory` as [`start`](Self::start) writes
    /// it, with a clear password on every user ([`with_passwords`]), in `dir`.
    pub fn files_with_passwords(directory: &Generated, dir: &Path, seed: u64) -> Result<Source> {
        let users = dir.join("users.txt");
        let groups = dir.join("groups.txt");
        let text = with_passwords(&directory.users_txt(BASE_DATE, BASE_DATE), seed);
        std::fs::write(&users, text).with_context(|| format!("writing {}", users.display()))?;
        std::fs::write(&groups, directory.groups_txt(BASE_DATE, BASE_DATE))
            .with_context(|| format!("writing {}", groups.display()))?;
        Ok(Source::File { users, groups })
    }

    /// Brings the source in line with `directory` after [`Generated::change`],
    /// [`Generated::delete_users`] or [`Generated::remove_members`] returned `ldif`: ldapmodify
    /// through the running server (so modifyTimestamp moves as in production), or the files
    /// rewritten with the changed lines dated today, which is what the file source's
    /// differential runs select on.
    pub fn apply(&self, directory: &Generated, ldif: &str, today: &str) -> Result<()> {
        match self {
            Source::File { .. } => self.write_files(directory, today),
            Source::Ldap(slapd) => {
                slapd.modify(ldif);
                Ok(())
            }
        }
    }

    /// The `[source]` section of idmsync's configuration for this source, finding changes by
    /// `deltas` (LDAP only: a server with syncprov would otherwise use RFC 4533 everywhere).
    pub fn config(&self, deltas: Deltas) -> String {
        match self {
            Source::File { users, groups } => format!(
                "[source]\ntype = \"file\"\n\n[source.file]\nusers = {:?}\ngroups = {:?}\n",
                users.display().to_string(),
                groups.display().to_string()
            ),
            // Overlap 0: the differential must see exactly the changes made after the previous
            // run's watermark; the default 300 s would re-read everything the bench loaded a
            // moment before.
            Source::Ldap(slapd) => format!(
                "[source]\ntype = \"ldap\"\n\n[source.ldap]\nurl = {:?}\nbind_dn = {:?}\n\
                 bind_password = {:?}\npage_size = {PAGE_SIZE}\nuser_search_base = {PEOPLE:?}\n\
                 user_filter = {USER_FILTER:?}\ngroup_search_base = {GROUPS:?}\n\
                 group_filter = {GROUP_FILTER:?}\ndifferential_overlap_secs = 0\n\
                 deltas = {:?}\n",
                slapd.url(),
                slapd.sync_dn(),
                slapd.sync_password(),
                match deltas {
                    Deltas::Timestamp => "timestamp",
                    Deltas::Syncrepl => "syncrepl",
                }
            ),
        }
    }

    /// The commands that read what idmsync reads from the source, to /dev/null: the floor
    /// under any sync. For LDAP, paged ldapsearch as the sync account with the same filters and
    /// attributes; for files, `cat`.
    pub fn read_limit(&self) -> Result<Vec<Measured>> {
        match self {
            Source::File { users, groups } => {
                let mut cat = Measured::new("cat")?;
                cat.command.arg(users).arg(groups);
                Ok(vec![quiet(cat)])
            }
            Source::Ldap(slapd) => [
                (PEOPLE, USER_FILTER, &USER_ATTRIBUTES[..]),
                (GROUPS, GROUP_FILTER, &GROUP_ATTRIBUTES[..]),
            ]
            .into_iter()
            .map(|(base, filter, attributes)| {
                let mut search = Measured::new("ldapsearch")?;
                search
                    .command
                    .env("LDAPNOINIT", "1")
                    .args(["-x", "-LLL", "-H", &slapd.url(), "-D", &slapd.sync_dn()])
                    .args(["-w", slapd.sync_password(), "-b", base])
                    .args(["-E", &format!("pr={PAGE_SIZE}/noprompt"), filter])
                    .args(attributes);
                Ok(quiet(search))
            })
            .collect(),
        }
    }

    fn write_files(&self, directory: &Generated, changed_date: &str) -> Result<()> {
        if let Source::File { users, groups } = self {
            std::fs::write(users, directory.users_txt(BASE_DATE, changed_date))
                .with_context(|| format!("writing {}", users.display()))?;
            std::fs::write(groups, directory.groups_txt(BASE_DATE, changed_date))
                .with_context(|| format!("writing {}", groups.display()))?;
        }
        Ok(())
    }
}

/// `users_txt` (lines `id;firstName;lastName;email;password;lastModified`, passwords empty)
/// with a clear password on every line: 16 hexadecimal digits derived from `seed` and the line's
/// id, so every run and machine hashes the same passwords. Lines without six fields are kept as
/// they are.
pub fn with_passwords(users_txt: &str, seed: u64) -> String {
    let mut out = String::with_capacity(users_txt.len() + users_txt.lines().count() * 20);
    for line in users_txt.lines() {
        let mut fields: Vec<&str> = line.split(';').collect();
        let password;
        if fields.len() == 6 {
            password = format!("pw{:016x}", mix(seed, fields[0]));
            fields[4] = &password;
        }
        out.push_str(&fields.join(";"));
        out.push('\n');
    }
    out
}

/// FNV-1a of `text` started from `seed`, then SplitMix64's finaliser: a well-spread 64-bit
/// value, not a secret.
fn mix(seed: u64, text: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64 ^ seed;
    for byte in text.bytes() {
        h = (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// `command` with its output discarded (what it would print is not part of the measurement).
fn quiet(mut measured: Measured) -> Measured {
    measured.command.stdout(Stdio::null()).stderr(Stdio::null());
    measured
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_user_gets_a_deterministic_password_of_its_own() {
        let text = "jdoe;John;Doe;j@example.com;;01/01/2020\nasmith;Ann;Smith;;;01/01/2020\n";
        let once = with_passwords(text, 7);
        assert_eq!(once, with_passwords(text, 7));
        let passwords: Vec<&str> = once
            .lines()
            .map(|l| l.split(';').nth(4).expect("a password field"))
            .collect();
        assert_eq!(passwords.len(), 2);
        assert!(passwords.iter().all(|p| p.len() == 18), "{passwords:?}");
        assert_ne!(passwords[0], passwords[1]);
        assert!(once.starts_with("jdoe;John;Doe;j@example.com;pw"), "{once}");
        assert!(once.lines().all(|l| l.ends_with(";01/01/2020")), "{once}");
        assert_ne!(with_passwords(text, 8), once, "the seed matters");
    }
}
