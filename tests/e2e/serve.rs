//! `idmsync serve`: sync on boot, schedules, the REST API and graceful shutdown, through a real
//! process on a free port with the file source and SQLite.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{Run, Sandbox};

const USERS: &str = "\
jlennon;John;Lennon;john@beatles.com;johnpassword;10/10/2015
pmccartney;Paul;McCartney;paul@beatles.com;paulpassword;10/10/2015
";
const GROUPS: &str = "beatles:jlennon;pmccartney:13/10/2015\n";

/// A running `idmsync serve`, killed if a test fails before stopping it.
pub(crate) struct Server {
    child: Option<Child>,
    /// Read while the service runs, to its end: at `-vvv` its log would fill a pipe and stall
    /// it, and its stdout is open until it stops.
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
    base: String,
    http: Client,
}

/// The address in the line with which `serve` announces itself: the first line on stdout
/// (`idmsync serving tenant … on http://…`) or, with `--log-format json`, the `idmsync serving`
/// event on stderr.
fn announced(line: &str) -> Option<String> {
    if let Ok(event) = serde_json::from_str::<Value>(line) {
        return (event["fields"]["message"] == "idmsync serving")
            .then(|| event["fields"]["url"].as_str().map(str::to_string))
            .flatten();
    }
    line.strip_prefix("idmsync serving ")?
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .map(str::to_string)
}

/// Reads `stream` to its end on a thread, sending the announced address when it passes.
fn read(stream: impl Read + Send + 'static, found: mpsc::Sender<String>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        // What was read before an error is kept; an error itself is no test failure.
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Some(base) = announced(&line) {
                let _ = found.send(base);
            }
            text.push_str(&line);
            text.push('\n');
        }
        text
    })
}

impl Server {
    /// Starts the service and waits for it to name the address it listens on.
    pub(crate) fn start(s: &Sandbox) -> Self {
        Self::try_start(s.command(&["serve"]))
            .unwrap_or_else(|run| panic!("serve exited {}: {}", run.code, run.stderr))
    }

