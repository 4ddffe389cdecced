//! Canaries: the secrets of a configuration (a database password holding the characters a URL
//! treats specially, an LDAP bind password) must come out of the binary nowhere: not on stdout
//! or stderr of any command at the most verbose log levels, not in an error about the
//! configuration, not in a body `serve` answers; whether the database and the directory are
//! unreachable, refuse the password, or go down under a running service.
//!
//! Every output of a scenario is collected and searched at the end, so that a failure lists
//! every leak at once, with the text around it.

use std::io::Read;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use idmsync_test_db::{Backend, TestDatabase};
use idmsync_test_ldap::{fixtures, Slapd};
use reqwest::StatusCode;

use crate::serve::Server;
use crate::support::{Run, Sandbox};

/// The database password: a URL's delimiters, its escape character and an `@` that a careless
/// redaction would split at.
const DB_SECRET: &str = "p#?/@%:w";
/// The LDAP bind password.
const BIND_SECRET: &str = "Canary-b1nd-7f3e";

/// The service account of the directories that do not exist.
const SYNC_DN: &str = "cn=sync,dc=example,dc=com";

const USERS: &str = "jlennon;John;Lennon;john@beatles.com;johnpassword;10/10/2015\n";
const GROUPS: &str = "beatles:jlennon:13/10/2015\n";

/// How loud a run is: the flags and the `RUST_LOG` it gets.
type Loudness = (&'static [&'static str], Option<&'static str>);

const LOUDNESS: &[Loudness] = &[
    (&["-vvv"], None),
    (&["-vvv", "--log-format", "json"], None),
    (&[], Some("trace")),
];

/// The commands that open the database; `auth check` and `serve` are run on their own.
const COMMANDS: &[&[&str]] = &[
    &["sync"],
    &["sync", "--dry-run"],
    &["users", "list"],
    &["groups", "list", "--format", "json"],
    &["log", "list"],
    &["log", "show", "1"],
    &["migrate"],
    &["config", "check"],
    &["config", "check", "--format", "json"],
];

