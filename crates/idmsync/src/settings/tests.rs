//! The configuration as users write it: files, environment variables and their mistakes.

use super::*;
use std::collections::HashMap;

fn load(toml: &str, env: &[(&str, &str)]) -> Result<Settings, SettingsError> {
    Settings::from_text(toml, env)
}

const BASE: &str = r#"
    [database]
    url = "sqlite://x.db"
    [source]
    type = "file"
    [source.file]
    users = "u.txt"
    groups = "g.txt"
"#;

#[test]
fn the_shipped_default_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/default.toml");
    let s = Settings::load_with(
        &path,
        Environment::with_prefix("IDMSYNC").source(Some(HashMap::new())),
    )
    .expect("default config")
    .select(None)
    .expect("one tenant");
    assert_eq!(s.source().kind, SourceKind::File);
    assert_eq!(s.sync.admins, vec!["jlennon".to_string()]);
}

#[test]
fn environment_overrides_any_key() {
    let s = load(
        BASE,
        &[
            ("IDMSYNC__DATABASE__URL", "sqlite://other.db"),
            ("IDMSYNC__SYNC__MAX_DEACTIVATIONS", "25%"),
            ("IDMSYNC__SYNC__ADMINS", "a,b"),
            ("IDMSYNC__SYNC__IGNORE_CASE", "true"),
        ],
    )
    .expect("settings");
    assert_eq!(s.database.url, "sqlite://other.db");
    assert_eq!(s.sync.max_deactivations, MaxDeactivations::Percent(25.0));
    assert_eq!(s.sync.admins, vec!["a".to_string(), "b".to_string()]);
    assert!(s.sync.ignore_case);
}

#[test]
fn unknown_keys_are_named() {
    let err =
        load(&format!("{BASE}\n[sync]\nmax_deactivation = 3\n"), &[]).expect_err("unknown key");
    assert!(err.0.contains("max_deactivation"), "{err}");
}

const LDAP: &str = r#"
    [database]
    url = "sqlite://x.db"
    [source]
    type = "ldap"
    [source.ldap]
    url = "ldap://dir:389"
    bind_dn = "cn=sync,dc=example,dc=com"
    bind_password = "sync-secret"
    user_search_base = "ou=people,dc=example,dc=com"
    group_search_base = "ou=groups,dc=example,dc=com"
"#;

#[test]
fn auth_defaults_leave_the_method_to_the_source() {
    let s = load(BASE, &[]).expect("settings");
    assert_eq!(s.auth.ldap, None);
    assert!(!s.auth.database_fallback);
    assert!(s.auth.case_sensitive);
    assert_eq!((s.auth.max_failures, s.auth.lockout_secs), (5, 300));
    assert_eq!(s.auth.dn_pattern, "");
}

#[test]
fn auth_ldap_is_a_flag_or_a_table_merged_over_the_source_connection() {
    let s = load(&format!("{LDAP}\n[auth]\nldap = false\n"), &[]).expect("flag");
    assert_eq!(s.auth.ldap, Some(LdapSwitch::Flag(false)));

    let s = load(
        &format!("{LDAP}\n[auth.ldap]\nurl = \"ldaps://dc:636\"\ntimeout_secs = 5\n"),
        &[],
    )
    .expect("table");
    let Some(LdapSwitch::Connection(c)) = s.auth.ldap else {
        panic!("expected a connection, got {:?}", s.auth.ldap);
    };
    assert_eq!(c.url, "ldaps://dc:636");
    assert_eq!(c.timeout_secs, 5);
    assert_eq!(c.bind_dn, "cn=sync,dc=example,dc=com", "from [source.ldap]");
    assert_eq!(c.user_search_base, "ou=people,dc=example,dc=com");
    let source = s.sources[0].ldap.clone().expect("source");
    assert_eq!(source.url, "ldap://dir:389", "the source keeps its own");

    let s = load(
        &format!("{LDAP}\n[auth.ldap]\nurl = \"ldaps://dc:636\"\n"),
        &[("IDMSYNC__AUTH__LDAP", "false")],
    )
    .expect("env flag");
    assert_eq!(s.auth.ldap, Some(LdapSwitch::Flag(false)));
}

