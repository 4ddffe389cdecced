//! Architecture checks written as ordinary tests: the invariants that `docs/architecture.md`
//! states as absences ("the domain performs no I/O", "only the store crate knows diesel").
//!
//! The dependency rules are read from the crate table of `docs/architecture.md` itself (its
//! "may depend on" column), so the map a newcomer reads and the check that enforces it cannot
//! drift apart: a new dependency is allowed by writing it into the table, where a reviewer sees it.

use std::path::PathBuf;

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// The rules of the crate table, used by the tests below.
#[cfg(test)]
mod rules {
    use std::collections::{BTreeMap, BTreeSet};

    /// External crates that decide the architecture: only the crates whose row names them may use
    /// them.
    const GUARDED: &[&str] = &[
        "diesel",
        "diesel_migrations",
        "diesel-async",
        "tokio-postgres",
        "mysql_async",
        "ldap3",
        "axum",
        "axum-server",
        "argon2",
        "rustls",
        "rcgen",
        "cron",
        "anyhow",
    ];

    /// The prefix of every workspace crate; the table names them without it.
    const PREFIX: &str = "idmsync-";

    /// What a row of the crate table allows.
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct Allowed {
        /// The names in the "may depend on" column (`domain`, `diesel`, …).
        pub names: BTreeSet<String>,
        /// `everything above`: any other workspace crate.
        pub everything: bool,
        /// **no I/O**: the names are the crate's only dependencies.
        pub exhaustive: bool,
    }

