//! What an operator sees from the binary: output through a closed pipe, colour, JSON log lines
//! a collector can parse, counts in words, why runs failed, and exit statuses.

use std::process::Stdio;

use reqwest::StatusCode;
use serde_json::Value;

use crate::serve::{sandbox, Server, NO_SCHEDULES};
use crate::support::{Run, Sandbox};

const USERS: &str = "\
jlennon;John;Lennon;john@beatles.com;johnpassword;10/10/2015
pmccartney;Paul;McCartney;paul@beatles.com;paulpassword;10/10/2015
gharrison;George;Harrison;george@beatles.com;;10/10/2015
";
const GROUPS: &str = "beatles:jlennon;pmccartney;gharrison:13/10/2015\n";

fn synced(sync_extra: &str) -> Sandbox {
    let s = Sandbox::new(USERS, GROUPS, sync_extra);
    s.idmsync(&["sync"]).ok();
    s
}

#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let s = synced("");
    for args in [
        &["log", "show", "1"][..],
        &["log", "show", "1", "--format", "json"],
        &["log", "list"],
        &["log", "list", "--format", "json"],
        &["users", "list"],
        &["users", "list", "--format", "json"],
        &["groups", "list"],
        &["groups", "list", "--format", "json"],
        &["sync"],
        &["sync", "--dry-run"],
        &["--log-format", "json", "sync"],
        &["migrate"],
    ] {
        // The reader is gone before the command starts, as after `| head -1` has read its line.
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let mut command = s.command(args);
        command.stdout(writer).stderr(Stdio::piped());
        let run = Run::of(command);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr, "", "{args:?}");
    }
}

#[test]
fn logs_into_a_pipe_or_with_no_color_have_no_colour() {
    let s = Sandbox::new(USERS, GROUPS, "");
    for no_color in [None, Some("1")] {
        let mut command = s.command(&["-vv", "sync"]);
        command.env_remove("NO_COLOR");
        if let Some(value) = no_color {
            command.env("NO_COLOR", value);
        }
        let run = Run::of(command);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stderr.contains("run applied"), "{}", run.stderr);
        assert!(!run.stderr.contains("\x1b["), "{:?}", run.stderr);
    }
    let missing = s.idmsync(&["log", "show", "99"]);
    assert_eq!(missing.code, 1);
    assert!(!missing.stderr.contains("\x1b["), "{:?}", missing.stderr);
}

/// Every line of `text` parsed as one JSON object, with the field types a collector relies on.
#[track_caller]
fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}"));
            assert!(value.is_object(), "{line}");
            let fields = value.get("fields").unwrap_or(&value);
            if let Some(run) = fields.get("run") {
                assert!(run.is_i64(), "run is not a number: {line}");
            }
            assert!(fields.get("elapsed").is_none(), "{line}");
            for (key, field) in fields.as_object().into_iter().flatten() {
                if key.ends_with("_secs") {
                    assert!(field.is_number(), "{key} is not a number: {line}");
                }
            }
            if let Some(Value::Object(counts)) = fields.get("counts") {
                assert!(counts.values().all(Value::is_u64), "{line}");
            }
            value
        })
        .collect()
}

