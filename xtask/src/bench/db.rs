//! The databases the bench writes to: a fresh, uniquely named one per scenario run (an
//! `idmsync-test-db` database, dropped afterwards), the URL idmsync gets, and the limits
//! measured with each backend's own client: a bulk load of the same rows into empty tables with
//! the same columns, primary keys and unique keys (issue 17's limit: no foreign key), and a read
//! of the whole state.

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
    /// [`keep_only_unique_keys`](Self::keep_only_unique_keys) then makes them issue 17's
    /// "tables with their primary and unique keys".
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

    /// Drops every foreign key and every index that is neither a primary key nor unique from
    /// the migrated tables (unmeasured), leaving the columns, primary keys and unique keys:
    /// what issue 17's bulk-load limit loads into. SQLite keeps its foreign-key clauses (a
    /// table must be rebuilt to lose one), but the load script turns their enforcement off,
    /// which is the same.
    pub fn keep_only_unique_keys(&self) -> Result<()> {
        match self.db {
            Db::Postgres => {
                self.query(
                    "DO $$ DECLARE r record; BEGIN \
                     FOR r IN SELECT conrelid::regclass AS t, conname FROM pg_constraint \
                     WHERE contype = 'f' AND connamespace = current_schema()::regnamespace LOOP \
                     EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.t, r.conname); \
                     END LOOP; \
                     FOR r IN SELECT i.indexrelid::regclass AS ix FROM pg_index i \
                     JOIN pg_class c ON c.oid = i.indrelid \
                     WHERE c.relnamespace = current_schema()::regnamespace \
                     AND NOT i.indisunique AND NOT i.indisprimary LOOP \
                     EXECUTE format('DROP INDEX %s', r.ix); \
                     END LOOP; END $$;",
                )?;
            }
            Db::Mariadb => {
                // The foreign keys first: MariaDB refuses to drop an index a foreign key uses.
                for select in [
                    "SELECT CONCAT('ALTER TABLE `', TABLE_NAME, '` DROP FOREIGN KEY `', \
                     CONSTRAINT_NAME, '`;') FROM information_schema.REFERENTIAL_CONSTRAINTS \
                     WHERE CONSTRAINT_SCHEMA = DATABASE()",
                    "SELECT DISTINCT CONCAT('ALTER TABLE `', TABLE_NAME, '` DROP INDEX `', \
                     INDEX_NAME, '`;') FROM information_schema.STATISTICS \
                     WHERE TABLE_SCHEMA = DATABASE() AND NON_UNIQUE = 1",
                ] {
                    self.run_generated(select)?;
                }
            }
            Db::Sqlite => {
                self.run_generated(
                    "SELECT 'DROP INDEX \"' || il.name || '\";' \
                     FROM sqlite_master AS m, pragma_index_list(m.name) AS il \
                     WHERE m.type = 'table' AND il.\"unique\" = 0 AND il.origin = 'c'",
                )?;
            }
        }
        Ok(())
    }

    /// Runs the statements that `select` returns, one per row.
    fn run_generated(&self, select: &str) -> Result<()> {
        let statements = self.query(select)?;
        if !statements.trim().is_empty() {
            self.query(&statements)?;
        }
        Ok(())
    }

    /// The command that bulk-loads `files` (from [`super::rows::write`], in table order) into
    /// the migrated, empty tables in one transaction: `\copy` for PostgreSQL, `LOAD DATA LOCAL
    /// INFILE` for MariaDB, `.import` for SQLite (with `foreign_keys` off, sqlite3's default,
    /// said explicitly). `script_dir` receives the script it runs. With `keys`, the tables
    /// should have been through [`keep_only_unique_keys`](Self::keep_only_unique_keys); without,
    /// the rows go into copies of the tables made by `CREATE TABLE … AS SELECT`, which have the
    /// columns but no key, index or constraint.
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
                format!(
                    ".mode tabs\nPRAGMA foreign_keys = OFF;\nBEGIN;\n{create}{imports}COMMIT;\n"
                )
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
        let status = self.query(&sql)?.trim().to_string();
        Ok((!status.is_empty()).then_some(status))
    }

    /// Runs `sql` (one statement or several) with the backend's client and returns what it
    /// printed: unaligned rows without headers, one per line.
    fn query(&self, sql: &str) -> Result<String> {
        let mut command = Command::new(self.program());
        match self.db {
            Db::Postgres => {
                command
                    .args(PSQL_SERVER)
                    .args(["-A", "-t", "-d", &self.database.name, "-c", sql]);
            }
            Db::Mariadb => {
                command
                    .args(MYSQL_SERVER)
                    .args(["-N", "-B", "-e", sql, &self.database.name]);
            }
            Db::Sqlite => {
                command
                    .args(["-bail", "-cmd", ".timeout 5000"])
                    .args(self.database.sqlite_path())
                    .arg(sql);
            }
        }
        let output = run(command.stdin(Stdio::null()), "querying")?;
        Ok(String::from_utf8_lossy(&output).into_owned())
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
    run(command.stdout(Stdio::null()), what).map(drop)
}

/// Runs `command` to completion and returns its stdout, or fails with its stderr.
fn run(command: &mut Command, what: &str) -> Result<Vec<u8>> {
    let output = command
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
    Ok(output.stdout)
}
