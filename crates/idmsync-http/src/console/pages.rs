//! The console's pages as HTML, one function per page over what the handlers read through the
//! ports. maud escapes every value it writes, so a user's name or a log line cannot become
//! markup. Pages are complete without JavaScript: forms are plain `GET`/`POST` forms with
//! labels; the script only follows a run in progress and filters a run's lines as one types.

use chrono::{DateTime, Utc};
use idmsync_domain::{Counts, LogLine, RunRecord};
use idmsync_ports::{
    DryRunReport, GroupDetail, GroupView, HistoryLine, RunProgress, UserDetail, UserView,
};
use maud::{html, Markup, DOCTYPE};

use super::chart::{self, Point};

/// What every signed-in page needs for its header.
pub(crate) struct Frame<'a> {
    /// Who is signed in.
    pub(crate) login: &'a str,
    /// The session's CSRF token, for the sign-out form.
    pub(crate) csrf: &'a str,
    /// The tenant shown.
    pub(crate) tenant: &'a str,
}

/// The navigation's entries: path and label.
const NAV: [(&str, &str); 4] = [
    ("/runs", "Runs"),
    ("/users", "Users"),
    ("/groups", "Groups"),
    ("/sync", "Sync"),
];

fn document(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · idmsync" }
                link rel="stylesheet" href="/assets/console.css";
                script src="/assets/console.js" defer {}
            }
            body { (body) }
        }
    }
}

/// A signed-in page: the header with the navigation (`current` marked) and sign-out, then
/// `content` under an `h1` of `title`.
pub(crate) fn page(frame: &Frame<'_>, current: &str, title: &str, content: Markup) -> Markup {
    document(
        title,
        html! {
            a.skip href="#main" { "Skip to content" }
            header {
                span.brand { "idmsync" }
                span.tenant { "tenant " strong { (frame.tenant) } }
                nav aria-label="Main" {
                    ul {
                        @for (path, label) in NAV {
                            li {
                                @if path == current {
                                    a href=(path) aria-current="page" { (label) }
                                } @else {
                                    a href=(path) { (label) }
                                }
                            }
                        }
                    }
                }
                form.sign-out method="post" action="/sign-out" {
                    input type="hidden" name="csrf" value=(frame.csrf);
                    span { "Signed in as " strong #signed-in-as { (frame.login) } }
                    button type="submit" { "Sign out" }
                }
            }
            main #main {
                h1 { (title) }
                (content)
            }
        },
    )
}

/// The sign-in form, with `message` above it after a refusal; with `tenants` (a service of
/// several), a choice of the tenant too.
pub(crate) fn sign_in(token: &str, message: Option<&str>, tenants: &[&str]) -> Markup {
    document(
        "Sign in",
        html! {
            main #main .narrow {
                h1 { "Sign in to idmsync" }
                p { "Tenant administrators sign in with the login and password they use for the application." }
                @if let Some(message) = message {
                    p.error role="alert" #sign-in-error { (message) }
                }
                form method="post" action="/sign-in" #sign-in {
                    input type="hidden" name="token" value=(token);
                    @if !tenants.is_empty() {
                        label for="tenant" { "Tenant" }
                        select #tenant name="tenant" required {
                            @for tenant in tenants {
                                option value=(tenant) { (tenant) }
                            }
                        }
                    }
                    label for="login" { "Login" }
                    input #login type="text" name="login" autocomplete="username" required autofocus;
                    label for="password" { "Password" }
                    input #password type="password" name="password" autocomplete="current-password" required;
                    button type="submit" { "Sign in" }
                }
            }
        },
    )
}

