//! What the commands print: aligned tables and sentences for people, JSON with stable shapes
//! for scripts.

use std::collections::BTreeMap;

use idmsync_domain::{Counts, LogLine, Outcome, RunRecord};
use idmsync_ports::{GroupDetail, GroupView, HistoryLine, UserDetail, UserView};
use idmsync_sync::RunReport;
use serde::Serialize;

use crate::text::{self, Clipped};

/// A user as `users list --format json` prints it. Scripts rely on this shape.
#[derive(Serialize)]
struct UserJson<'a> {
    external_id: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    email: Option<&'a str>,
    status: &'a str,
    admin: bool,
    tenant: &'a str,
}

impl<'a> From<&'a UserView> for UserJson<'a> {
    fn from(u: &'a UserView) -> Self {
        Self {
            external_id: &u.external_id,
            first_name: &u.first_name,
            last_name: &u.last_name,
            email: u.email.as_deref(),
            status: u.status.as_str(),
            admin: u.admin,
            tenant: &u.tenant,
        }
    }
}

/// A user as `users show --format json` prints it: the listed fields and more.
#[derive(Serialize)]
struct UserDetailJson<'a> {
    #[serde(flatten)]
    user: UserJson<'a>,
    source_id: &'a str,
    locator: Option<&'a str>,
    deactivated_by: Option<&'a str>,
    last_sync: Option<String>,
    groups: &'a [String],
    inherited_groups: &'a [String],
    /// With several sources: the entry of each source that makes the user, by source name.
    #[serde(skip_serializing_if = "Option::is_none")]
    sources: Option<BTreeMap<String, String>>,
    history: Vec<HistoryJson<'a>>,
}

/// One line of a user's history in JSON.
#[derive(Serialize)]
struct HistoryJson<'a> {
    run: i64,
    started: Option<String>,
    event: &'a str,
    message: &'a str,
}

/// A group as `groups show --format json` prints it: the listed fields and its parents.
#[derive(Serialize)]
struct GroupDetailJson<'a> {
    #[serde(flatten)]
    group: GroupJson<'a>,
    parent_groups: &'a [String],
}

/// A group as `groups list --format json` prints it.
#[derive(Serialize)]
struct GroupJson<'a> {
    external_id: &'a str,
    name: &'a str,
    status: &'a str,
    members: &'a [String],
    child_groups: &'a [String],
}

/// A run as `log list --format json` prints it.
#[derive(Serialize)]
struct RunJson<'a> {
    id: i64,
    #[serde(rename = "type")]
    mode: &'a str,
    trigger: &'a str,
    source: &'a str,
    started: String,
    finished: Option<String>,
    outcome: &'a str,
    reason: Option<&'a str>,
    counts: &'a idmsync_domain::Counts,
}

/// The widest a table column gets, in terminal columns; longer values end in `…`. A table is
/// for reading, so one long member list or a hostile 100,000-character name must not push the
/// other columns off the screen; `--format json` prints every value whole.
const MAX_CELL_WIDTH: usize = 60;

/// Renders `rows` under `header` with columns padded to their widest cell, cells cut to
/// [`MAX_CELL_WIDTH`] and their control characters escaped (see [`text::clip`]).
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let clip = |cell: &str| text::clip(cell, MAX_CELL_WIDTH);
    let lines: Vec<Vec<Clipped>> = std::iter::once(header.iter().map(|h| clip(h)).collect())
        .chain(rows.iter().map(|row| row.iter().map(|c| clip(c)).collect()))
        .collect();
    let mut widths = vec![0; header.len()];
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.width);
        }
    }
    let mut out = String::new();
    for line in lines {
        let start = out.len();
        for (i, (cell, w)) in line.iter().zip(&widths).enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(&cell.text);
            out.extend(std::iter::repeat_n(' ', w - cell.width));
        }
        out.truncate(start + out[start..].trim_end().len());
        out.push('\n');
    }
    out
}

fn json<T: Serialize>(value: &T) -> String {
    // Serialising plain structs of strings and numbers cannot fail.
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

/// A run-log line as `log show --format json` prints it.
#[derive(Serialize)]
struct LineJson<'a> {
    event: &'a str,
    message: &'a str,
}

impl<'a> From<&'a LogLine> for LineJson<'a> {
    fn from(line: &'a LogLine) -> Self {
        Self {
            event: line.event.as_str(),
            message: &line.message,
        }
    }
}

