//! Architecture checks written as ordinary tests: the invariants that `docs/architecture.md`
//! states as absences ("the domain performs no I/O", "only the store crate knows diesel").

use std::path::PathBuf;

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::process::Command;

    use serde_json::Value;

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

    fn users_of(dep: &str) -> BTreeSet<String> {
        dependencies()
            .into_iter()
            .filter(|(_, deps)| deps.contains(dep))
            .map(|(name, _)| name)
            .collect()
    }

    #[test]
    fn the_domain_performs_no_io() {
        let deps = &dependencies()["idmsync-domain"];
        let allowed: BTreeSet<String> = ["chrono", "serde", "thiserror"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let extra: Vec<_> = deps.difference(&allowed).collect();
        assert!(
            extra.is_empty(),
            "idmsync-domain gained dependencies {extra:?}"
        );
    }

    #[test]
    fn only_the_store_crate_knows_diesel() {
        // Besides the dev-only test databases, which damage and inspect a database behind the
        // store's back.
        let users = users_of("diesel");
        assert_eq!(
            users,
            BTreeSet::from([
                "idmsync-store-diesel".to_string(),
                "idmsync-test-db".to_string()
            ])
        );
    }

    #[test]
    fn only_the_ldap_source_knows_ldap3() {
        let users = users_of("ldap3");
        assert_eq!(users, BTreeSet::from(["idmsync-ldap".to_string()]));
    }

    #[test]
    fn only_the_http_adapter_knows_axum() {
        let users = users_of("axum");
        assert_eq!(users, BTreeSet::from(["idmsync-http".to_string()]));
    }

    #[test]
    fn ports_and_engine_know_no_adapter() {
        let deps = dependencies();
        for krate in ["idmsync-ports", "idmsync-sync", "idmsync-scheduler"] {
            let bad: Vec<_> = deps[krate]
                .iter()
                .filter(|d| {
                    d.starts_with("idmsync-store")
                        || d.starts_with("idmsync-source")
                        || *d == "idmsync-auth"
                })
                .collect();
            assert!(bad.is_empty(), "{krate} depends on adapters {bad:?}");
        }
    }

    #[test]
    fn every_crate_folder_is_named_like_its_package() {
        let crates = workspace_root().join("crates");
        let deps = dependencies();
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
        }
    }
}