/// An error page for a signed-in operator: what went wrong, in a sentence.
pub(crate) fn problem(frame: &Frame<'_>, title: &str, message: &str) -> Markup {
    page(
        frame,
        "",
        title,
        html! { p.error role="alert" { (message) } },
    )
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// How long a run took, or that it is still going.
fn duration(run: &RunRecord) -> String {
    match run.finished_at {
        Some(end) => {
            let ms = (end - run.started_at).num_milliseconds().max(0);
            format!("{:.1} s", ms as f64 / 1000.0)
        }
        None => "—".into(),
    }
}

/// Rows a run changed: every count but warnings.
pub(crate) fn changes(c: &Counts) -> u64 {
    c.users_created
        + c.users_updated
        + c.users_deactivated
        + c.users_reactivated
        + c.groups_created
        + c.groups_updated
        + c.groups_deactivated
        + c.groups_reactivated
        + c.memberships_added
        + c.memberships_removed
        + c.nesting_added
        + c.nesting_removed
        + c.admins_granted
        + c.admins_revoked
}

fn outcome(run: &RunRecord) -> Markup {
    let name = run.outcome.as_str();
    html! { span class={ "outcome " (name) } { (name) } }
}

/// Links to the previous and next page of a list.
fn pager(base: &str, page: u64, more: bool) -> Markup {
    let sep = if base.contains('?') { '&' } else { '?' };
    html! {
        nav.pager aria-label="Pages" {
            @if page > 1 {
                a rel="prev" href={ (base) (sep) "page=" (page - 1) } { "← Newer" }
            }
            span { "Page " (page) }
            @if more {
                a rel="next" href={ (base) (sep) "page=" (page + 1) } { "Older →" }
            }
        }
    }
}

/// The runs page: the chart of the last runs, then one page of the run table.
pub(crate) fn runs(
    frame: &Frame<'_>,
    recent: &[RunRecord],
    shown: &[RunRecord],
    page_no: u64,
    more: bool,
) -> Markup {
    let points: Vec<Point> = recent
        .iter()
        .rev()
        .map(|r| Point {
            run: r.id.0,
            seconds: r.finished_at.map_or(0.0, |end| {
                (end - r.started_at).num_milliseconds() as f64 / 1000.0
            }),
            changes: changes(&r.counts),
            failed: !matches!(
                r.outcome,
                idmsync_domain::Outcome::Succeeded | idmsync_domain::Outcome::Running
            ),
        })
        .collect();
    page(
        frame,
        "/runs",
        "Runs",
        html! {
            (chart::chart(&points))
            table #runs {
                caption { "Runs, newest first" }
                thead { tr {
                    th scope="col" { "Run" } th scope="col" { "Type" } th scope="col" { "Trigger" }
                    th scope="col" { "Started" } th scope="col" { "Duration" } th scope="col" { "Outcome" }
                    th scope="col" { "Changes" }
                } }
                tbody {
                    @for run in shown {
                        tr {
                            td { a href={ "/runs/" (run.id.0) } { (run.id.0) } }
                            td { (run.mode.as_str()) }
                            td { (run.trigger.as_str()) }
                            td { (time(run.started_at)) }
                            td { (duration(run)) }
                            td { (outcome(run)) }
                            td { (run.counts.to_string()) }
                        }
                    }
                    @if shown.is_empty() {
                        tr { td colspan="7" { "No runs yet: start one from " a href="/sync" { "Sync" } "." } }
                    }
                }
            }
            (pager("/runs", page_no, more))
        },
    )
}

/// What a run page's filter asks for.
pub(crate) struct LineFilter<'a> {
    /// Only lines of this event key.
    pub(crate) event: Option<&'a str>,
    /// Only lines containing this text.
    pub(crate) text: Option<&'a str>,
}