/// `log show`: one `event-key: message` line each, or a JSON array of `{event, message}`.
pub fn log_lines(lines: &[LogLine], as_json: bool) -> String {
    if as_json {
        return json(&lines.iter().map(LineJson::from).collect::<Vec<_>>());
    }
    lines.iter().map(|line| format!("{line}\n")).collect()
}

/// How `sync` ended, as `--log-format json` prints it on stdout: one object on one line,
/// numbers as numbers, absent values left out.
#[derive(Serialize)]
struct SyncEndJson<'a> {
    outcome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    run: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    elapsed_secs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    counts: Option<Counts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<Vec<LineJson<'a>>>,
}

/// What `sync` prints when the engine has reported: a sentence (after a dry run's change
/// lines) for people, or one JSON object.
pub struct SyncEnd<'a>(&'a RunReport);

impl<'a> SyncEnd<'a> {
    /// The end of the run that `report` describes.
    pub fn of(report: &'a RunReport) -> Self {
        Self(report)
    }

    /// Whether the safety guard stopped the run, or would stop it had it not been a dry run:
    /// the exit status is then 3, so that a script can try a dry run first.
    pub fn guarded(&self) -> bool {
        matches!(
            self.0,
            RunReport::Aborted { .. } | RunReport::DryRun { guard: Some(_), .. }
        )
    }

    /// For people.
    pub fn text(&self) -> String {
        match self.0 {
            RunReport::Applied {
                run,
                mode,
                counts: c,
                elapsed,
            } => format!(
                "{} sync succeeded (run {run}, {:.2}s): {}\n",
                mode.as_str(),
                elapsed.as_secs_f64(),
                c
            ),
            RunReport::Skipped { run } => {
                format!("skipped: another run holds this tenant's lock (recorded as run {run})\n")
            }
            RunReport::Aborted { run, reason, .. } => {
                format!("run {run} stopped by the safety guard: {reason}\n")
            }
            RunReport::DryRun {
                mode,
                changes,
                guard,
            } => {
                let mut out: String = changes.log_lines().map(|l| format!("{l}\n")).collect();
                out.push_str(&format!(
                    "dry run ({} sync), nothing written: {}\n",
                    mode.as_str(),
                    changes.counts()
                ));
                if let Some(reason) = guard {
                    out.push_str(&format!("the safety guard would stop this run: {reason}\n"));
                }
                out
            }
        }
    }

    /// For collectors: one line of JSON.
    pub fn json(&self) -> String {
        let lines: Vec<LogLine> = match self.0 {
            RunReport::DryRun { changes, .. } => changes.log_lines().collect(),
            _ => Vec::new(),
        };
        let end = SyncEndJson {
            outcome: "",
            run: None,
            mode: None,
            elapsed_secs: None,
            counts: None,
            reason: None,
            changes: None,
        };
        let end = match self.0 {
            RunReport::Applied {
                run,
                mode,
                counts,
                elapsed,
            } => SyncEndJson {
                outcome: Outcome::Succeeded.as_str(),
                run: Some(run.0),
                mode: Some(mode.as_str()),
                elapsed_secs: Some(elapsed.as_secs_f64()),
                counts: Some(*counts),
                ..end
            },
            RunReport::Skipped { run } => SyncEndJson {
                outcome: Outcome::SkippedLocked.as_str(),
                run: Some(run.0),
                ..end
            },
            RunReport::Aborted {
                run,
                reason,
                counts,
            } => SyncEndJson {
                outcome: Outcome::Aborted.as_str(),
                run: Some(run.0),
                counts: Some(*counts),
                reason: Some(reason),
                ..end
            },
            RunReport::DryRun {
                mode,
                changes,
                guard,
            } => SyncEndJson {
                outcome: "dry-run",
                mode: Some(mode.as_str()),
                counts: Some(changes.counts()),
                reason: guard.as_deref(),
                changes: Some(lines.iter().map(LineJson::from).collect()),
                ..end
            },
        };
        // Serialising strings and numbers cannot fail.
        serde_json::to_string(&end).unwrap_or_default()
    }
}