#[test]
fn bad_auth_values_are_named() {
    let err = load(&format!("{BASE}\n[auth]\nldap = \"maybe\"\n"), &[]).expect_err("bad");
    assert!(err.0.contains("auth.ldap"), "{err}");
    let err = load(&format!("{LDAP}\n[auth.ldap]\nurll = \"x\"\n"), &[]).expect_err("bad");
    assert!(err.0.contains("urll"), "{err}");
    let err = load(&format!("{BASE}\n[auth]\nmax_failures = -1\n"), &[]).expect_err("bad");
    assert!(err.0.contains("max_failures"), "{err}");
    let err = load(&format!("{BASE}\n[auth]\nfallback = true\n"), &[]).expect_err("bad");
    assert!(err.0.contains("fallback"), "{err}");
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let err = Settings::load(Path::new("/nonexistent/idmsync.toml"), None).expect_err("missing");
    assert!(err.0.contains("/nonexistent/idmsync.toml"), "{err}");
}

/// Every section, each with the keys it needs, so that any key can be set (or replaced) in its
/// own section by [`with_key`].
const SECTIONS: &[(&str, &[&str])] = &[
    ("database", &["url = \"sqlite://x.db\""]),
    ("sync", &[]),
    ("http", &[]),
    ("auth", &[]),
    ("source", &["type = \"ldap\""]),
    (
        "source.ldap",
        &[
            "url = \"ldap://dir:389\"",
            "bind_dn = \"cn=sync,dc=example,dc=com\"",
            "bind_password = \"sync-secret\"",
            "user_search_base = \"ou=people,dc=example,dc=com\"",
            "group_search_base = \"ou=groups,dc=example,dc=com\"",
        ],
    ),
];

/// The configuration of [`SECTIONS`] with `key = value` written in the key's section, which
/// is added when it is not one of them (`[auth.ldap]`).
fn with_key(key: &str, value: &str) -> String {
    let (section, leaf) = key.rsplit_once('.').expect("section.key");
    let assignment = format!("{leaf} = ");
    let mut toml = String::new();
    for (name, lines) in SECTIONS {
        toml += &format!("[{name}]\n");
        for line in lines.iter() {
            if *name != section || !line.starts_with(&assignment) {
                toml += &format!("{line}\n");
            }
        }
        if *name == section {
            toml += &format!("{assignment}{value}\n");
        }
    }
    if !SECTIONS.iter().any(|(name, _)| *name == section) {
        toml += &format!("[{section}]\n{assignment}{value}\n");
    }
    toml
}