    /// The crate table of `architecture` (the text of docs/architecture.md): crate name to what its
    /// row allows. Text after a colon is commentary; names in parentheses count as names.
    pub fn crate_table(architecture: &str) -> BTreeMap<String, Allowed> {
        let mut table = BTreeMap::new();
        for line in architecture.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            // `| `name` | job | may depend on |` splits into ["", name, job, deps, ""].
            let [_, name, _, deps, _] = cells[..] else {
                continue;
            };
            let Some(name) = name
                .strip_prefix('`')
                .and_then(|n| n.strip_suffix('`'))
                .filter(|n| *n == "idmsync" || n.starts_with(PREFIX))
            else {
                continue;
            };
            let (rule, comment) = deps.split_once(':').unwrap_or((deps, ""));
            let names: BTreeSet<String> = rule
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .filter(|w| !w.is_empty() && *w != "everything" && *w != "above")
                .map(str::to_string)
                .collect();
            table.insert(
                name.to_string(),
                Allowed {
                    names,
                    everything: rule.contains("everything above"),
                    exhaustive: comment.contains("no I/O"),
                },
            );
        }
        table
    }

    /// The code map of `architecture`: for each crate (a `### \`name\`` heading under
    /// `## Code map`), the files its list names (`- \`path\`: …`, relative to its `src/`).
    pub fn code_map(architecture: &str) -> BTreeMap<String, BTreeSet<String>> {
        let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let Some((_, section)) = architecture.split_once("\n## Code map\n") else {
            return map;
        };
        let section = section.split("\n## ").next().unwrap_or(section);
        let mut current = None;
        for line in section.lines() {
            let quoted = |text: &str| {
                let text = text.strip_prefix('`')?;
                text.split_once('`').map(|(name, _)| name.to_string())
            };
            if let Some(heading) = line.strip_prefix("### ") {
                current = quoted(heading);
            } else if let (Some(krate), Some(item)) = (&current, line.strip_prefix("- ")) {
                if let Some(file) = quoted(item) {
                    map.entry(krate.clone()).or_default().insert(file);
                }
            }
        }
        map
    }

    /// The dependencies of `krate` that its row does not allow, as messages.
    pub fn violations(krate: &str, deps: &BTreeSet<String>, allowed: &Allowed) -> Vec<String> {
        deps.iter()
            .filter(|dep| {
                let named = match dep.strip_prefix(PREFIX) {
                    Some(short) => allowed.everything || allowed.names.contains(short),
                    None => allowed.names.contains(dep.as_str()),
                };
                let ruled = allowed.exhaustive
                    || dep.starts_with(PREFIX)
                    || GUARDED.contains(&dep.as_str());
                ruled && !named
            })
            .map(|dep| {
                format!(
                    "{krate} depends on {dep}, which its row of the crate table in \
                     docs/architecture.md does not allow"
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use serde_json::Value;

    use super::rules::{code_map, crate_table, violations};
    use super::workspace_root;

    /// Direct normal (non-dev) dependencies of each workspace package.
    fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
        let out = Command::new(env!("CARGO"))
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .current_dir(workspace_root())
            .output()
            .expect("cargo metadata");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata json");
        let mut map = BTreeMap::new();
        for p in meta["packages"].as_array().expect("packages") {
            let deps = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].is_null())
                .filter_map(|d| d["name"].as_str().map(str::to_string))
                .collect();
            map.insert(p["name"].as_str().expect("name").to_string(), deps);
        }
        map
    }

    fn architecture() -> String {
        std::fs::read_to_string(workspace_root().join("docs/architecture.md"))
            .expect("reading docs/architecture.md")
    }

    fn names(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_dependency_is_allowed_by_the_crate_table() {
        let table = crate_table(&architecture());
        let mut found = Vec::new();
        for (krate, deps) in dependencies() {
            if krate == "xtask" {
                continue;
            }
            let allowed = table
                .get(&krate)
                .unwrap_or_else(|| panic!("{krate} has no row in docs/architecture.md's table"));
            found.extend(violations(&krate, &deps, allowed));
        }
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    #[test]
    fn the_table_reads_as_the_rules_it_states() {
        let table = crate_table(&architecture());
        let domain = &table["idmsync-domain"];
        assert!(domain.exhaustive);
        assert_eq!(
            domain.names,
            names(&["chrono", "serde", "thiserror", "arcstr"])
        );
        assert!(table["idmsync"].everything);
        assert!(table["idmsync-store-diesel"].names.contains("mysql_async"));
        assert_eq!(table["idmsync-test-ldap"].names, BTreeSet::new());
    }

    #[test]
    fn a_wrong_dependency_is_caught() {
        let table = crate_table(&architecture());
        // The engine on an adapter, the domain on I/O, a library on anyhow.
        for (krate, dep) in [
            ("idmsync-sync", "idmsync-http"),
            ("idmsync-ports", "idmsync-ldap"),
            ("idmsync-scheduler", "idmsync-store-diesel"),
            ("idmsync-domain", "tokio"),
            ("idmsync-ldap", "anyhow"),
            ("idmsync-auth", "diesel"),
        ] {
            let found = violations(krate, &names(&[dep]), &table[krate]);
            assert_eq!(found.len(), 1, "{krate} on {dep} was allowed");
        }
        // Unguarded helpers stay free for adapters.
        assert!(violations("idmsync-ldap", &names(&["tokio"]), &table["idmsync-ldap"]).is_empty());
    }

    #[test]
    fn every_crate_folder_has_a_row_and_is_named_like_its_package() {
        let crates = workspace_root().join("crates");
        let deps = dependencies();
        let table = crate_table(&architecture());
        for entry in std::fs::read_dir(crates).expect("crates dir") {
            let name = entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            assert!(
                deps.contains_key(&name),
                "crates/{name} is not a package named {name}"
            );
            assert!(
                table.contains_key(&name),
                "crates/{name} has no row in docs/architecture.md's crate table"
            );
        }
        for name in table.keys() {
            assert!(
                deps.contains_key(name),
                "the table lists {name}, which is no crate"
            );
        }
    }

    /// Every `.rs` file under `dir`, recursively.
    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn every_rust_file_starts_with_a_doc_header() {
        let root = workspace_root();
        let mut files = Vec::new();
        for dir in ["crates", "xtask/src", "tests"] {
            rust_files(&root.join(dir), &mut files);
        }
        assert!(files.len() > 50, "found only {} files", files.len());
        let missing: Vec<String> = files
            .iter()
            .filter(|path| {
                let text = std::fs::read_to_string(path).expect("reading a source file");
                !text.trim_start().starts_with("//!")
            })
            .map(|path| {
                path.strip_prefix(&root)
                    .unwrap_or(path)
                    .display()
                    .to_string()
            })
            .collect();
        assert!(
            missing.is_empty(),
            "files without a `//!` header saying what they are for:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn the_code_map_lists_every_source_file_and_nothing_else() {
        let root = workspace_root();
        let map = code_map(&architecture());
        let mut actual: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for entry in std::fs::read_dir(root.join("crates"))
            .expect("crates")
            .flatten()
        {
            let src = entry.path().join("src");
            let mut files = Vec::new();
            rust_files(&src, &mut files);
            let names = files
                .iter()
                .filter_map(|f| f.strip_prefix(&src).ok())
                .map(|f| f.display().to_string())
                .collect();
            actual.insert(entry.file_name().to_string_lossy().into_owned(), names);
        }
        let mut wrong = Vec::new();
        for (krate, files) in &actual {
            let listed = map.get(krate).cloned().unwrap_or_default();
            for missing in files.difference(&listed) {
                wrong.push(format!(
                    "crates/{krate}/src/{missing} is not in the code map"
                ));
            }
            for stale in listed.difference(files) {
                wrong.push(format!(
                    "the code map lists crates/{krate}/src/{stale}, which does not exist"
                ));
            }
        }
        for krate in map.keys().filter(|k| !actual.contains_key(*k)) {
            wrong.push(format!(
                "the code map has a section for {krate}, which is no crate"
            ));
        }
        assert!(
            wrong.is_empty(),
            "docs/architecture.md's code map is out of date:\n{}",
            wrong.join("\n")
        );
    }

    #[test]
    fn the_code_map_reads_headings_and_items() {
        let doc = "# A\n## Code map\nintro\n### `one`\n- `lib.rs`: x\n- `a/b.rs`: y\n\n\
                   ### `two`\n- `lib.rs`: z\n## Next\n### `three`\n- `no.rs`: n\n";
        let map = code_map(doc);
        assert_eq!(map.len(), 2);
        assert_eq!(map["one"], names(&["lib.rs", "a/b.rs"]));
        assert_eq!(map["two"], names(&["lib.rs"]));
    }
}