#[test]
fn sync_with_json_logs_prints_only_json_objects_with_stable_types() {
    let s = Sandbox::new(USERS, GROUPS, "max_deactivations = 1");
    let first = s.idmsync(&["--log-format", "json", "-vv", "sync"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let end = json_lines(&first.stdout);
    assert_eq!(end.len(), 1, "{}", first.stdout);
    assert_eq!(end[0]["outcome"], "succeeded");
    assert_eq!(end[0]["run"], 1);
    assert_eq!(end[0]["counts"]["users_created"], 3);
    assert!(end[0]["elapsed_secs"].is_f64(), "{}", first.stdout);
    let events = json_lines(&first.stderr);
    assert!(
        events.iter().any(|e| e["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("run applied: 3 users created"))
            && e["fields"]["run"] == 1
            && e["fields"]["users_created"] == 3
            && e["fields"]["elapsed_secs"].is_f64()),
        "{}",
        first.stderr
    );

    let again = s.idmsync(&["--log-format", "json", "-vv", "sync"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    json_lines(&again.stdout);
    json_lines(&again.stderr);

    s.write("users.txt", "");
    let dry = s.idmsync(&["--log-format", "json", "-vv", "sync", "--full", "--dry-run"]);
    assert_eq!(dry.code, 3, "{}", dry.stderr);
    let plan = json_lines(&dry.stdout);
    assert_eq!(plan[0]["outcome"], "dry-run");
    assert!(plan[0]["reason"].is_string(), "{}", dry.stdout);
    json_lines(&dry.stderr);

    let stopped = s.idmsync(&["--log-format", "json", "sync", "--full"]);
    assert_eq!(stopped.code, 3, "{}", stopped.stderr);
    assert_eq!(stopped.stdout, "");
    let refusal = json_lines(&stopped.stderr);
    assert!(
        refusal.iter().any(|e| e["level"] == "ERROR"
            && e["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("safety guard"))),
        "{}",
        stopped.stderr
    );
}

#[test]
fn serve_with_json_logs_prints_only_json_objects_with_stable_types() {
    let s = sandbox(NO_SCHEDULES);
    let server = Server::try_start(s.command(&["--log-format", "json", "-v", "serve"]))
        .unwrap_or_else(|run| panic!("serve exited {}: {}", run.code, run.stderr));
    assert_eq!(server.get("/health/live", None).0, StatusCode::OK);
    // The boot sync's end, so that its events are among the lines checked.
    server.wait_ready();
    let run = server.stop();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "", "plain text on stdout");
    let events = json_lines(&run.stderr);
    let said = |message: &str| {
        events.iter().any(|e| {
            e["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(message))
        })
    };
    assert!(said("idmsync serving"), "{}", run.stderr);
    assert!(said("run applied: "), "{}", run.stderr);
    assert!(said("run finished"), "{}", run.stderr);
    assert!(said("idmsync stopped"), "{}", run.stderr);
}

#[test]
fn counts_agree_with_their_numbers() {
    let s = Sandbox::new(USERS, GROUPS, "");
    let out = s.idmsync(&["sync"]).ok();
    assert!(
        out.contains("3 users created, 1 group created, 3 memberships added, 1 admin granted"),
        "{out}"
    );
    s.write("users.txt", &USERS.replace("John;", "Johnny;"));
    let out = s.idmsync(&["sync", "--full"]).ok();
    assert!(out.ends_with("): 1 user updated\n"), "{out}");
    let list = s.idmsync(&["log", "list"]).ok();
    assert!(list.contains("1 user updated"), "{list}");
}

#[test]
fn log_list_shows_why_a_run_failed_or_was_stopped() {
    let s = synced("max_deactivations = 1");
    s.write("users.txt", "");
    assert_eq!(s.idmsync(&["sync", "--full"]).code, 3);
    std::fs::remove_file(s.path("groups.txt")).expect("rm");
    assert_eq!(s.idmsync(&["sync", "--full"]).code, 1);
    let list = s.idmsync(&["log", "list"]).ok();
    let runs = s.runs();
    for (run, outcome) in [(&runs[0], "failed"), (&runs[1], "aborted")] {
        assert_eq!(run["outcome"], outcome);
        let reason = run["reason"].as_str().expect("a reason");
        let line = list
            .lines()
            .find(|l| l.contains(outcome))
            .unwrap_or_else(|| panic!("no {outcome} run: {list}"));
        assert!(!line.contains("no changes"), "{list}");
        // The table cuts long cells; the reason's start is enough to recognise it.
        let start: String = reason.chars().take(30).collect();
        assert!(line.contains(&start), "{reason}: {list}");
    }
    assert!(runs[0]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("groups.txt")));
}

#[test]
fn log_show_prints_json() {
    let s = synced("");
    let out = s.idmsync(&["log", "show", "1", "--format", "json"]).ok();
    let lines: Value = serde_json::from_str(&out).expect("json");
    let lines = lines.as_array().expect("array");
    assert_eq!(lines.len(), s.log(1).len());
    assert!(lines.iter().any(|l| l["event"] == "created-user"
        && l["message"] == "jlennon (John Lennon, john@beatles.com)"));
}

#[test]
fn a_dry_run_exits_3_when_the_guard_would_stop_the_real_run() {
    let s = synced("max_deactivations = 1");
    s.write("users.txt", "");
    let run = s.idmsync(&["sync", "--full", "--dry-run"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stdout.contains("the safety guard would stop this run"),
        "{}",
        run.stdout
    );
    assert_eq!(
        s.runs().as_array().map(Vec::len),
        Some(1),
        "nothing written"
    );
    s.write("users.txt", USERS);
    s.idmsync(&["sync", "--full", "--dry-run"]).ok();
}

#[test]
fn users_show_and_groups_show_print_one_entry_in_full() {
    let s = Sandbox::new(
        USERS,
        &format!("{GROUPS}music:beatles:13/10/2015\nsolo:jlennon:13/10/2015\n"),
        "max_deactivations = 5",
    );
    s.idmsync(&["sync"]).ok();
    let shown = s.idmsync(&["users", "show", "jlennon"]).ok();
    for line in [
        "external id       jlennon",
        "source id         jlennon",
        "name              John Lennon",
        "status            active",
        "admin             yes",
        "groups            2\n  beatles\n  solo\n",
        "inherited groups  1\n  music\n",
        "history           4\n",
        "  created-user: jlennon (John Lennon, john@beatles.com)\n",
    ] {
        assert!(shown.contains(line), "{line:?} in\n{shown}");
    }
    let group = s
        .idmsync(&["groups", "show", "beatles", "--format", "json"])
        .ok();
    let group: Value = serde_json::from_str(&group).expect("json");
    assert_eq!(group["members"].as_array().map(Vec::len), Some(3));
    assert_eq!(group["parent_groups"], serde_json::json!(["music"]));

    s.write(
        "users.txt",
        &USERS.replace(
            "gharrison;George;Harrison;george@beatles.com;;10/10/2015\n",
            "",
        ),
    );
    s.idmsync(&["sync", "--full"]).ok();
    let gone = s
        .idmsync(&["users", "show", "gharrison", "--format", "json"])
        .ok();
    let gone: Value = serde_json::from_str(&gone).expect("json");
    assert_eq!(gone["status"], "inactive");
    assert!(gone["deactivated_by"].is_string(), "{gone}");
    assert_eq!(gone["groups"], serde_json::json!([]));
    // Newest run first, each run's lines as written: the full run that deactivated the user
    // (and found the group still naming it), then the first sync.
    let history: Vec<(i64, String)> = gone["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| {
            (
                h["run"].as_i64().expect("run"),
                h["event"].as_str().expect("event").into(),
            )
        })
        .collect();
    assert_eq!(
        history,
        [
            (2, "deactivated-user".into()),
            (2, "removed-user-from-group".into()),
            (2, "skipped-member".into()),
            (1, "created-user".into()),
            (1, "added-user-to-group".into()),
        ]
    );

    let missing = s.idmsync(&["users", "show", "nobody"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("no user nobody"),
        "{}",
        missing.stderr
    );
    let missing = s.idmsync(&["groups", "show", "nobody"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("no group nobody"),
        "{}",
        missing.stderr
    );
}

#[test]
fn read_only_commands_never_create_or_migrate_a_database() {
    // A mistyped SQLite path once created and migrated an empty database and listed no users.
    let s = Sandbox::new(USERS, GROUPS, "");
    let file = s.path("data/idmsync.db");
    for args in [
        &["users", "list"][..],
        &["groups", "list"],
        &["log", "list"],
        &["users", "show", "jlennon"],
    ] {
        let run = s.idmsync(args);
        assert_ne!(run.code, 0, "{args:?}: {}", run.stdout);
        assert!(
            run.stderr.contains("does not exist; run `idmsync migrate`"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!file.exists(), "{args:?} created {}", file.display());
    }
    // `migrate` creates it and says what it applied; a second time, that nothing was due.
    let first = s.idmsync(&["migrate"]).ok();
    assert!(first.starts_with("applied "), "{first}");
    assert!(file.exists());
    let again = s.idmsync(&["migrate"]).ok();
    assert_eq!(again.trim(), "the database schema was already up to date");
    let listed = s.idmsync(&["users", "list", "--format", "json"]).ok();
    assert_eq!(listed.trim(), "[]");
}

#[test]
fn completions_and_manual_pages_come_from_the_cli_without_a_configuration() {
    let s = Sandbox::with_config("this is not TOML");
    let bash = s.idmsync(&["completions", "bash"]).ok();
    assert!(bash.contains("complete -F _idmsync"), "{bash}");
    for word in ["sync", "serve", "--dry-run", "--log-format"] {
        assert!(
            bash.contains(word),
            "{word} missing from the bash completions"
        );
    }
    let zsh = s.idmsync(&["completions", "zsh"]).ok();
    assert!(zsh.starts_with("#compdef idmsync"), "{zsh}");

    let dir = s.path("man1");
    std::fs::create_dir(&dir).expect("man dir");
    let said = s.idmsync(&["man", dir.to_str().expect("utf-8")]).ok();
    assert!(said.contains("man idmsync"), "{said}");
    let main_page = std::fs::read_to_string(dir.join("idmsync.1")).expect("idmsync.1");
    assert!(main_page.starts_with(".ie"), "not roff: {main_page}");
    assert!(main_page.contains("idmsync\\-sync(1)"), "{main_page}");
    let sync_page = std::fs::read_to_string(dir.join("idmsync-sync.1")).expect("idmsync-sync.1");
    assert!(sync_page.contains("\\-\\-dry\\-run"), "{sync_page}");
    assert!(dir.join("idmsync-users-show.1").exists());

    let missing = s.idmsync(&["man", s.path("nowhere").to_str().expect("utf-8")]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("writing the manual pages into"),
        "{}",
        missing.stderr
    );
}