/// The kinds of value a key takes, with what its error message says it accepts.
#[derive(Clone, Copy)]
enum Kind {
    U32,
    U64,
    Flag,
    OneOf(&'static str),
}

/// Every key that takes a number, a flag or one of some words; `[auth.ldap]` takes the keys of
/// `[source.ldap]`, so two of them stand for the rest.
const TYPED_KEYS: &[(&str, Kind)] = &[
    ("database.pool_size", Kind::U32),
    ("database.connect_timeout_secs", Kind::U64),
    ("database.lock_lease_secs", Kind::U64),
    ("sync.reactivate", Kind::OneOf("sync, any, none")),
    ("sync.ignore_case", Kind::Flag),
    ("sync.on_conflict", Kind::OneOf("fail, skip")),
    ("sync.on_unreadable", Kind::OneOf("fail, keep")),
    ("sync.live_interval_secs", Kind::U64),
    ("http.shutdown_grace_secs", Kind::U64),
    ("http.header_timeout_secs", Kind::U64),
    ("http.max_connections", Kind::U32),
    ("auth.login", Kind::OneOf("external_id, email")),
    ("auth.case_sensitive", Kind::Flag),
    ("auth.database_fallback", Kind::Flag),
    ("auth.max_failures", Kind::U32),
    ("auth.lockout_secs", Kind::U64),
    ("source.type", Kind::OneOf("file, ldap, scim")),
    ("source.ldap.starttls", Kind::Flag),
    ("source.ldap.insecure_skip_verify", Kind::Flag),
    ("source.ldap.active_directory", Kind::Flag),
    ("source.ldap.transitive_members", Kind::Flag),
    ("source.ldap.connect_timeout_secs", Kind::U64),
    ("source.ldap.timeout_secs", Kind::U64),
    ("source.ldap.page_size", Kind::U32),
    ("source.ldap.range_size", Kind::U32),
    ("source.ldap.differential_overlap_secs", Kind::U64),
    ("source.scim.batch_ms", Kind::U64),
    ("source.scim.guard_window_secs", Kind::U64),
    ("auth.ldap.page_size", Kind::U32),
    ("auth.ldap.starttls", Kind::Flag),
];

impl Kind {
    /// Wrong values as TOML writes them, and as the message repeats them.
    fn wrong_values(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Kind::U32 => &[
                ("-1", "-1"),
                ("1.5", "1.5"),
                ("1e3", "1000.0"),
                ("true", "true"),
                ("\"ten\"", "\"ten\""),
                ("[1]", "a list"),
                ("{ n = 1 }", "a table"),
                ("4294967296", "4294967296"),
            ],
            Kind::U64 => &[
                ("-1", "-1"),
                ("1.5", "1.5"),
                ("1e3", "1000.0"),
                ("true", "true"),
                ("\"ten\"", "\"ten\""),
                ("[1]", "a list"),
            ],
            Kind::Flag => &[("1", "1"), ("\"yes\"", "\"yes\""), ("[true]", "a list")],
            Kind::OneOf(_) => &[
                ("\"mail\"", "\"mail\""),
                ("\"\"", "\"\""),
                ("1", "1"),
                ("true", "true"),
                ("[\"ldap\"]", "a list"),
            ],
        }
    }

    /// What the message says the key accepts.
    fn accepted(self) -> String {
        match self {
            Kind::U32 => "is not a whole number from 0 to 4294967295".into(),
            Kind::U64 => "is not a whole number from 0 to 18446744073709551615".into(),
            Kind::Flag => "is not true or false".into(),
            Kind::OneOf(words) => format!("is not one of: {words}"),
        }
    }

    /// A value from the environment that is right for the key.
    fn right_text(self) -> &'static str {
        match self {
            Kind::U32 | Kind::U64 => " 7 ",
            Kind::Flag => "TRUE",
            Kind::OneOf(words) => words.split(", ").next().unwrap_or_default(),
        }
    }
}

/// Words of Rust, serde or config-rs that a configuration message must not show.
const INTERNALS: &[&str] = &[
    "enum",
    "variant",
    "struct",
    "u32",
    "u64",
    "i64",
    "bit integer",
    "invalid type",
    "Repr",
];

#[track_caller]
fn assert_in_user_words(message: &str) {
    for word in INTERNALS {
        assert!(!message.contains(word), "{word:?} in {message:?}");
    }
}

#[test]
fn every_number_flag_and_choice_key_says_what_it_accepts() {
    for &(key, kind) in TYPED_KEYS {
        for (written, shown) in kind.wrong_values() {
            let err = load(&with_key(key, written), &[]).expect_err(key);
            let expected = format!("{key}: {shown} {} (in ", kind.accepted());
            assert!(
                err.0.starts_with(&expected) && err.0.contains("c.toml"),
                "{key} = {written}:\n got  {}\n want {expected}…c.toml)",
                err.0
            );
            assert_in_user_words(&err.0);
        }
    }
}

