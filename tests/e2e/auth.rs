//! `idmsync auth check` with database passwords (file source), and the throttle through the
//! REST API's Basic auth (one `serve` process keeps the failure counts; each `auth check` is a
//! process of its own and starts with none).

use std::time::Duration;

use reqwest::StatusCode;

use crate::serve::{sandbox, Server, NO_SCHEDULES};
use crate::support::Sandbox;

const USERS: &str = "\
jlennon;John;Lennon;john@beatles.com;johnpassword;10/10/2015
pmccartney;Paul;McCartney;paul@beatles.com;paulpassword;10/10/2015
gharrison;George;Harrison;george@beatles.com;;10/10/2015
rstarr;Ringo;Starr;;ringopassword;10/10/2015
";

fn synced(auth: &str) -> Sandbox {
    let s = Sandbox::new(
        USERS,
        "beatles:jlennon;pmccartney:13/10/2015\n",
        "max_deactivations = 1",
    );
    if !auth.is_empty() {
        let config = std::fs::read_to_string(s.path("idmsync.toml")).expect("config");
        s.write("idmsync.toml", &format!("{config}\n[auth]\n{auth}\n"));
    }
    s.idmsync(&["sync"]).ok();
    s
}

#[test]
fn a_right_password_is_accepted_and_every_failure_looks_the_same() {
    let s = synced("");
    let ok = s.idmsync_with_input(&["auth", "check", "jlennon"], "johnpassword\n");
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(ok.stdout, "ok: jlennon (tenant admin)\n");
    let ok = s.idmsync_with_input(&["auth", "check", "pmccartney"], "paulpassword");
    assert_eq!(ok.stdout, "ok: pmccartney\n");

    for (user, password) in [
        ("jlennon", "wrong"),
        ("nobody", "johnpassword"),
        ("gharrison", ""),
        ("gharrison", "anything"),
        ("JLennon", "johnpassword"),
        ("jlennon", "   "),
        ("*", "johnpassword"),
    ] {
        let run = s.idmsync_with_input(&["auth", "check", user], password);
        assert_eq!(run.code, 1, "{user}: {}", run.stdout);
        assert_eq!(run.stderr, "authentication failed\n", "{user}");
        assert_eq!(run.stdout, "");
    }
}

#[test]
fn an_inactive_user_cannot_log_in() {
    let s = synced("");
    s.write(
        "users.txt",
        &USERS.replace("rstarr;Ringo;Starr;;ringopassword;10/10/2015\n", ""),
    );
    s.idmsync(&["sync", "--full"]).ok();
    let run = s.idmsync_with_input(&["auth", "check", "rstarr"], "ringopassword");
    assert_eq!(run.code, 1);
}

#[test]
fn logins_by_email_ignoring_case() {
    let s = synced("login = \"email\"\ncase_sensitive = false");
    let ok = s.idmsync_with_input(&["auth", "check", "John@Beatles.com"], "johnpassword");
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(ok.stdout, "ok: jlennon (tenant admin)\n");
    let run = s.idmsync_with_input(&["auth", "check", "jlennon"], "johnpassword");
    assert_eq!(run.code, 1, "the external id is not the login now");
}

#[test]
fn the_password_is_never_printed_even_when_verbose() {
    let s = synced("");
    let run = s.idmsync_with_input(&["-vvv", "auth", "check", "jlennon"], "Canary-Pa55word");
    assert_eq!(run.code, 1);
    assert!(!run.stderr.contains("Canary-Pa55word"));
    assert!(!run.stdout.contains("Canary-Pa55word"));
}

#[test]
fn the_api_locks_a_login_after_max_failures_and_a_success_resets_the_count() {
    let s = sandbox(NO_SCHEDULES);
    let config = std::fs::read_to_string(s.path("idmsync.toml")).expect("config");
    s.write(
        "idmsync.toml",
        &format!("{config}\n[auth]\nmax_failures = 3\nlockout_secs = 2\n"),
    );
    let server = Server::start(&s);
    server.wait_ready();
    let api = "/api/enterprise/users";
    let right = Some(("jlennon", "johnpassword"));
    let wrong = Some(("jlennon", "wrong"));

    for _ in 0..2 {
        assert_eq!(server.get(api, wrong).0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        server.get(api, right).0,
        StatusCode::OK,
        "2 failures: not yet"
    );
    for _ in 0..3 {
        assert_eq!(server.get(api, wrong).0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        server.get(api, right).0,
        StatusCode::UNAUTHORIZED,
        "the 4th attempt fails even with the right password"
    );
    assert_eq!(
        server.get(api, Some(("pmccartney", "paulpassword"))).0,
        StatusCode::FORBIDDEN,
        "other logins are not locked"
    );
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(
        server.get(api, right).0,
        StatusCode::OK,
        "after lockout_secs"
    );
}
