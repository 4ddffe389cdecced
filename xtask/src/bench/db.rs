//! The databases the bench writes to: a fresh, uniquely named one per scenario run (an
//! `idmsync-test-db` database, dropped afterwards), the URL idmsync gets, and the limits
//! measured with each backend's own client: a bulk load of the same rows into the same (empty)
//! tables, and a read of the whole state.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use idmsync_test_db::{unique, Backend, TestDatabase};

use super::measure::Measured;
use super::options::Db;
use super::rows::TABLES;
use crate::tidy::workspace_root;

/// The tables idmsync reads at the start of every run (users, groups and both edge tables).
const STATE_TABLES: [&str; 4] = [
    "idm_users",
    "idm_groups",
    "idm_user_memberships",
    "idm_group_nesting",
];

/// One database created for the bench. Dropping it drops the database (or the SQLite file's
/// folder), so a failed run leaves nothing behind.
pub struct Database {
    db: Db,
    database: TestDatabase,
    /// Names this database's scripts (SQLite files are all called `idm.db`).
    label: String,
}

/// psql's arguments for the local server: no ~/.psqlrc, quiet, stop at the first error.
const PSQL_SERVER: [&str; 8] = [
    "-X",
    "-q",
    "-v",
    "ON_ERROR_STOP=1",
    "-h",
    "127.0.0.1",
    "-U",
    "postgres",
];
/// mysql's arguments for the local server.
const MYSQL_SERVER: [&str; 6] = ["-h", "127.0.0.1", "-P", "3306", "-u", "root"];

impl Database {
    /// Creates an empty database; for SQLite, the folder of its file too, since the limits'
    /// `sqlite3` does not create one.
    pub fn create(db: Db) -> Result<Database> {
        let database = TestDatabase::create(match db {
            Db::Sqlite => Backend::Sqlite,
            Db::Postgres => Backend::Postgres,
            Db::Mariadb => Backend::Mysql,
        });
        if let Some(folder) = database.sqlite_path().and_then(Path::parent) {
            std::fs::create_dir_all(folder)
                .with_context(|| format!("creating {}", folder.display()))?;
        }
        Ok(Database {
            db,
            database,
            label: unique("idmsync_bench"),
        })
    }

    /// What idmsync's `database.url` should say.
    pub fn url(&self) -> String {
        self.database.url.clone()
    }

    /// Creates idmsync's tables with its own migrations (unmeasured), for the bulk-load limit.
    pub fn migrate(&self) -> Result<()> {
        let dir = workspace_root().join("migrations").join(match self.db {
            Db::Sqlite => "sqlite",
            Db::Postgres => "postgres",
            Db::Mariadb => "mysql",
        });
        let mut migrations: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .map(|entry| entry.map(|e| e.path().join("up.sql")))
            .collect::<Result<_, _>>()?;
        migrations.sort();
        for up in migrations {
            let mut command = self.client();
            command.stdin(
                std::fs::File::open(&up).with_context(|| format!("opening {}", up.display()))?,
            );
            check(&mut command, &format!("applying {}", up.display()))?;
        }
        Ok(())
    }

    /// The command that bulk-loads `files` (from [`super::rows::write`], in table order) into
    /// the migrated, empty tables in one transaction: `\copy` for PostgreSQL, `LOAD DATA LOCAL
    /// INFILE` for MariaDB, `.import` for SQLite. `script_dir` receives the script it runs.
    /// Without `keys`, the rows go into copies of the tables made by `CREATE TABLE … AS SELECT`,
    /// which have the columns but no key, index or constraint.
    pub fn bulk_load(&self, files: &[PathBuf], script_dir: &Path, keys: bool) -> Result<Measured> {
        let (prefix, create) = if keys {
            ("", String::new())
        } else {
            let create = TABLES
                .iter()
                .map(|table| {
                    format!("CREATE TABLE bare_{table} AS SELECT * FROM {table} WHERE 1 = 0;\n")
                })
                .collect();
            ("bare_", create)
        };
        let tables: Vec<String> = TABLES.iter().map(|t| format!("{prefix}{t}")).collect();
        let pairs = tables.iter().zip(files);
        let script = match self.db {
            Db::Postgres => {
                let copies: String = pairs
                    .map(|(table, file)| format!("\\copy {table} FROM '{}'\n", file.display()))
                    .collect();
                format!("BEGIN;\n{create}{copies}COMMIT;\n")
            }
            Db::Mariadb => {
                let loads: String = pairs
                    .map(|(table, file)| {
                        format!(
                            "LOAD DATA LOCAL INFILE '{}' INTO TABLE {table} CHARACTER SET utf8mb4;\n",
                            file.display()
                        )
                    })
                    .collect();
                format!("SET autocommit = 0;\n{create}{loads}COMMIT;\n")
            }
            Db::Sqlite => {
                let imports: String = pairs
                    .map(|(table, file)| format!(".import {} {table}\n", file.display()))
                    .collect();
                format!(".mode tabs\nBEGIN;\n{create}{imports}COMMIT;\n")
            }
        };
        self.scripted(&script, script_dir, "load")
    }

