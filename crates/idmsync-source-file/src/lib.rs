//! The file source: users and groups read from two text files in the format of the original's
//! example IDM source, for demos, tests and small installations without a directory.
//!
//! # Format
//! `users.txt` holds one user per line, `id;firstName;lastName;email;password;lastModified`:
//!
//! ```text
//! jlennon;John;Lennon;john@beatles.com;johnpassword;10/10/2015
//! ```
//!
//! `groups.txt` holds one group per line, `name:member1;member2;...:lastModified`, where a
//! member names a user or another group (nesting):
//!
//! ```text
//! beatles:jlennon;rstarr;gharrison;pmccartney:13/10/2015
//! ```
//!
//! Files are UTF-8 (a leading byte order mark is accepted), lines may end in CRLF, blank lines
//! and lines starting with `#` are skipped, and every field is trimmed. An empty e-mail means
//! none; an empty password means the user has no local password. Dates are `dd/MM/yyyy`.
//!
//! # Strictness
//! One malformed line rejects the whole file with [`SourceError::Invalid`] naming
//! `path:line` and the field. Partial data would be worse than none: a full run deactivates every
//! user it does not see. Duplicate ids are not a parse error; the planner skips them with a
//! warning. Error messages never quote a value, so a password cannot reach a log.
//!
//! # Identity
//! The source id is the login id (the group name for groups), lowercased when
//! `sync.ignore_case` is set so that a change of case keeps the row; the external id keeps the
//! case as written.
//!
//! # Differential runs
//! The watermark is today's UTC date. A differential run returns the entries whose
//! `lastModified` is on or after the day before the watermark: date granularity makes "on or
//! after" the safe overlap, and the extra day covers editors west of UTC, who write their local
//! date, which can be a day behind UTC. It relies on whoever edits the files keeping
//! `lastModified` current.
#![deny(missing_docs)]

mod parse;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Days, NaiveDate};
use idmsync_domain::plan::{Departed, Departures, SourceData};
use idmsync_domain::{SourceGroup, SourceUser, Watermark};
use idmsync_ports::{Clock, DynProgress, IdentitySource, SourceError, SystemClock};

use crate::parse::Dated;
pub use crate::parse::FileMapping;

/// The watermark's format: an ISO date, readable in the run log.
const WATERMARK_FORMAT: &str = "%Y-%m-%d";

/// How far before the watermark's date a differential run looks, so that a date written in a
/// time zone behind UTC (down to UTC-12) is not missed.
const TIME_ZONE_SLACK: Days = Days::new(1);

/// Where the files are and how ids compare; built from the `source.file` and `sync` sections of
/// the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSourceConfig {
    /// Path of `users.txt`.
    pub users: PathBuf,
    /// Path of `groups.txt`.
    pub groups: PathBuf,
    /// `sync.ignore_case`: derive source ids from lowercased ids, so that `JLennon` and
    /// `jlennon` are the same user across runs.
    pub ignore_case: bool,
    /// `[source.file.mapping]`.
    pub mapping: FileMapping,
}

/// The [`IdentitySource`] over `users.txt` and `groups.txt`. The files are read afresh on every
/// call, so edits between runs are picked up without a restart.
#[derive(Clone)]
pub struct FileSource {
    config: FileSourceConfig,
    clock: Arc<dyn Clock>,
}

impl FileSource {
    /// A source over the configured files, with the system clock for watermarks.
    pub fn new(config: FileSourceConfig) -> Self {
        Self {
            config,
            clock: Arc::new(SystemClock),
        }
    }

    /// Replaces the clock that dates watermarks; lets tests pin "today".
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    async fn users(&self, progress: &DynProgress) -> Result<Vec<Dated<SourceUser>>, SourceError> {
        let path = &self.config.users;
        let bytes = read(path).await?;
        progress.stage("reading users", Some(parse::count_entries(&bytes)));
        let users = parse::parse_users(
            &bytes,
            &display(path),
            self.config.ignore_case,
            &self.config.mapping,
        )?;
        progress.advance(users.len() as u64);
        tracing::debug!(path = %path.display(), users = users.len(), "read the users file");
        Ok(users)
    }

    async fn groups(&self, progress: &DynProgress) -> Result<Vec<Dated<SourceGroup>>, SourceError> {
        let path = &self.config.groups;
        let bytes = read(path).await?;
        progress.stage("reading groups", Some(parse::count_entries(&bytes)));
        let groups = parse::parse_groups(
            &bytes,
            &display(path),
            self.config.ignore_case,
            &self.config.mapping,
        )?;
        progress.advance(groups.len() as u64);
        tracing::debug!(path = %path.display(), groups = groups.len(), "read the groups file");
        Ok(groups)
    }
}

impl fmt::Debug for FileSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSource")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl IdentitySource for FileSource {
    fn name(&self) -> String {
        format!("file:{}", self.config.users.display())
    }

    async fn watermark(&self) -> Result<Watermark, SourceError> {
        let today = self.clock.now().date_naive();
        Ok(Watermark(today.format(WATERMARK_FORMAT).to_string()))
    }

    async fn snapshot(&self, progress: &DynProgress) -> Result<SourceData, SourceError> {
        let users = self.users(progress).await?;
        let groups = self.groups(progress).await?;
        Ok(SourceData {
            users: users.into_iter().map(|d| d.entry).collect(),
            groups: groups.into_iter().map(|d| d.entry).collect(),
            unreadable: Vec::new(),
            departed: Departed::default(),
            documents: Vec::new(),
        })
    }

    /// The files are read whole every time, so besides what changed the read knows every entry
    /// still there: one removed from a file leaves the source in a differential run too.
    async fn changed_since(
        &self,
        since: &Watermark,
        progress: &DynProgress,
    ) -> Result<SourceData, SourceError> {
        let from = first_day(since)?;
        let users = self.users(progress).await?;
        let groups = self.groups(progress).await?;
        let departed = Departed {
            users: Departures::AllBut(users.iter().map(|d| d.entry.source_id.clone()).collect()),
            groups: Departures::AllBut(groups.iter().map(|d| d.entry.source_id.clone()).collect()),
        };
        Ok(SourceData {
            users: changed(users, from),
            groups: changed(groups, from),
            unreadable: Vec::new(),
            departed,
            documents: Vec::new(),
        })
    }
}

/// Reads a whole file; a missing or unreadable file is invalid configuration of this source.
async fn read(path: &Path) -> Result<Vec<u8>, SourceError> {
    tokio::fs::read(path)
        .await
        .map_err(|error| SourceError::Invalid {
            location: display(path),
            message: format!("cannot read the file: {error}"),
        })
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

/// The first `lastModified` date a differential run from `since` must include.
fn first_day(since: &Watermark) -> Result<NaiveDate, SourceError> {
    let date = NaiveDate::parse_from_str(&since.0, WATERMARK_FORMAT).map_err(|_| {
        SourceError::Invalid {
            location: "watermark".to_owned(),
            message: format!(
                "'{since}' is not a date in YYYY-MM-DD form; was it written by another source?"
            ),
        }
    })?;
    Ok(date.checked_sub_days(TIME_ZONE_SLACK).unwrap_or(date))
}

/// The entries dated `from` or later, in file order.
fn changed<T>(entries: Vec<Dated<T>>, from: NaiveDate) -> Vec<T> {
    entries
        .into_iter()
        .filter(|d| d.last_modified >= from)
        .map(|d| d.entry)
        .collect()
}
