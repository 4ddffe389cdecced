//! What the list commands print: aligned tables for people, JSON with stable shapes for scripts.

use idmsync_domain::RunRecord;
use idmsync_ports::{GroupView, UserView};
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

/// `users list`.
pub fn users(users: &[UserView], as_json: bool) -> String {
    if as_json {
        let rows: Vec<UserJson> = users
            .iter()
            .map(|u| UserJson {
                external_id: &u.external_id,
                first_name: &u.first_name,
                last_name: &u.last_name,
                email: u.email.as_deref(),
                status: u.status.as_str(),
                admin: u.admin,
                tenant: &u.tenant,
            })
            .collect();
        return json(&rows);
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
        let rows: Vec<GroupJson> = groups
            .iter()
            .map(|g| GroupJson {
                external_id: &g.external_id,
                name: &g.name,
                status: g.status.as_str(),
                members: &g.members,
                child_groups: &g.child_groups,
            })
            .collect();
        return json(&rows);
    }
    table(
        &["EXTERNAL ID", "NAME", "STATUS", "MEMBERS", "CHILD GROUPS"],
        groups
            .iter()
            .map(|g| {
                vec![
                    g.external_id.clone(),
                    g.name.clone(),
                    g.status.as_str().to_string(),
                    g.members.join(","),
                    g.child_groups.join(","),
                ]
            })
            .collect(),
    )
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
            "ID", "TYPE", "TRIGGER", "STARTED", "FINISHED", "OUTCOME", "COUNTS",
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
                    r.counts.to_string(),
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