    /// The command that reads every row of the tables idmsync loads its state from, to
    /// /dev/null: the floor under a run that must compare the source against the database.
    pub fn read_state(&self, script_dir: &Path) -> Result<Measured> {
        let sql: String = STATE_TABLES
            .iter()
            .map(|table| match self.db {
                Db::Postgres => format!("\\copy (SELECT * FROM {table}) TO '/dev/null'\n"),
                Db::Mariadb | Db::Sqlite => format!("SELECT * FROM {table};\n"),
            })
            .collect();
        self.scripted(&sql, script_dir, "read")
    }

    /// The `status` of the user whose login is `login` (`idm_users.external_id`), or `None` if
    /// there is no such user: one query with the backend's client, which the live scenario
    /// polls. A SQLite file in WAL mode (idmsync's) lets it read while idmsync writes.
    pub fn user_status(&self, login: &str) -> Result<Option<String>> {
        let sql = format!(
            "SELECT status FROM idm_users WHERE external_id = '{}'",
            login.replace('\'', "''")
        );
        let mut command = Command::new(self.program());
        match self.db {
            Db::Postgres => {
                command
                    .args(PSQL_SERVER)
                    .args(["-A", "-t", "-d", &self.database.name, "-c", &sql]);
            }
            Db::Mariadb => {
                command
                    .args(MYSQL_SERVER)
                    .args(["-N", "-B", "-e", &sql, &self.database.name]);
            }
            Db::Sqlite => {
                command
                    .args(["-bail", "-cmd", ".timeout 5000"])
                    .args(self.database.sqlite_path())
                    .arg(&sql);
            }
        }
        let output = command
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {command:?}"))?;
        if !output.status.success() {
            bail!(
                "{command:?} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let status = String::from_utf8_lossy(&output.stdout).trim().to_string();
        Ok((!status.is_empty()).then_some(status))
    }

    /// The measured [`client`](Self::client) with `script` (saved in `script_dir`) as its
    /// stdin.
    fn scripted(&self, script: &str, script_dir: &Path, what: &str) -> Result<Measured> {
        let path = script_dir.join(format!("{}-{what}.sql", self.label));
        std::fs::write(&path, script).with_context(|| format!("writing {}", path.display()))?;
        let mut measured = Measured::new(self.program())?;
        self.connect(&mut measured.command);
        measured.command.stdin(
            std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?,
        );
        Ok(measured)
    }

    /// The backend's command-line client connected to this database, reading SQL from stdin,
    /// stopping at the first error, with results to /dev/null.
    fn client(&self) -> Command {
        let mut command = Command::new(self.program());
        self.connect(&mut command);
        command
    }

    /// The backend's command-line client.
    fn program(&self) -> &'static str {
        match self.db {
            Db::Postgres => "psql",
            Db::Mariadb => "mysql",
            Db::Sqlite => "sqlite3",
        }
    }

    /// Adds the arguments that connect [`program`](Self::program) to this database.
    fn connect(&self, command: &mut Command) {
        match self.db {
            Db::Postgres => {
                command.args(PSQL_SERVER).args(["-d", &self.database.name]);
            }
            Db::Mariadb => {
                // --quick streams rows instead of buffering each result set in the client.
                command.args(MYSQL_SERVER).args([
                    "--local-infile=1",
                    "--quick",
                    "--default-character-set=utf8mb4",
                    &self.database.name,
                ]);
            }
            Db::Sqlite => {
                command.arg("-bail").args(self.database.sqlite_path());
            }
        }
        command.stdout(Stdio::null());
    }
}

/// Runs `command` to completion, failing with its stderr if it fails.
fn check(command: &mut Command, what: &str) -> Result<()> {
    let output = command
        .stdout(Stdio::null())
        .output()
        .with_context(|| format!("running {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{what}: {:?} failed ({}): {}",
            command.get_program(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