#[test]
fn environment_values_are_read_by_the_key_and_errors_name_the_variable() {
    for &(key, kind) in TYPED_KEYS {
        let var = format!("IDMSYNC__{}", key.replace('.', "__").to_uppercase());
        load(
            &with_key("sync.tenant", "\"t\""),
            &[(&var, kind.right_text())],
        )
        .unwrap_or_else(|e| panic!("{var}={:?}: {e}", kind.right_text()));
        let err = load(&with_key("sync.tenant", "\"t\""), &[(&var, "1.5x")]).expect_err(key);
        assert_eq!(
            err.0,
            format!("{key}: \"1.5x\" {} (set by {var})", kind.accepted())
        );
    }
}

#[test]
fn auth_ldap_and_max_deactivations_say_what_they_accept() {
    for (key, written, expected) in [
        (
            "auth.ldap",
            "\"maybe\"",
            "auth.ldap: \"maybe\" is not true, false or a table of [source.ldap] keys",
        ),
        (
            "auth.ldap",
            "1",
            "auth.ldap: 1 is not true, false or a table of [source.ldap] keys",
        ),
        ("sync.max_deactivations", "-1", "sync.max_deactivations: "),
        ("sync.max_deactivations", "1.5", "sync.max_deactivations: "),
        ("sync.max_deactivations", "1e3", "sync.max_deactivations: "),
        ("sync.max_deactivations", "true", "sync.max_deactivations: "),
        (
            "sync.max_deactivations",
            "\"lots\"",
            "sync.max_deactivations: ",
        ),
        (
            "sync.max_deactivations",
            "\"120%\"",
            "sync.max_deactivations: ",
        ),
    ] {
        let err = load(&with_key(key, written), &[]).expect_err(key);
        assert!(err.0.starts_with(expected), "{key} = {written}: {}", err.0);
        assert_in_user_words(&err.0);
    }
}

#[test]
fn unknown_and_missing_keys_say_what_the_section_has() {
    let err = load(&with_key("sync.max_deactivation", "3"), &[]).expect_err("unknown");
    assert!(
        err.0.starts_with(
            "sync.max_deactivation: unknown key; the keys here are: tenant, admins, \
             managers, max_deactivations,"
        ),
        "{err}"
    );
    let err = load(&with_key("auth.ldap.urll", "\"x\""), &[]).expect_err("unknown");
    assert!(err
        .0
        .starts_with("auth.ldap.urll: unknown key; the keys here are: url, starttls,"));
    let err = load(
        &with_key("sync.tenant", "\"t\"").replace("type = \"ldap\"\n", ""),
        &[],
    )
    .expect_err("missing");
    assert!(
        err.0.starts_with("source.type: required, but not set (in "),
        "{err}"
    );
    // A `[database]` without `url` keeps the documented default.
    let settings = load(
        &with_key("sync.tenant", "\"t\"").replace("url = \"sqlite://x.db\"\n", ""),
        &[],
    )
    .expect("database.url has a default");
    assert_eq!(settings.database.url, "sqlite://data/idmsync.db");
    let toml = format!(
        "http = 5\n{}",
        with_key("sync.tenant", "\"t\"").replace("[http]\n", "")
    );
    let err = load(&toml, &[]).expect_err("a value for a section");
    assert!(err.0.starts_with("http: 5 is not a table (in "), "{err}");
    let err = load(&with_key("sync.admins", "{ a = 1 }"), &[]).expect_err("a table for a list");
    assert!(
        err.0.starts_with("sync.admins: a table is not a list (in "),
        "{err}"
    );
    let err = load(&with_key("sync.admins", "[\"a\", []]"), &[]).expect_err("a list in a list");
    assert!(
        err.0
            .starts_with("sync.admins[1]: a list is not a string (in "),
        "{err}"
    );
    let err = load(
        &with_key("sync.tenant", "\"t\""),
        &[("IDMSYNC__SYNC__TENNANT", "t")],
    )
    .expect_err("unknown variable");
    assert!(err.0.starts_with("sync.tennant: unknown key"), "{err}");
    assert!(err.0.ends_with("(set by IDMSYNC__SYNC__TENNANT)"), "{err}");
}