/// `users list`.
pub fn users(users: &[UserView], as_json: bool) -> String {
    if as_json {
        return json(&users.iter().map(UserJson::from).collect::<Vec<_>>());
    }
    table(
        &["EXTERNAL ID", "NAME", "EMAIL", "STATUS", "ADMIN"],
        users
            .iter()
            .map(|u| {
                vec![
                    u.external_id.clone(),
                    format!("{} {}", u.first_name, u.last_name)
                        .trim()
                        .to_string(),
                    u.email.clone().unwrap_or_default(),
                    match &u.deactivated_by {
                        Some(by) => format!("{} ({by})", u.status.as_str()),
                        None => u.status.as_str().to_string(),
                    },
                    if u.admin { "yes".into() } else { String::new() },
                ]
            })
            .collect(),
    )
}

/// `groups list`.
pub fn groups(groups: &[GroupView], as_json: bool) -> String {
    if as_json {
        return json(&groups.iter().map(GroupJson::from).collect::<Vec<_>>());
    }
    // Counts, not lists: a group of 50,000 members would make every row as wide as its list.
    table(
        &["EXTERNAL ID", "NAME", "STATUS", "MEMBERS", "CHILD GROUPS"],
        groups
            .iter()
            .map(|g| {
                vec![
                    g.external_id.clone(),
                    g.name.clone(),
                    g.status.as_str().to_string(),
                    g.members.len().to_string(),
                    g.child_groups.len().to_string(),
                ]
            })
            .collect(),
    )
}

impl<'a> From<&'a GroupView> for GroupJson<'a> {
    fn from(g: &'a GroupView) -> Self {
        Self {
            external_id: &g.external_id,
            name: &g.name,
            status: g.status.as_str(),
            members: &g.members,
            child_groups: &g.child_groups,
        }
    }
}

/// One value of a `show` command: a line, or a list with its length and one item a line.
enum Detail<'a> {
    Value(String),
    List(&'a [String]),
}

/// `label  value` lines with the labels padded to the widest; values printed whole (this is
/// the view for one entry), their control characters escaped.
fn details(rows: &[(&str, Detail)]) -> String {
    let whole = |value: &str| text::clip(value, usize::MAX).text;
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (label, detail) in rows {
        let value = match detail {
            Detail::Value(value) => whole(value),
            Detail::List(items) => items.len().to_string(),
        };
        out.push_str(format!("{label:width$}  {value}").trim_end());
        out.push('\n');
        if let Detail::List(items) = detail {
            for item in *items {
                out.push_str(&format!("  {}\n", whole(item)));
            }
        }
    }
    out
}

/// `users show LOGIN`: the row, its direct and inherited groups, and its history.
pub fn user(d: &UserDetail, history: &[HistoryLine], as_json: bool) -> String {
    let u = &d.user;
    let sources = d
        .document
        .as_deref()
        .and_then(idmsync_source_merge::Links::sources_of);
    if as_json {
        return json(&UserDetailJson {
            user: UserJson::from(u),
            source_id: &u.source_id,
            locator: u.locator.as_deref(),
            deactivated_by: u.deactivated_by.as_deref(),
            last_sync: u.last_sync_at.map(time),
            groups: &d.groups,
            inherited_groups: &d.inherited,
            sources: sources.clone().map(BTreeMap::from_iter),
            history: history
                .iter()
                .map(|h| HistoryJson {
                    run: h.run.0,
                    started: Some(time(h.started_at)),
                    event: h.line.event.as_str(),
                    message: &h.line.message,
                })
                .collect(),
        });
    }
    let history: Vec<String> = history
        .iter()
        .map(|h| format!("run {} {}  {}", h.run, time(h.started_at), h.line))
        .collect();
    let sources: Vec<String> = sources
        .iter()
        .flatten()
        .map(|(source, id)| format!("{source}: {id}"))
        .collect();
    let mut fields = vec![
        ("external id", Detail::Value(u.external_id.clone())),
        ("source id", Detail::Value(u.source_id.clone())),
        (
            "locator",
            Detail::Value(u.locator.clone().unwrap_or_default()),
        ),
        (
            "name",
            Detail::Value(format!("{} {}", u.first_name, u.last_name)),
        ),
        ("email", Detail::Value(u.email.clone().unwrap_or_default())),
        ("status", Detail::Value(u.status.as_str().to_string())),
        (
            "deactivated by",
            Detail::Value(u.deactivated_by.clone().unwrap_or_default()),
        ),
        (
            "admin",
            Detail::Value(if u.admin { "yes" } else { "no" }.to_string()),
        ),
        (
            "last sync",
            Detail::Value(u.last_sync_at.map(time).unwrap_or_default()),
        ),
        ("groups", Detail::List(&d.groups)),
        ("inherited groups", Detail::List(&d.inherited)),
    ];
    if !sources.is_empty() {
        fields.push(("sources", Detail::List(&sources)));
    }
    fields.push(("history", Detail::List(&history)));
    details(&fields)
}

