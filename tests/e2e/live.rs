//! Live sync (`sync.live`) against slapd with the syncprov overlay: `serve` applies directory
//! changes within seconds as runs of type `live`, resumes after the directory restarts, and
//! the guard stops an oversized batch.

use std::time::Duration;

use idmsync_test_ldap::{fixtures, SessionLog, Slapd, TestDirectory};
use serde_json::Value;

use crate::ldap::config;
use crate::serve::{Server, NO_SCHEDULES};
use crate::support::Sandbox;

/// How long a change may take to reach the database.
pub(crate) const WITHIN: Duration = Duration::from_secs(20);

fn directory() -> Slapd {
    Slapd::builder()
        .ldif(fixtures::DIRECTORY)
        .syncprov(SessionLog::Operations(100))
        .start()
}

fn live_sandbox(slapd: &Slapd, sync_extra: &str) -> Sandbox {
    let sync = format!("live = true\nlive_batch_ms = 200\n{NO_SCHEDULES}\n{sync_extra}");
    Sandbox::with_config(&format!(
        "{}\n[http]\nlisten = \"127.0.0.1:0\"\nshutdown_grace_secs = 1\n",
        config(slapd, &sync, "")
    ))
}

pub(crate) fn status(s: &Sandbox, login: &str) -> Option<String> {
    s.users()
        .as_array()
        .and_then(|users| users.iter().find(|u| u["external_id"] == login).cloned())
        .map(|u| u["status"].as_str().unwrap_or_default().to_string())
}

pub(crate) fn members(s: &Sandbox, group: &str) -> Value {
    s.groups()
        .as_array()
        .and_then(|groups| groups.iter().find(|g| g["external_id"] == group).cloned())
        .map(|g| g["members"].clone())
        .unwrap_or_default()
}

pub(crate) fn live_runs(s: &Sandbox) -> Vec<Value> {
    s.runs()
        .as_array()
        .expect("runs")
        .iter()
        .filter(|r| r["type"] == "live")
        .cloned()
        .collect()
}

/// Waits until `/health/ready` says the live stream is `state`.
pub(crate) fn wait_live(server: &Server, state: &str) {
    server.wait_for(&format!("the live stream {state}"), WITHIN, |server| {
        let (_, body) = server.get("/health/ready", None);
        serde_json::from_str::<Value>(&body).is_ok_and(|b| b["live"]["state"] == state)
    });
}

pub(crate) fn until(server: &Server, what: &str, check: impl Fn() -> bool) {
    server.wait_for(what, WITHIN, |_| check());
}

#[test]
fn live_sync_applies_deletions_and_member_changes_within_seconds_and_resumes_after_a_restart() {
    let mut slapd = directory();
    let s = live_sandbox(&slapd, "");
    let server = Server::start(&s);
    server.wait_ready();
    wait_live(&server, "connected");
    assert!(live_runs(&s).is_empty(), "the boot sync left nothing to do");
    let (_, metrics) = server.get("/metrics", None);
    assert!(
        metrics
            .lines()
            .any(|l| l == r#"idmsync_live_state{tenant="default",state="connected"} 1"#),
        "{metrics}"
    );
    let suffix = slapd.suffix().to_owned();

    slapd.delete(&format!("uid=dbowie,ou=people,{suffix}"));
    until(&server, "dbowie deactivated", || {
        status(&s, "dbowie").as_deref() == Some("inactive")
    });

    slapd.modify(&format!(
        "dn: uid=mjagger,ou=london,ou=people,{suffix}\nchangetype: modify\nreplace: description\n\
         description: nothing idmsync reads\n\n\
         dn: cn=stones,ou=groups,{suffix}\nchangetype: modify\ndelete: member\n\
         member: uid=cwatts,ou=london,ou=people,{suffix}\n"
    ));
    until(&server, "cwatts out of stones", || {
        !members(&s, "stones").to_string().contains("cwatts")
    });
    let runs = live_runs(&s);
    assert_eq!(
        runs.len(),
        2,
        "one run per batch that changed something: {runs:#?}"
    );
    assert!(
        runs.iter().all(|r| r["outcome"] == "succeeded"),
        "{runs:#?}"
    );

    slapd.start_again();
    wait_live(&server, "connected");
    slapd.delete(&format!("uid=rwood,ou=london,ou=people,{suffix}"));
    until(&server, "rwood deactivated after the restart", || {
        status(&s, "rwood").as_deref() == Some("inactive")
    });
    let stopped = server.stop();
    assert_eq!(stopped.code, 0, "{}", stopped.stderr);
}

#[test]
fn the_guard_stops_a_live_batch_that_deactivates_too_many() {
    let slapd = directory();
    let s = live_sandbox(&slapd, "max_deactivations = 1");
    let server = Server::start(&s);
    server.wait_ready();
    wait_live(&server, "connected");
    let stopped = server.stop();
    assert_eq!(stopped.code, 0, "{}", stopped.stderr);

    // Deleted while nobody follows: the stream's refresh sends both at once, as one batch.
    let suffix = slapd.suffix().to_owned();
    slapd.delete(&format!("uid=dbowie,ou=people,{suffix}"));
    slapd.delete(&format!("uid=rwood,ou=london,ou=people,{suffix}"));
    let server = Server::start(&s);
    until(&server, "an aborted live run", || {
        live_runs(&s).iter().any(|r| r["outcome"] == "aborted")
    });
    assert_eq!(status(&s, "dbowie").as_deref(), Some("active"));
    assert_eq!(status(&s, "rwood").as_deref(), Some("active"));
    drop(server);
}

#[test]
fn config_check_fails_live_sync_on_a_directory_that_cannot_follow() {
    // slapd without the overlay: the root DSE lists the control, the database refuses it.
    let slapd = Slapd::builder().ldif(fixtures::DIRECTORY).start();
    let s = live_sandbox(&slapd, "");
    let out = s.idmsync(&["config", "check"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    let source = out
        .stdout
        .lines()
        .find(|l| l.contains("source"))
        .unwrap_or_default();
    assert!(
        source.starts_with("FAILED")
            && source.contains("timestamps, so deletions wait for a full run")
            && source.contains("sync.live needs RFC 4533 content synchronisation or DirSync"),
        "{}",
        out.stdout
    );
    let with = directory();
    let ok = live_sandbox(&with, "").idmsync(&["config", "check"]).ok();
    assert!(
        ok.contains("RFC 4533 content synchronisation, which sees deletions"),
        "{ok}"
    );
}