#[test]
fn list_values_from_the_environment_are_trimmed_and_empty_items_dropped() {
    let admins = |value: &str| {
        load(BASE, &[("IDMSYNC__SYNC__ADMINS", value)])
            .expect("settings")
            .sync
            .admins
    };
    assert_eq!(admins("a, b"), ["a", "b"]);
    assert_eq!(admins(" a ,, b ,"), ["a", "b"]);
    assert_eq!(admins("jlennon"), ["jlennon"]);
    assert_eq!(admins("007"), ["007"]);
    assert_eq!(
        admins("uid=a\\,b"),
        ["uid=a\\", "b"],
        "commas always separate"
    );
    assert!(admins("").is_empty());
    assert!(admins(" , ").is_empty());
}

#[test]
fn text_from_the_environment_stays_as_written() {
    let s = load(
        LDAP,
        &[
            ("IDMSYNC__SOURCE__LDAP__BIND_PASSWORD", "007"),
            ("IDMSYNC__SYNC__TENANT", "1e5"),
            ("IDMSYNC__SOURCE__LDAP__BIND_DN", "TRUE"),
        ],
    )
    .expect("settings");
    let ldap = s.sources[0].ldap.clone().expect("ldap");
    assert_eq!(
        ldap.bind_password.map(|p| p.expose().to_string()),
        Some("007".into())
    );
    assert_eq!(ldap.bind_dn, "TRUE");
    assert_eq!(s.sync.tenant, "1e5");
}

#[test]
fn a_wrong_value_is_shown_cut_short_and_a_secret_never() {
    let long = format!("\"{}\"", "x".repeat(500));
    let err = load(&with_key("auth.login", &long), &[]).expect_err("long");
    assert!(
        err.0
            .starts_with(&format!("auth.login: \"{}… is not one of", "x".repeat(58))),
        "{err}"
    );
    let err = load(
        &with_key("source.ldap.bind_password", "[\"Canary-s3cret\"]"),
        &[],
    )
    .expect_err("a list for a password");
    assert!(
        err.0
            .starts_with("source.ldap.bind_password: a list is not a string"),
        "{err}"
    );
    assert!(!err.0.contains("Canary"), "{err}");
    let err = load(
        &with_key("source.ldap.bind_pasword", "\"Canary-s3cret\""),
        &[],
    )
    .expect_err("a misspelt key");
    assert!(!err.0.contains("Canary"), "{err}");
}

#[test]
fn a_syntax_error_names_the_line_but_does_not_repeat_it() {
    let toml = with_key("source.ldap.bind_password", "\"Canary-s3cret");
    let err = load(&toml, &[]).expect_err("no closing quote");
    assert!(!err.0.contains("Canary"), "{err}");
    assert!(
        err.0
            .contains("c.toml: TOML parse error at line 13, column"),
        "{err}"
    );
    assert!(
        err.0.ends_with("invalid basic string, expected `\"`"),
        "{err}"
    );
    assert!(!err.0.contains('\n'), "{err}");
}

#[test]
fn every_shipped_configuration_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    for entry in std::fs::read_dir(dir).expect("config/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            Settings::load_with(
                &path,
                Environment::with_prefix("IDMSYNC").source(Some(HashMap::new())),
            )
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

#[test]
fn without_a_database_section_the_documented_default_is_used() {
    let s = load(
        "[source]\ntype = \"file\"\n[source.file]\nusers = \"u.txt\"\ngroups = \"g.txt\"\n",
        &[],
    )
    .expect("no [database] section is fine");
    assert_eq!(s.database.url, "sqlite://data/idmsync.db");
    assert_eq!(s.database.pool_size, 4);
}

