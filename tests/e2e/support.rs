//! A sandbox per test: a temporary directory with a config file, source files and a database,
//! and a way to run the binary in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// One test's private world.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

/// What a command printed and how it exited.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
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
    /// A sandbox whose source files hold `users` and `groups`, with `extra` appended to the
    /// `[sync]` section of its configuration.
    pub fn new(users: &str, groups: &str, sync_extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Self { dir };
        s.write("users.txt", users);
        s.write("groups.txt", groups);
        s.write(
            "idmsync.toml",
            &format!(
                "[database]\nurl = \"sqlite://{db}\"\n\n[sync]\nadmins = [\"jlennon\"]\n{sync_extra}\n\n\
                 [source]\ntype = \"file\"\n\n[source.file]\nusers = \"{users}\"\ngroups = \"{groups}\"\n",
                db = s.path("data/idmsync.db").display(),
                users = s.path("users.txt").display(),
                groups = s.path("groups.txt").display(),
            ),
        );
        s
    }

    /// A sandbox whose configuration file is `config`; `{dir}` in it stands for the sandbox.
    pub fn with_config(config: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Self { dir };
        s.write_config(config);
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
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, content: &str) {
        std::fs::write(self.path(name), content).expect("write");
    }

    /// Runs `idmsync --config idmsync.toml ARGS` in the sandbox.
    pub fn idmsync(&self, args: &[&str]) -> Run {
        let mut all = vec!["--config", "idmsync.toml"];
        all.extend_from_slice(args);
        self.run_in_dir(&all)
    }

    /// Runs `idmsync ARGS` in the sandbox with no `--config`, as a new user would.
    pub fn run_in_dir(&self, args: &[&str]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_idmsync"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("RUST_LOG")
            .env_remove("IDMSYNC_CONFIG")
            .output()
            .expect("run idmsync");
        Run::from(output)
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