/// `groups show NAME`, with the groups it is a direct child of.
pub fn group(d: &GroupDetail, as_json: bool) -> String {
    let (g, parents) = (&d.group, &d.parents);
    if as_json {
        return json(&GroupDetailJson {
            group: GroupJson::from(g),
            parent_groups: parents,
        });
    }
    details(&[
        ("external id", Detail::Value(g.external_id.clone())),
        ("name", Detail::Value(g.name.clone())),
        ("status", Detail::Value(g.status.as_str().to_string())),
        ("members", Detail::List(&g.members)),
        ("child groups", Detail::List(&g.child_groups)),
        ("parent groups", Detail::List(parents)),
    ])
}

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `log list`.
pub fn runs(runs: &[RunRecord], as_json: bool) -> String {
    if as_json {
        let rows: Vec<RunJson> = runs
            .iter()
            .map(|r| RunJson {
                id: r.id.0,
                mode: r.mode.as_str(),
                trigger: r.trigger.as_str(),
                source: &r.source,
                started: time(r.started_at),
                finished: r.finished_at.map(time),
                outcome: r.outcome.as_str(),
                reason: r.reason.as_deref(),
                counts: &r.counts,
            })
            .collect();
        return json(&rows);
    }
    table(
        &[
            "ID",
            "TYPE",
            "TRIGGER",
            "STARTED",
            "FINISHED",
            "OUTCOME",
            "COUNTS OR REASON",
        ],
        runs.iter()
            .map(|r| {
                vec![
                    r.id.to_string(),
                    r.mode.as_str().to_string(),
                    r.trigger.as_str().to_string(),
                    time(r.started_at),
                    r.finished_at.map(time).unwrap_or_default(),
                    r.outcome.as_str().to_string(),
                    match &r.reason {
                        Some(reason) => reason.clone(),
                        None => r.counts.to_string(),
                    },
                ]
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_on_the_widest_cell() {
        let t = table(
            &["A", "B"],
            vec![
                vec!["long value".into(), "x".into()],
                vec!["s".into(), "".into()],
            ],
        );
        assert_eq!(t, "A           B\nlong value  x\ns\n");
    }

    #[test]
    fn tables_count_wide_characters_as_two_columns() {
        let t = table(
            &["NAME", "ID"],
            vec![
                vec!["山田太郎".into(), "yamada".into()],
                vec!["Bob".into(), "bob".into()],
            ],
        );
        assert_eq!(t, "NAME      ID\n山田太郎  yamada\nBob       bob\n");
    }

    #[test]
    fn counts_agree_with_their_numbers() {
        assert_eq!(Counts::default().to_string(), "no changes");
        let one = Counts {
            users_updated: 1,
            admins_granted: 1,
            nesting_added: 1,
            warnings: 1,
            ..Counts::default()
        };
        assert_eq!(
            one.to_string(),
            "1 user updated, 1 nesting added, 1 admin granted, 1 warning"
        );
        let two = Counts {
            groups_created: 2,
            memberships_removed: 3,
            warnings: 2,
            ..Counts::default()
        };
        assert_eq!(
            two.to_string(),
            "2 groups created, 3 memberships removed, 2 warnings"
        );
    }

    #[test]
    fn long_cells_are_cut_and_control_characters_escaped() {
        let huge = "m".repeat(70_000);
        let t = table(
            &["ID", "MEMBERS", "NAME"],
            vec![vec!["g".into(), huge, "evil\u{1b}[2J\nname".into()]],
        );
        let row = t.lines().nth(1).expect("a row");
        assert_eq!(
            row,
            format!("g   {}…  evil\\u{{1b}}[2J\\nname", "m".repeat(59))
        );
        assert_eq!(t.lines().count(), 2, "{t}");
    }
}