/// A run's page: its record, and its lines as `filter` selects them from `lines`.
pub(crate) fn run(
    frame: &Frame<'_>,
    run: &RunRecord,
    lines: &[LogLine],
    filter: &LineFilter<'_>,
) -> Markup {
    let mut keys: Vec<&str> = lines.iter().map(|l| l.event.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    let text = filter.text.map(str::to_lowercase);
    let shown: Vec<&LogLine> = lines
        .iter()
        .filter(|l| filter.event.is_none_or(|e| l.event.as_str() == e))
        .filter(|l| {
            text.as_deref()
                .is_none_or(|t| l.message.to_lowercase().contains(t))
        })
        .collect();
    page(
        frame,
        "/runs",
        &format!("Run {}", run.id.0),
        html! {
            dl.facts {
                dt { "Type" } dd { (run.mode.as_str()) }
                dt { "Trigger" } dd { (run.trigger.as_str()) }
                dt { "Source" } dd { (run.source) }
                dt { "Started" } dd { (time(run.started_at)) }
                dt { "Duration" } dd { (duration(run)) }
                dt { "Outcome" } dd #run-outcome { (outcome(run)) }
                dt { "Changes" } dd { (run.counts.to_string()) }
                @if let Some(reason) = &run.reason {
                    dt { "Reason" } dd.reason { (reason) }
                }
            }
            p { a #download href={ "/runs/" (run.id.0) "/log" } download { "Download the log file" } }
            form.filter method="get" action={ "/runs/" (run.id.0) } #line-filter {
                label for="event" { "Event" }
                select #event name="event" {
                    option value="" { "every event" }
                    @for key in &keys {
                        option value=(key) selected[filter.event == Some(*key)] { (key) }
                    }
                }
                label for="q" { "Text" }
                input #q type="search" name="q" value=(filter.text.unwrap_or_default());
                button type="submit" { "Filter" }
            }
            p #line-count aria-live="polite" { (shown.len()) " of " (lines.len()) " lines" }
            ol.lines #lines {
                @for line in &shown {
                    li data-event=(line.event.as_str()) {
                        span.event { (line.event.as_str()) } ": " span.message { (line.message) }
                    }
                }
            }
        },
    )
}

/// The search form of the users and groups lists.
fn search(action: &str, label: &str, query: &str) -> Markup {
    html! {
        form.search method="get" action=(action) role="search" {
            label for="search" { (label) }
            input #search type="search" name="q" value=(query);
            button type="submit" { "Search" }
        }
    }
}

fn status(active: bool) -> Markup {
    let name = if active { "active" } else { "inactive" };
    html! { span class={ "status " (name) } { (name) } }
}

fn is_active(status: idmsync_domain::UserStatus) -> bool {
    status == idmsync_domain::UserStatus::Active
}

/// The users list: a search and one page of matches.
pub(crate) fn users(
    frame: &Frame<'_>,
    query: &str,
    users: &[UserView],
    page_no: u64,
    more: bool,
) -> Markup {
    let base = format!("/users?q={}", encode(query));
    page(
        frame,
        "/users",
        "Users",
        html! {
            (search("/users", "Login, name or e-mail", query))
            table #users {
                caption { "Users" }
                thead { tr { th scope="col" { "Login" } th scope="col" { "Name" } th scope="col" { "E-mail" } th scope="col" { "Status" } th scope="col" { "Admin" } } }
                tbody {
                    @for u in users {
                        tr {
                            td { a href={ "/users/" (encode(&u.external_id)) } { (u.external_id) } }
                            td { (u.first_name) " " (u.last_name) }
                            td { (u.email.as_deref().unwrap_or("")) }
                            td { (status(is_active(u.status))) }
                            td { @if u.admin { "yes" } }
                        }
                    }
                    @if users.is_empty() { tr { td colspan="5" { "No user matches." } } }
                }
            }
            (pager(&base, page_no, more))
        },
    )
}

/// Links to the pages of `ids`, each under `prefix` (`/users/`, `/groups/`).
fn links(prefix: &str, ids: &[String]) -> Markup {
    html! {
        @if ids.is_empty() {
            p { "None." }
        } @else {
            ul.links {
                @for id in ids { li { a href={ (prefix) (encode(id)) } { (id) } } }
            }
        }
    }
}

fn group_links(ids: &[String]) -> Markup {
    links("/groups/", ids)
}

