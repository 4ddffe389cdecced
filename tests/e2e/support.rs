//! A sandbox per test: a temporary directory with a config file, source files and a database,
//! and a way to run the binary in it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

/// The database backends every engine test runs on; the server databases come from
/// `idmsync-test-db`, fresh per test.
pub use idmsync_test_db::Backend;
use idmsync_test_db::TestDatabase;

/// One test's private world.
pub struct Sandbox {
    dir: tempfile::TempDir,
    /// A server database, dropped with the sandbox; SQLite lives in the sandbox itself.
    _database: Option<TestDatabase>,
}

/// What a command printed and how it exited.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Runs `command` to its end.
    pub fn of(mut command: Command) -> Self {
        Self::from(command.output().expect("run idmsync"))
    }

    /// Runs `command` with `input` on standard input.
    pub fn with_input(mut command: Command, input: &str) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start idmsync");
        let mut stdin = child.stdin.take().expect("stdin");
        std::io::Write::write_all(&mut stdin, input.as_bytes()).expect("write stdin");
        drop(stdin);
        Self::wait(child)
    }

    /// Waits for a spawned command.
    pub fn wait(child: Child) -> Self {
        Self::from(child.wait_with_output().expect("wait for idmsync"))
    }

    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(self) -> String {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self.stdout
    }
}

impl Sandbox {
    /// A SQLite sandbox whose source files hold `users` and `groups`, with `sync_extra`
    /// appended to the `[sync]` section of its configuration.
    pub fn new(users: &str, groups: &str, sync_extra: &str) -> Self {
        Self::on(Backend::Sqlite, users, groups, sync_extra)
    }

    /// The same on `backend`, with a fresh database.
    pub fn on(backend: Backend, users: &str, groups: &str, sync_extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (url, database) = fresh_database(backend, dir.path());
        let s = Self {
            dir,
            _database: database,
        };
        s.write("users.txt", users);
        s.write("groups.txt", groups);
        s.write(
            "idmsync.toml",
            &format!(
                "[database]\nurl = \"{url}\"\n\n[sync]\nadmins = [\"jlennon\"]\n{sync_extra}\n\n\
                 [source]\ntype = \"file\"\n\n[source.file]\nusers = \"{users}\"\ngroups = \"{groups}\"\n",
                users = s.path("users.txt").display(),
                groups = s.path("groups.txt").display(),
            ),
        );
        s
    }

    /// A sandbox whose configuration file is `config`; `{dir}` in it stands for the sandbox.
    pub fn with_config(config: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Self {
            dir,
            _database: None,
        };
        s.write_config(config);
        s
    }

    /// A sandbox whose configuration file is `config`, `{dir}` in it standing for the sandbox
    /// and `{database}` for the URL of a fresh database on `backend`.
    pub fn with_config_on(backend: Backend, config: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (url, database) = fresh_database(backend, dir.path());
        let s = Self {
            dir,
            _database: database,
        };
        s.write_config(&config.replace("{database}", &url));
        s
    }

    /// Replaces the configuration file; `{dir}` stands for the sandbox.
    pub fn write_config(&self, config: &str) {
        let text = config.replace("{dir}", &self.dir.path().display().to_string());
        self.write("idmsync.toml", &text);
    }

    /// A sandbox holding a copy of the shipped `config/` folder, for running with defaults.
    pub fn with_shipped_config() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
        let target = dir.path().join("config");
        std::fs::create_dir_all(&target).expect("mkdir");
        for entry in std::fs::read_dir(shipped).expect("config dir") {
            let entry = entry.expect("entry");
            if entry.path().is_file() {
                std::fs::copy(entry.path(), target.join(entry.file_name())).expect("copy");
            }
        }
        Self {
            dir,
            _database: None,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, content: &str) {
        std::fs::write(self.path(name), content).expect("write");
    }

    /// `idmsync --config idmsync.toml ARGS` in the sandbox, not started yet: for a test that
    /// sets its environment (`RUST_LOG`, `IDMSYNC__…`).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = self.bare(&["--config", "idmsync.toml"]);
        command.args(args);
        command
    }

    /// `idmsync ARGS` in the sandbox, without the caller's `RUST_LOG` and `IDMSYNC_CONFIG`.
    fn bare(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_idmsync"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("RUST_LOG")
            .env_remove("IDMSYNC_CONFIG");
        command
    }

    /// Runs `idmsync --config idmsync.toml ARGS` in the sandbox.
    pub fn idmsync(&self, args: &[&str]) -> Run {
        Run::of(self.command(args))
    }

    /// Runs `idmsync ARGS` in the sandbox with no `--config`, as a new user would.
    pub fn run_in_dir(&self, args: &[&str]) -> Run {
        Run::of(self.bare(args))
    }

    /// Runs `idmsync --config idmsync.toml ARGS` with `input` on standard input.
    pub fn idmsync_with_input(&self, args: &[&str], input: &str) -> Run {
        Run::with_input(self.command(args), input)
    }

    /// Starts `idmsync --config idmsync.toml ARGS` without waiting for it.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start idmsync")
    }

    /// `users list --format json`, parsed.
    pub fn users(&self) -> Value {
        serde_json::from_str(&self.idmsync(&["users", "list", "--format", "json"]).ok())
            .expect("users json")
    }

    /// `groups list --format json`, parsed.
    pub fn groups(&self) -> Value {
        serde_json::from_str(&self.idmsync(&["groups", "list", "--format", "json"]).ok())
            .expect("groups json")
    }

    /// `log list --format json`, parsed.
    pub fn runs(&self) -> Value {
        serde_json::from_str(&self.idmsync(&["log", "list", "--format", "json"]).ok())
            .expect("runs json")
    }

    /// `log show ID` lines.
    pub fn log(&self, id: i64) -> Vec<String> {
        self.idmsync(&["log", "show", &id.to_string()])
            .ok()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// The URL of a fresh database on `backend` (SQLite: a file under `dir`), and the server
/// database to drop when the test ends.
fn fresh_database(backend: Backend, dir: &Path) -> (String, Option<TestDatabase>) {
    match backend {
        Backend::Sqlite => {
            let file = dir.join("data/idmsync.db");
            (format!("sqlite://{}", file.display()), None)
        }
        server => {
            let database = TestDatabase::create(server);
            (database.url.clone(), Some(database))
        }
    }
}