/// `secret` percent-encoded as a URL's user info carries it (every byte but the unreserved).
fn encoded(secret: &str) -> String {
    secret
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What a secret may leak as: whole as written, whole percent-encoded (in either case), and
/// any five characters of it in a row, which is what a redaction that cuts at the wrong
/// delimiter leaves behind.
fn leaked_forms(secret: &str) -> Vec<String> {
    let chars: Vec<char> = secret.chars().collect();
    let mut forms = vec![secret.to_string(), encoded(secret).to_lowercase()];
    forms.extend(chars.windows(5).map(|w| w.iter().collect::<String>()));
    forms
}

/// Everything a scenario printed or was answered, under labels, searched for secrets at the
/// end; and what went wrong besides a leak (a crash, a service that stayed ready).
#[derive(Default)]
struct Transcript {
    texts: Vec<(String, String)>,
    problems: Vec<String>,
}

impl Transcript {
    fn text(&mut self, label: impl Into<String>, text: impl Into<String>) {
        self.texts.push((label.into(), text.into()));
    }

    /// Records a finished command; it must have ended by itself, not by a panic.
    fn run(&mut self, label: &str, run: Run) {
        if run.code == 101 || run.code < 0 {
            self.problems
                .push(format!("{label}: exit status {}: {}", run.code, run.stderr));
        }
        self.text(format!("{label}: stdout"), run.stdout);
        self.text(format!("{label}: stderr"), run.stderr);
    }

    /// Notes a problem unless some output contains `fragment`: the scenario did happen (the
    /// server was asked and answered so), so that a clean transcript means something.
    fn saw(&mut self, fragment: &str) {
        if !self.texts.iter().any(|(_, text)| text.contains(fragment)) {
            self.problems.push(format!(
                "no output says {fragment:?}: the scenario did not happen"
            ));
        }
    }

    /// Fails listing every leak of `secrets` and every problem.
    #[track_caller]
    fn assert_clean(&self, secrets: &[&str]) {
        let mut failures = self.problems.clone();
        for (label, text) in &self.texts {
            let lower = text.to_lowercase();
            for secret in secrets {
                for form in leaked_forms(secret) {
                    let found = if form.contains('%') {
                        lower.find(&form)
                    } else {
                        text.find(&form)
                    };
                    if let Some(at) = found {
                        let before: String = text[..at].chars().rev().take(60).collect();
                        let after: String = text[at..].chars().take(form.len() + 60).collect();
                        let before: String = before.chars().rev().collect();
                        failures.push(format!(
                            "{label}: {form:?} of {secret:?} in …{before}{after}…"
                        ));
                        break;
                    }
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} failures, in {} outputs:\n{}",
            failures.len(),
            self.texts.len(),
            failures.join("\n")
        );
    }
}

/// A port nothing listens on (it was free a moment ago).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// A sandbox with the file source and `database` as its `[database]` section; `serve` runs
/// differential syncs on `differential_cron` only.
fn file_source(database: &str, differential_cron: &str) -> Sandbox {
    let s = Sandbox::with_config(&format!(
        "[database]\n{database}\nconnect_timeout_secs = 2\n\n\
         [sync]\nadmins = [\"jlennon\"]\nfull_cron = \"\"\n\
         differential_cron = \"{differential_cron}\"\n\n\
         [source]\ntype = \"file\"\n\n\
         [source.file]\nusers = \"{{dir}}/users.txt\"\ngroups = \"{{dir}}/groups.txt\"\n\n\
         [http]\nlisten = \"127.0.0.1:0\"\nshutdown_grace_secs = 1\n"
    ));
    s.write("users.txt", USERS);
    s.write("groups.txt", GROUPS);
    s
}

/// `idmsync ARGS` at one loudness, with `env` set.
fn command(s: &Sandbox, loud: &Loudness, args: &[&str], env: &[(&str, &str)]) -> Command {
    let (flags, rust_log) = loud;
    let all: Vec<&str> = flags.iter().chain(args).copied().collect();
    let mut command = s.command(&all);
    command.envs(env.iter().copied());
    if let Some(filter) = rust_log {
        command.env("RUST_LOG", filter);
    }
    command
}

fn label(what: &str, loud: &Loudness, args: &[&str]) -> String {
    let (flags, rust_log) = loud;
    let rust_log = rust_log.map(|f| format!("RUST_LOG={f}"));
    let words: Vec<&str> = rust_log
        .as_deref()
        .into_iter()
        .chain(["idmsync"])
        .chain(flags.iter().chain(args).copied())
        .collect();
    format!("{what}: {}", words.join(" "))
}

/// Every command of the binary at every loudness, `serve` included: if it starts at all, its
/// probes, its metrics and two API calls as an administrator are asked for too.
fn every_command(s: &Sandbox, what: &str, env: &[(&str, &str)], out: &mut Transcript) {
    for loud in LOUDNESS {
        for args in COMMANDS {
            let run = Run::of(command(s, loud, args, env));
            out.run(&label(what, loud, args), run);
        }
        let args = ["auth", "check", "jlennon"];
        let run = Run::with_input(command(s, loud, &args, env), "johnpassword\n");
        out.run(&label(what, loud, &args), run);
        let serve = label(what, loud, &["serve"]);
        match Server::try_start(command(s, loud, &["serve"], env)) {
            Ok(server) => {
                probe(&server, &serve, out);
                out.run(&serve, server.stop());
            }
            Err(run) => out.run(&serve, run),
        }
    }
}

/// The open endpoints and two API calls as an administrator, bodies recorded.
fn probe(server: &Server, label: &str, out: &mut Transcript) {
    let admin = Some(("jlennon", "johnpassword"));
    for (path, user) in [
        ("/health/live", None),
        ("/health/ready", None),
        ("/metrics", None),
        ("/api/enterprise/users", admin),
        ("/api/enterprise/idm-sync-log-entries", admin),
    ] {
        let (status, body) = server.get(path, user);
        out.text(format!("{label}: GET {path} ({status})"), body);
    }
}

/// The URL of a server database with `secret` as the password, written percent-encoded or as
/// typed (which a URL cannot carry, so the settings or the driver must refuse it without
/// repeating it).
fn server_urls(scheme: &str, port: u16, secret: &str) -> Vec<(String, String)> {
    vec![
        (
            format!("{scheme}, percent-encoded"),
            format!(
                "{scheme}://idmsync:{}@127.0.0.1:{port}/idm",
                encoded(secret)
            ),
        ),
        (
            format!("{scheme}, as typed"),
            format!("{scheme}://idmsync:{secret}@127.0.0.1:{port}/idm"),
        ),
    ]
}

#[test]
fn a_postgres_password_shows_nowhere_when_the_server_is_unreachable() {
    let port = closed_port();
    let mut urls = server_urls("postgres", port, DB_SECRET);
    urls.push((
        "postgres, password parameter".into(),
        format!(
            "postgres://idmsync@127.0.0.1:{port}/idm?password={}",
            encoded(DB_SECRET)
        ),
    ));
    let mut out = Transcript::default();
    for (what, url) in urls {
        let s = file_source(&format!("url = \"{url}\""), "");
        every_command(&s, &what, &[], &mut out);
    }
    out.saw(&format!("127.0.0.1:{port}"));
    out.assert_clean(&[DB_SECRET]);
}

#[test]
fn a_mariadb_password_shows_nowhere_when_the_server_is_unreachable() {
    let port = closed_port();
    let mut out = Transcript::default();
    for (what, url) in server_urls("mysql", port, DB_SECRET) {
        let s = file_source(&format!("url = \"{url}\""), "");
        every_command(&s, &what, &[], &mut out);
    }
    out.saw(&format!("127.0.0.1:{port}"));
    out.assert_clean(&[DB_SECRET]);
}

/// The machine's servers, asked with the wrong password (MariaDB's root has none) or for a
/// database that does not exist (PostgreSQL trusts local connections, so it asks for no
/// password and answers about the database instead).
#[test]
fn a_database_password_shows_nowhere_when_the_server_refuses_the_login() {
    let secret = encoded(DB_SECRET);
    let mut out = Transcript::default();
    for (what, url) in [
        (
            "mariadb refusing the password",
            format!("mysql://root:{secret}@127.0.0.1:3306/mysql"),
        ),
        (
            "postgres without the database",
            format!("postgres://postgres:{secret}@127.0.0.1:5432/idmsync_no_such_database"),
        ),
    ] {
        let s = file_source(&format!("url = \"{url}\""), "");
        every_command(&s, what, &[], &mut out);
    }
    out.saw("Access denied for user 'root'");
    out.saw("\"idmsync_no_such_database\" does not exist");
    out.assert_clean(&[DB_SECRET]);
}

#[test]
fn a_database_password_from_the_environment_shows_nowhere() {
    let port = closed_port();
    let mut out = Transcript::default();
    for (what, url) in server_urls("postgres", port, DB_SECRET) {
        let s = file_source("url = \"sqlite://{dir}/unused.db\"", "");
        let env = [("IDMSYNC__DATABASE__URL", url.as_str())];
        every_command(&s, &format!("{what}, from the environment"), &env, &mut out);
    }
    out.saw(&format!("127.0.0.1:{port}"));
    out.assert_clean(&[DB_SECRET]);
}

/// A sandbox with an LDAP source at `url` binding as `bind_dn` with `password` (a
/// `bind_password = …` line, or none), on a SQLite database that a file-source sync filled
/// first, so that logins reach the directory (only known users are looked up there).
fn ldap_source(url: &str, bind_dn: &str, password: &str) -> Sandbox {
    let s = file_source("url = \"sqlite://{dir}/idmsync.db\"", "");
    s.idmsync(&["sync"]).ok();
    s.write_config(&format!(
        "[database]\nurl = \"sqlite://{{dir}}/idmsync.db\"\n\n\
         [sync]\nfull_cron = \"\"\ndifferential_cron = \"\"\n\n\
         [source]\ntype = \"ldap\"\n\n\
         [source.ldap]\nurl = \"{url}\"\nbind_dn = \"{bind_dn}\"\n{password}\n\
         user_search_base = \"ou=people,dc=example,dc=com\"\n\
         group_search_base = \"ou=groups,dc=example,dc=com\"\n\
         connect_timeout_secs = 2\ntimeout_secs = 5\n\n\
         [http]\nlisten = \"127.0.0.1:0\"\nshutdown_grace_secs = 1\n"
    ));
    s
}

#[test]
fn a_bind_password_shows_nowhere_when_the_directory_is_unreachable() {
    let url = format!("ldap://127.0.0.1:{}", closed_port());
    let mut out = Transcript::default();
    let written = format!("bind_password = \"{BIND_SECRET}\"");
    let s = ldap_source(&url, SYNC_DN, &written);
    every_command(&s, "unreachable directory", &[], &mut out);
    let from_env = [("IDMSYNC__SOURCE__LDAP__BIND_PASSWORD", BIND_SECRET)];
    every_command(
        &ldap_source(&url, SYNC_DN, ""),
        "unreachable directory, password from the environment",
        &from_env,
        &mut out,
    );
    out.saw("the directory could not check a password");
    out.saw("Connection refused");
    out.assert_clean(&[BIND_SECRET]);
}

#[test]
fn a_bind_password_shows_nowhere_when_the_directory_refuses_it() {
    let slapd = Slapd::builder().ldif(fixtures::DIRECTORY).start();
    let password = format!("bind_password = \"{BIND_SECRET}\"");
    let s = ldap_source(&slapd.url(), &slapd.sync_dn(), &password);
    let mut out = Transcript::default();
    every_command(&s, "directory refusing the password", &[], &mut out);
    out.saw("invalid credentials (49)");
    out.saw("the directory could not check a password");
    out.assert_clean(&[BIND_SECRET]);
}

/// A configuration mistake next to a secret: the error names the key and the place, never the
/// value.
#[test]
fn configuration_errors_repeat_no_secret() {
    let bind = format!("bind_password = \"{BIND_SECRET}\"");
    let mut out = Transcript::default();
    for (what, password) in [
        (
            "a misspelt key",
            bind.replace("bind_password", "bind_pasword"),
        ),
        ("a list", format!("bind_password = [\"{BIND_SECRET}\"]")),
        (
            "a table",
            format!("bind_password = {{ value = \"{BIND_SECRET}\" }}"),
        ),
        (
            "a missing quote",
            format!("bind_password = \"{BIND_SECRET}"),
        ),
        (
            "a stray quote",
            format!("bind_password = \"{BIND_SECRET}\"\""),
        ),
    ] {
        let s = ldap_source("ldap://127.0.0.1:1", SYNC_DN, &password);
        for loud in LOUDNESS {
            let run = Run::of(command(&s, loud, &["sync"], &[]));
            if run.code != 2 {
                out.problems.push(format!(
                    "{what}: exit status {}, not 2: {}",
                    run.code, run.stderr
                ));
            }
            out.run(&label(what, loud, &["sync"]), run);
        }
    }
    for (what, url) in [
        (
            "no scheme",
            format!("postgres//idmsync:{}@db/idm", encoded(DB_SECRET)),
        ),
        (
            "an unknown scheme",
            format!("postgress://idmsync:{}@db/idm", encoded(DB_SECRET)),
        ),
        (
            "a list",
            format!("[\"postgres://idmsync:{}@db/idm\"]", encoded(DB_SECRET)),
        ),
    ] {
        let url = if url.starts_with('[') {
            url
        } else {
            format!("\"{url}\"")
        };
        let s = file_source(&format!("url = {url}"), "");
        let run = Run::of(command(&s, &LOUDNESS[0], &["sync"], &[]));
        out.run(&format!("database.url with {what}"), run);
    }
    out.assert_clean(&[BIND_SECRET, DB_SECRET]);
}

/// A TCP relay to the machine's PostgreSQL that a test can cut: the database goes down under a
/// running service without touching the server other tests share.
struct Relay {
    port: u16,
    stopping: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl Relay {
    fn to(target: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay");
        let port = listener.local_addr().expect("address").port();
        let stopping = Arc::new(AtomicBool::new(false));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let (stopping, streams) = (stopping.clone(), streams.clone());
            std::thread::spawn(move || {
                for client in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    let (Ok(client), Ok(server)) = (client, TcpStream::connect(target)) else {
                        continue;
                    };
                    let mut kept = streams.lock().expect("streams");
                    for stream in [&client, &server] {
                        kept.push(stream.try_clone().expect("clone"));
                    }
                    pipe(&client, &server);
                    pipe(&server, &client);
                }
            })
        };
        Self {
            port,
            stopping,
            streams,
            acceptor: Some(acceptor),
        }
    }

    /// Closes the port and every relayed connection, as a database server that went away.
    fn cut(&mut self) {
        let Some(acceptor) = self.acceptor.take() else {
            return;
        };
        self.stopping.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then ends and drops (closes) the listener.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        let _ = acceptor.join();
        for stream in self.streams.lock().expect("streams").iter() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
    }
}

/// Copies `from` to `to` until either closes.
fn pipe(from: &TcpStream, to: &TcpStream) {
    let (mut from, mut to) = (
        from.try_clone().expect("clone"),
        to.try_clone().expect("clone"),
    );
    std::thread::spawn(move || {
        let mut buffer = [0; 16 * 1024];
        while let Ok(n @ 1..) = from.read(&mut buffer) {
            if std::io::Write::write_all(&mut to, &buffer[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// `serve` on PostgreSQL (which trusts local connections, so the canary password is carried
/// but never checked), then the database goes away: the probes, the metrics, the API and the
/// scheduled runs (one a second) fail, and none of them, nor the log, may show the password.
#[test]
fn serve_shows_no_password_when_its_database_goes_down() {
    let database = TestDatabase::create(Backend::Postgres);
    let mut out = Transcript::default();
    for loud in [&LOUDNESS[0], &LOUDNESS[2]] {
        let mut relay = Relay::to("127.0.0.1:5432");
        let url = format!(
            "postgres://postgres:{}@127.0.0.1:{}/{}",
            encoded(DB_SECRET),
            relay.port,
            database.name
        );
        let s = file_source(&format!("url = \"{url}\""), "* * * * * *");
        let what = label("database going down", loud, &["serve"]);
        let server = match Server::try_start(command(&s, loud, &["serve"], &[])) {
            Ok(server) => server,
            Err(run) => {
                out.problems.push(format!("{what}: did not start"));
                out.run(&what, run);
                continue;
            }
        };
        server.wait_ready();
        probe(&server, &format!("{what}, database up"), &mut out);
        relay.cut();
        let (status, body) = server.get("/health/ready", None);
        if status == StatusCode::OK {
            out.problems.push(format!(
                "{what}: /health/ready is 200 with the database down: {body}"
            ));
        }
        let (status, body) = server.post("/api/enterprise/idm-sync?type=full");
        out.text(format!("{what}: POST a run ({status})"), body);
        // A few scheduled runs fail on the database and log why.
        std::thread::sleep(Duration::from_secs(3));
        probe(&server, &format!("{what}, database down"), &mut out);
        out.run(&what, server.stop());
    }
    out.saw("\"not-ready\"");
    out.saw("Connection refused");
    out.assert_clean(&[DB_SECRET]);
}