fn history(lines: &[HistoryLine]) -> Markup {
    html! {
        h2 { "History" }
        @if lines.is_empty() {
            p { "No run has logged a change of it." }
        } @else {
            table #history {
                caption { "Every run-log line about it, newest run first" }
                thead { tr { th scope="col" { "Run" } th scope="col" { "Started" } th scope="col" { "Event" } th scope="col" { "Line" } } }
                tbody {
                    @for h in lines {
                        tr {
                            td { a href={ "/runs/" (h.run.0) } { (h.run.0) } }
                            td { (time(h.started_at)) }
                            td { (h.line.event.as_str()) }
                            td { (h.line.message) }
                        }
                    }
                }
            }
        }
    }
}

/// A user's page: the row, which entry of each source makes it (`sources`, when several
/// sources do), its groups (direct and through nesting) and its history.
pub(crate) fn user(
    frame: &Frame<'_>,
    detail: &UserDetail,
    sources: &[(String, String)],
    lines: &[HistoryLine],
) -> Markup {
    let u = &detail.user;
    page(
        frame,
        "/users",
        &format!("User {}", u.external_id),
        html! {
            dl.facts #user-facts {
                dt { "Name" } dd { (u.first_name) " " (u.last_name) }
                dt { "E-mail" } dd { (u.email.as_deref().unwrap_or("—")) }
                dt { "Status" } dd { (status(is_active(u.status)))
                    @if let Some(by) = &u.deactivated_by { " (deactivated by " (by) ")" } }
                dt { "Tenant administrator" } dd { @if u.admin { "yes" } @else { "no" } }
                dt { "Source id" } dd { code { (u.source_id) } }
                dt { "Locator" } dd { code { (u.locator.as_deref().unwrap_or("—")) } }
                @if !sources.is_empty() {
                    dt { "Sources" } dd #user-sources { ul { @for (source, id) in sources {
                        li { (source) ": " code { (id) } }
                    } } }
                }
                dt { "Last written by a sync" } dd { (u.last_sync_at.map_or_else(|| "—".into(), time)) }
            }
            h2 { "Groups" }
            div #groups-direct { h3 { "Direct" } (group_links(&detail.groups)) }
            div #groups-inherited { h3 { "Through nesting" } (group_links(&detail.inherited)) }
            (history(lines))
        },
    )
}

/// The groups list: a search and one page of matches.
pub(crate) fn groups(
    frame: &Frame<'_>,
    query: &str,
    groups: &[GroupView],
    page_no: u64,
    more: bool,
) -> Markup {
    let base = format!("/groups?q={}", encode(query));
    page(
        frame,
        "/groups",
        "Groups",
        html! {
            (search("/groups", "Group id or name", query))
            table #groups {
                caption { "Groups" }
                thead { tr { th scope="col" { "Group" } th scope="col" { "Name" } th scope="col" { "Status" } th scope="col" { "Members" } th scope="col" { "Child groups" } } }
                tbody {
                    @for g in groups {
                        tr {
                            td { a href={ "/groups/" (encode(&g.external_id)) } { (g.external_id) } }
                            td { (g.name) }
                            td { (status(is_active(g.status))) }
                            td { (g.members.len()) }
                            td { (g.child_groups.len()) }
                        }
                    }
                    @if groups.is_empty() { tr { td colspan="5" { "No group matches." } } }
                }
            }
            (pager(&base, page_no, more))
        },
    )
}

/// A group's page: members, child and parent groups, history.
pub(crate) fn group(frame: &Frame<'_>, detail: &GroupDetail, lines: &[HistoryLine]) -> Markup {
    let g = &detail.group;
    page(
        frame,
        "/groups",
        &format!("Group {}", g.external_id),
        html! {
            dl.facts {
                dt { "Name" } dd { (g.name) }
                dt { "Status" } dd { (status(is_active(g.status))) }
            }
            div #members { h2 { "Members" } (links("/users/", &g.members)) }
            div #children { h2 { "Child groups" } (group_links(&g.child_groups)) }
            div #parents { h2 { "Parent groups" } (group_links(&detail.parents)) }
            (history(lines))
        },
    )
}

