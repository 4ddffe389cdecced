//! Local passwords: kept, cleared, verified or rehashed, and never printed.

use idmsync_domain::plan::plan;
use idmsync_domain::{Password, PasswordHash, SourcePassword, StoreState};

use crate::fixture::*;

fn clear(p: &str) -> SourcePassword {
    SourcePassword::Clear(Password::new(p))
}

fn stored_with(hash: Option<&str>) -> StoreState {
    let mut store = synced(&src(logins(&["jlennon"]), vec![]));
    store.users[0].password_hash = hash.map(PasswordHash::new);
    store
}

#[test]
fn the_source_password_decides_the_stored_hash() {
    let updated = "updated-user: jlennon (password changed)";
    let cases = [
        (None, SourcePassword::Unmanaged, "", None),
        (
            Some("hash:old"),
            SourcePassword::Unmanaged,
            "",
            Some("hash:old"),
        ),
        (None, SourcePassword::Absent, "", None),
        (Some("hash:old"), SourcePassword::Absent, updated, None),
        (Some("hash:old"), clear("old"), "", Some("hash:old")),
        (
            Some("hash:old"),
            clear("s3cret"),
            updated,
            Some("hash:s3cret"),
        ),
        (None, clear("s3cret"), updated, Some("hash:s3cret")),
        // A stored hash in a format the hasher does not know is replaced.
        (
            Some("$md5$x"),
            clear("s3cret"),
            updated,
            Some("hash:s3cret"),
        ),
    ];
    for (before, given, expected, after) in cases {
        let store = stored_with(before);
        let source = src(vec![u("jlennon").pw(given)], vec![]);
        let changes = check(&store, &source, &full(), expected);
        let next = apply(&store, &changes);
        assert_eq!(
            next.users[0]
                .password_hash
                .as_ref()
                .map(PasswordHash::as_str),
            after,
            "{before:?} {expected}"
        );
        assert_idempotent(&next, &source, &full());
    }
}

#[test]
fn a_new_user_gets_a_hash_of_its_password() {
    let changes = check(
        &StoreState::default(),
        &src(vec![u("jlennon").pw(clear("s3cret"))], vec![]),
        &full(),
        "created-user: jlennon",
    );
    assert_eq!(
        changes.users[0].row.password_hash,
        Some(PasswordHash::new("hash:s3cret"))
    );
}

#[test]
fn a_hashing_failure_keeps_the_stored_hash_with_a_warning() {
    for before in [None, Some("hash:old")] {
        let store = stored_with(before);
        let changes = plan(
            src(vec![u("jlennon").pw(clear("s3cret"))], vec![]),
            &store,
            &full(),
            &BrokenHasher,
        );
        assert_eq!(
            lines(&changes),
            "skipped-password: jlennon: the password could not be hashed; kept as it was"
        );
        assert!(changes.is_empty());
    }
}

#[test]
fn no_log_line_or_debug_output_contains_a_clear_password() {
    let source = src(
        vec![
            u("jlennon").pw(clear("s3cret-1")),
            u("jlennon").sid("dup").pw(clear("s3cret-2")),
            u("rstarr").pw(clear("s3cret-3")).disabled(),
        ],
        vec![g("beatles", &["jlennon", "rstarr", "s3cret-4"])],
    );
    for store in [StoreState::default(), stored_with(Some("hash:old"))] {
        for hasher in [
            &FakeHasher as &dyn idmsync_domain::PasswordHasher,
            &BrokenHasher,
        ] {
            let changes = plan(source.clone(), &store, &full(), hasher);
            let text = format!("{}\n{:?}", lines(&changes), changes);
            for secret in ["s3cret-1", "s3cret-2", "s3cret-3"] {
                assert!(!text.contains(secret), "{secret} leaked:\n{text}");
            }
        }
    }
}