const TENANTS: &str = r#"
    [database]
    url = "sqlite://x.db"
    [tenants.staff.sync]
    admins = ["jlennon"]
    [tenants.staff.source]
    type = "file"
    [tenants.staff.source.file]
    users = "staff-users.txt"
    groups = "staff-groups.txt"
    [tenants.partners.source]
    type = "file"
    [tenants.partners.source.file]
    users = "partner-users.txt"
    groups = "partner-groups.txt"
"#;

#[test]
fn a_tenant_is_chosen_by_name_and_named_by_its_table() {
    let staff = Settings::tenant_from_text(TENANTS, &[], Some("staff")).expect("staff");
    assert_eq!(staff.sync.tenant, "staff");
    assert_eq!(staff.sync.admins, ["jlennon"]);
    let partners = Settings::tenant_from_text(TENANTS, &[], Some("partners")).expect("partners");
    assert_eq!(partners.sync.tenant, "partners");
    assert!(partners.sync.admins.is_empty());
    let file = partners.sources[0].file.as_ref().expect("file source");
    assert_eq!(file.users, PathBuf::from("partner-users.txt"));
}

#[test]
fn several_tenants_need_a_choice_and_an_unknown_one_lists_them() {
    let none = load(TENANTS, &[]).expect_err("several");
    assert!(
        none.0.contains("several tenants (partners, staff)"),
        "{none}"
    );
    assert!(none.0.contains("--tenant NAME"), "{none}");
    let unknown = Settings::tenant_from_text(TENANTS, &[], Some("x")).expect_err("unknown");
    assert!(
        unknown.0.contains("--tenant x: no such tenant"),
        "{unknown}"
    );
    assert!(unknown.0.contains("partners, staff"), "{unknown}");
    let single = Settings::tenant_from_text(BASE, &[], Some("other")).expect_err("one");
    assert!(single.0.contains("\"default\""), "{single}");
    assert!(Settings::tenant_from_text(BASE, &[], Some("default")).is_ok());
}

#[test]
fn top_level_sections_beside_tenants_are_refused_naming_where_they_go() {
    for (section, toml) in [
        ("source", format!("{TENANTS}\n[source]\ntype = \"file\"\n")),
        ("sync", format!("{TENANTS}\n[sync]\nadmins = [\"x\"]\n")),
    ] {
        let error = Settings::tenant_from_text(&toml, &[], Some("staff")).expect_err(section);
        assert!(
            error.0.starts_with(&format!("{section}: with [tenants.*]")),
            "{error}"
        );
    }
    let renamed = TENANTS.replace(
        "[tenants.staff.sync]",
        "[tenants.staff.sync]\n    tenant = \"other\"",
    );
    let error = Settings::tenant_from_text(&renamed, &[], Some("staff")).expect_err("renamed");
    assert!(error.0.contains("tenants.staff.sync.tenant"), "{error}");
}

/// Tenant `acme` with `[[sources]]`: `first` then a file source named `contractors`.
fn several(first: &str, sync: &str) -> String {
    format!(
        "[tenants.acme.sync]\n{sync}\n\
         [[tenants.acme.sources]]\n{first}\n\
         [tenants.acme.sources.ldap]\nurl = \"ldap://dir:389\"\n\
         bind_dn = \"cn=sync,dc=example,dc=com\"\nbind_password = \"s\"\n\
         user_search_base = \"ou=people,dc=example,dc=com\"\n\
         group_search_base = \"ou=groups,dc=example,dc=com\"\n\
         [[tenants.acme.sources]]\nname = \"contractors\"\ntype = \"file\"\n\
         [tenants.acme.sources.file]\nusers = \"u.txt\"\ngroups = \"g.txt\"\n"
    )
}

#[test]
fn several_sources_load_in_order_of_precedence() {
    let s = load(
        &several(
            "name = \"employees\"\ntype = \"ldap\"",
            "match_by = \"login\"",
        ),
        &[],
    )
    .expect("several");
    let names: Vec<_> = s.sources.iter().map(|s| s.name.as_deref()).collect();
    assert_eq!(names, [Some("employees"), Some("contractors")]);
    assert_eq!(s.source().kind, SourceKind::Ldap, "the highest first");
    assert_eq!(s.sync.match_by, Some(idmsync_source_merge::MatchBy::Login));
}