/// The two run buttons of a mode: a dry run, and the run itself.
fn run_buttons(csrf: &str, mode: &str, label: &str) -> Markup {
    html! {
        form.action method="post" action="/sync" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="mode" value=(mode);
            fieldset {
                legend { (label) }
                button type="submit" name="action" value="dry-run" id={ "dry-run-" (mode) } { "Dry run: show the changes" }
                button type="submit" name="action" value="start" id={ "start-" (mode) } { "Start the run" }
            }
        }
    }
}

fn progress_text(p: &RunProgress) -> String {
    match p.total {
        Some(total) => format!(
            "Run {} ({}) is {}: {} of {total}",
            p.run.0,
            p.mode.as_str(),
            p.stage,
            p.done
        ),
        None => format!(
            "Run {} ({}) is {}: {} so far",
            p.run.0,
            p.mode.as_str(),
            p.stage,
            p.done
        ),
    }
}

/// The sync page: the run in progress, if any (followed by the script), and the buttons.
pub(crate) fn sync(
    frame: &Frame<'_>,
    running: Option<&RunProgress>,
    notice: Option<&str>,
) -> Markup {
    page(
        frame,
        "/sync",
        "Sync",
        html! {
            @if let Some(notice) = notice { p.notice role="status" { (notice) } }
            section #progress aria-live="polite" data-follow="/sync/progress" data-running=(running.is_some()) {
                @match running {
                    Some(p) => p #progress-text { (progress_text(p)) },
                    None => p #progress-text { "No run is in progress." },
                }
            }
            p { "A dry run reads the source and shows what a run would change, and whether the safety guard would let it; it writes nothing. Its page has a button to apply the changes." }
            (run_buttons(frame.csrf, "differential", "Differential run: the changes since the last run"))
            (run_buttons(frame.csrf, "full", "Full run: the whole source"))
        },
    )
}

/// A dry run's plan, its guard verdict, and the button that applies it.
pub(crate) fn dry_run(frame: &Frame<'_>, report: &DryRunReport, mode: &str) -> Markup {
    page(
        frame,
        "/sync",
        &format!("Dry run ({})", report.mode.as_str()),
        html! {
            p #dry-run-counts { "A " (report.mode.as_str()) " run would make: " strong { (report.counts.to_string()) } "." }
            @match &report.guard {
                Some(reason) => p.error role="alert" #guard-verdict { "The safety guard would stop this run: " (reason) },
                None => p.ok #guard-verdict { "The safety guard would let this run through." },
            }
            form.action method="post" action="/sync" {
                input type="hidden" name="csrf" value=(frame.csrf);
                input type="hidden" name="mode" value=(mode);
                button type="submit" name="action" value="start" #apply { "Apply: start the " (report.mode.as_str()) " run" }
                " "
                a href="/sync" { "Cancel" }
            }
            h2 { "Planned changes" }
            ol.lines #planned {
                @for line in &report.lines {
                    li data-event=(line.event.as_str()) { span.event { (line.event.as_str()) } ": " span.message { (line.message) } }
                }
                @if report.lines.is_empty() { li { "No changes." } }
            }
        },
    )
}

/// `text` as a URL path segment or query value: everything but unreserved characters
/// percent-encoded.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char);
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_paths_encoded() {
        let frame = Frame {
            login: "<admin>",
            csrf: "t",
            tenant: "default",
        };
        let html = problem(&frame, "Oops", "a <script>").into_string();
        assert!(html.contains("&lt;admin&gt;"), "{html}");
        assert!(html.contains("a &lt;script&gt;"), "{html}");
        assert_eq!(encode("cn=a b/c"), "cn%3Da%20b%2Fc");
    }

    #[test]
    fn the_sign_in_form_labels_its_fields() {
        let html = sign_in("tok", Some("refused"), &[]).into_string();
        assert!(html.contains(r#"<label for="login">"#), "{html}");
        assert!(html.contains(r#"<label for="password">"#), "{html}");
        assert!(html.contains(r#"role="alert""#), "{html}");
    }
}
