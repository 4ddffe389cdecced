//! What the list commands print: aligned tables for people, JSON with stable shapes for scripts.

use idmsync_domain::RunRecord;
use idmsync_ports::{GroupView, UserView};
use serde::Serialize;

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

/// Renders `rows` under `header` with columns padded to their widest cell.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        out.push_str(&line(row));
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
}