#[test]
fn several_sources_mistakes_are_named() {
    for (first, sync, expected) in [
        (
            "type = \"ldap\"",
            "",
            "tenants.acme.sources[0].name: missing",
        ),
        (
            "name = \"contractors\"\ntype = \"ldap\"",
            "",
            "tenants.acme.sources[1].name: \"contractors\" names two sources",
        ),
        (
            "name = \"a b\"\ntype = \"ldap\"",
            "",
            "tenants.acme.sources[0].name: \"a b\" is not a name",
        ),
        (
            "name = \"employees\"\ntype = \"ldap\"",
            "match_by = \"name\"",
            "tenants.acme.sync.match_by",
        ),
    ] {
        let error = load(&several(first, sync), &[]).expect_err(expected);
        assert!(error.0.contains(expected), "{expected}: {error}");
    }
    let both = format!(
        "{}\n[tenants.acme.source]\ntype = \"file\"\n",
        several("name = \"employees\"\ntype = \"ldap\"", "")
    );
    let error = load(&both, &[]).expect_err("both");
    assert!(
        error
            .0
            .contains("a tenant has [tenants.acme.source] or [[tenants.acme.sources]], not both"),
        "{error}"
    );
    // A mapping is read with the configuration, so its mistake names where it is.
    let broken = format!(
        "{}[tenants.acme.sources.file.mapping]\nlogin = \"lower(id\"\n",
        several("name = \"employees\"\ntype = \"ldap\"", "")
    );
    let error = load(&broken, &[]).expect_err("broken mapping");
    assert!(
        error
            .0
            .contains("tenants.acme.sources[1].file.mapping.login: at character 9: expected `)`"),
        "{error}"
    );
    let one = format!("{BASE}\n[sync]\nmatch_by = \"email\"\n");
    let error = load(&one, &[]).expect_err("one source");
    assert!(
        error
            .0
            .contains("sync.match_by: only applies to a tenant with several sources"),
        "{error}"
    );
}

#[test]
fn matching_by_mapping_needs_the_expression_in_every_source_and_only_then() {
    let by_mapping = several(
        "name = \"employees\"\ntype = \"ldap\"",
        "match_by = \"mapping\"",
    );
    let error = load(&by_mapping, &[]).expect_err("no expressions");
    assert!(
        error
            .0
            .contains("tenants.acme.sources[0].ldap.mapping.match: missing"),
        "{error}"
    );
    let with_both = format!(
        "{by_mapping}[tenants.acme.sources.file.mapping]\nmatch = 'regex_capture(id, \"^E(.*)$\")'\n"
    )
    .replace(
        "group_search_base = \"ou=groups,dc=example,dc=com\"\n",
        "group_search_base = \"ou=groups,dc=example,dc=com\"\n\
         [tenants.acme.sources.ldap.mapping]\nmatch = \"employeeNumber\"\n",
    );
    let s = load(&with_both, &[]).expect("both sources say");
    assert!(s.sources[0]
        .ldap
        .as_ref()
        .expect("ldap")
        .mapping
        .match_value
        .is_some());
    let unused = with_both.replace("match_by = \"mapping\"", "");
    let error = load(&unused, &[]).expect_err("unused");
    assert!(
        error
            .0
            .contains("sources[0].ldap.mapping.match: only used with sync.match_by = \"mapping\""),
        "{error}"
    );
    let one = format!("{BASE}\n[source.file.mapping]\nmatch = \"id\"\n");
    let error = load(&one, &[]).expect_err("one source");
    assert!(
        error
            .0
            .contains("source.file.mapping.match: only applies to a tenant with several sources"),
        "{error}"
    );
}