    /// Starts `command` (an `idmsync serve`); when it exits instead of naming an address, its
    /// output.
    pub(crate) fn try_start(mut command: Command) -> Result<Self, Run> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start idmsync serve");
        let (found, address) = mpsc::channel();
        let stdout = read(child.stdout.take().expect("stdout"), found.clone());
        let stderr = read(child.stderr.take().expect("stderr"), found);
        let mut server = Self {
            child: Some(child),
            stdout: Some(stdout),
            stderr: Some(stderr),
            base: String::new(),
            http: Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
        };
        // Both readers end, dropping their senders, when the process exits without serving.
        match address.recv() {
            Ok(base) => {
                server.base = base;
                Ok(server)
            }
            Err(_) => Err(server.finish()),
        }
    }

    /// Waits for the process to end and returns all it printed.
    fn finish(mut self) -> Run {
        let child = self.child.take().expect("running");
        let mut run = Run::wait(child);
        let text = |reader: Option<JoinHandle<String>>| {
            reader
                .map(|reader| reader.join().expect("output reader"))
                .unwrap_or_default()
        };
        run.stdout = text(self.stdout.take());
        run.stderr = text(self.stderr.take());
        run
    }

    pub(crate) fn get(&self, path: &str, user: Option<(&str, &str)>) -> (StatusCode, String) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some((login, password)) = user {
            request = request.basic_auth(login, Some(password));
        }
        let response = request.send().expect("GET");
        (response.status(), response.text().expect("body"))
    }

    pub(crate) fn post(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .basic_auth("jlennon", Some("johnpassword"))
            .send()
            .expect("POST");
        (response.status(), response.text().expect("body"))
    }

    /// Where the service listens (`http://127.0.0.1:PORT`).
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// A request to `path` on the service, with the client the other helpers use.
    pub(crate) fn request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::blocking::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    fn admin_json(&self, path: &str) -> Value {
        let (status, body) = self.get(path, Some(("jlennon", "johnpassword")));
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        serde_json::from_str(&body).expect("json")
    }

    /// Polls `check` until it holds, at most `limit`: the service's work is asynchronous, and
    /// its run log is the only signal it gives.
    pub(crate) fn wait_for(&self, what: &str, limit: Duration, check: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + limit;
        while !check(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn runs(&self) -> Vec<Value> {
        self.admin_json("/api/enterprise/idm-sync-log-entries")["data"]
            .as_array()
            .expect("a page of log entries")
            .clone()
    }

    pub(crate) fn wait_ready(&self) {
        self.wait_for("readiness", Duration::from_secs(30), |s| {
            s.get("/health/ready", None).0 == StatusCode::OK
        });
    }

    /// SIGTERM, then the exit, with everything the service printed.
    pub(crate) fn stop(self) -> Run {
        let child = self.child.as_ref().expect("running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        self.finish()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub(crate) fn sandbox(sync_extra: &str) -> Sandbox {
    sandbox_with(USERS, GROUPS, sync_extra)
}

/// A sandbox of `users` and `groups` whose `serve` listens on a free port.
pub(crate) fn sandbox_with(users: &str, groups: &str, sync_extra: &str) -> Sandbox {
    let s = Sandbox::new(users, groups, sync_extra);
    let config = std::fs::read_to_string(s.path("idmsync.toml")).expect("config");
    s.write(
        "idmsync.toml",
        &format!("{config}\n[http]\nlisten = \"127.0.0.1:0\"\nshutdown_grace_secs = 1\n"),
    );
    s
}

pub(crate) const NO_SCHEDULES: &str = "full_cron = \"\"\ndifferential_cron = \"\"";

#[test]
fn the_boot_sync_happens_once_and_the_api_serves_its_log() {
    let s = sandbox(NO_SCHEDULES);
    let server = Server::start(&s);
    server.wait_ready();
    let runs = server.runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["trigger"], "boot");
    assert_eq!(runs[0]["type"], "initial-file-sync");
    assert_eq!(runs[0]["mode"], "full");
    assert_eq!(runs[0]["outcome"], "succeeded");
    assert!(runs[0]["timeStamp"]
        .as_str()
        .is_some_and(|t| t.ends_with("+0000")));

    let (status, log) = server.get(
        "/api/enterprise/idm-sync-log-entries/1/logfile",
        Some(("jlennon", "johnpassword")),
    );
    assert_eq!(status, StatusCode::OK);
    assert!(
        log.contains("created-user: jlennon (John Lennon, john@beatles.com)\n"),
        "{log}"
    );

    let users = server.admin_json("/api/enterprise/users");
    assert_eq!(users["data"][0]["externalId"], "jlennon");
    assert_eq!(users["data"][0]["admin"], true);
    let groups = server.admin_json("/api/enterprise/groups?externalId=beatles");
    assert_eq!(
        groups["data"][0]["members"],
        serde_json::json!(["jlennon", "pmccartney"])
    );

    let stopped = server.stop();
    assert_eq!(stopped.code, 0, "{}", stopped.stderr);
    assert!(stopped.stdout.contains("idmsync stopped"));

    let again = Server::start(&s);
    again.wait_ready();
    assert_eq!(
        again.runs().len(),
        1,
        "a restart must not repeat the boot sync"
    );
    assert_eq!(again.stop().code, 0);
}

#[test]
fn access_and_errors_have_the_documented_status_codes() {
    let s = sandbox(NO_SCHEDULES);
    let server = Server::start(&s);
    server.wait_ready();
    let api = "/api/enterprise/users";
    assert_eq!(server.get(api, None).0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        server.get(api, Some(("jlennon", "wrong"))).0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.get(api, Some(("pmccartney", "paulpassword"))).0,
        StatusCode::FORBIDDEN
    );
    let admin = Some(("jlennon", "johnpassword"));
    let (status, body) = server.get("/api/enterprise/idm-sync-log-entries?size=abc", admin);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("size"), "{body}");
    let (status, body) = server.get("/api/enterprise/idm-sync-log-entries/99/logfile", admin);
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(serde_json::from_str::<Value>(&body).is_ok_and(|v| v["message"].is_string()));
    assert_eq!(server.get("/health/live", None).0, StatusCode::OK);
    let (status, metrics) = server.get("/metrics", None);
    assert_eq!(status, StatusCode::OK);
    assert!(
        metrics
            .contains("idmsync_runs_total{tenant=\"default\",type=\"full\",outcome=\"succeeded\",trigger=\"boot\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("idmsync_users{tenant=\"default\",status=\"active\"} 2"),
        "{metrics}"
    );
    assert_eq!(server.stop().code, 0);
}

#[test]
fn a_triggered_run_is_accepted_and_a_second_one_conflicts() {
    let s = sandbox(NO_SCHEDULES);
    let server = Server::start(&s);
    server.wait_ready();
    // From now on a run blocks reading users.txt until the test writes it.
    std::fs::remove_file(s.path("users.txt")).expect("remove");
    let made = std::process::Command::new("mkfifo")
        .arg(s.path("users.txt"))
        .status();
    assert!(made.expect("mkfifo").success());
    let (status, body) = server.post("/api/enterprise/idm-sync?type=full");
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = serde_json::from_str::<Value>(&body).expect("json")["id"]
        .as_i64()
        .expect("id");
    let (status, body) = server.post("/api/enterprise/idm-sync?type=full");
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = server.post("/api/enterprise/idm-sync?type=sideways");
    assert_eq!(status, StatusCode::BAD_REQUEST);

    std::fs::write(s.path("users.txt"), USERS).expect("feed the FIFO");
    server.wait_for("the triggered run", Duration::from_secs(30), |s| {
        s.runs()[0]["outcome"] == "succeeded"
    });
    let runs = server.runs();
    assert_eq!(runs[0]["id"], id);
    assert_eq!(runs[0]["trigger"], "api");
    assert_eq!(server.stop().code, 0);
}

#[test]
fn a_user_run_through_the_api_deactivates_a_leaver() {
    let s = sandbox(NO_SCHEDULES);
    let server = Server::start(&s);
    server.wait_ready();
    let leaver = USERS
        .lines()
        .find(|line| line.starts_with("pmccartney;"))
        .expect("pmccartney in USERS");
    std::fs::write(
        s.path("users.txt"),
        USERS.replace(&format!("{leaver}\n"), ""),
    )
    .expect("users.txt");
    let (status, body) = server.post("/api/enterprise/idm-sync/users/pmccartney");
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let started: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(started["type"], "user-file-sync", "{started:#}");
    let id = started["id"].as_i64().expect("id");
    let entry = format!("/api/enterprise/idm-sync-log-entries/{id}");
    server.wait_for("the user run", Duration::from_secs(30), |s| {
        s.admin_json(&entry)["outcome"] != "running"
    });
    let ended = server.admin_json(&entry);
    assert_eq!(ended["outcome"], "succeeded", "{ended:#}");
    assert_eq!(ended["counts"]["usersDeactivated"], 1, "{ended:#}");
    assert_eq!(server.stop().code, 0);
}

#[test]
fn a_schedule_fires_and_records_its_runs() {
    let s = sandbox("full_cron = \"\"\ndifferential_cron = \"* * * * * *\"");
    let server = Server::start(&s);
    server.wait_ready();
    server.wait_for("a scheduled run", Duration::from_secs(30), |s| {
        s.runs()
            .iter()
            .any(|r| r["trigger"] == "schedule" && r["outcome"] == "succeeded")
    });
    let scheduled = server
        .runs()
        .into_iter()
        .find(|r| r["trigger"] == "schedule");
    assert_eq!(
        scheduled.map(|r| r["type"].clone()),
        Some("differential-file-sync".into())
    );
    assert_eq!(server.stop().code, 0);
}

#[test]
fn sigterm_during_a_run_exits_cleanly_and_changes_nothing() {
    let s = sandbox(NO_SCHEDULES);
    let server = Server::start(&s);
    server.wait_ready();
    let before = s.users();
    std::fs::remove_file(s.path("users.txt")).expect("remove");
    let made = std::process::Command::new("mkfifo")
        .arg(s.path("users.txt"))
        .status();
    assert!(made.expect("mkfifo").success());
    let (status, _) = server.post("/api/enterprise/idm-sync?type=full");
    assert_eq!(status, StatusCode::ACCEPTED);
    let stopped = server.stop();
    assert_eq!(stopped.code, 0, "{}", stopped.stderr);
    assert!(stopped.stderr.contains("cut off"), "{}", stopped.stderr);
    assert_eq!(s.users(), before);
    // The cut-off run is recorded as interrupted by the next run.
    std::fs::remove_file(s.path("users.txt")).expect("remove the FIFO");
    s.write("users.txt", USERS);
    s.idmsync(&["sync"]).ok();
    let outcomes: Vec<Value> = s
        .runs()
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["outcome"].clone())
        .collect();
    assert_eq!(outcomes, ["succeeded", "interrupted", "succeeded"]);
}
