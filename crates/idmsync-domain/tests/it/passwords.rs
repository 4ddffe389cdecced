//! Local passwords: kept, cleared, verified or rehashed, and never printed.

use idmsync_domain::change::Event;
use idmsync_domain::plan::plan;
use idmsync_domain::{Counts, Password, PasswordHash, SourcePassword, StoreState};

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
            Some("plain:old"),
            SourcePassword::Unmanaged,
            "",
            Some("plain:old"),
        ),
        (None, SourcePassword::Absent, "", None),
        (Some("plain:old"), SourcePassword::Absent, updated, None),
        (Some("plain:old"), clear("old"), "", Some("plain:old")),
        (
            Some("plain:old"),
            clear("s3cret"),
            updated,
            Some("plain:s3cret"),
        ),
        (None, clear("s3cret"), updated, Some("plain:s3cret")),
        // A stored hash in a format the hasher does not know is replaced.
        (
            Some("$md5$x"),
            clear("s3cret"),
            updated,
            Some("plain:s3cret"),
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
fn a_new_user_costs_one_hash_and_gets_its_check() {
    let hasher = CountingHasher::default();
    let changes = plan(
        src(vec![u("jlennon").pw(clear("s3cret"))], vec![]),
        &StoreState::default(),
        &full(),
        &hasher,
    );
    assert_eq!(lines(&changes), "created-user: jlennon");
    assert_eq!((hasher.verifications(), hasher.hashes()), (0, 1));
    let stored = changes.users[0].row.password_hash.clone().expect("a hash");
    assert_eq!(stored.as_str(), "plain:s3cret");
    assert_eq!(
        stored.check(),
        check_of("plain:s3cret", "s3cret").as_deref()
    );
}

#[test]
fn a_first_sync_hashes_on_every_planner_thread() {
    let hasher = CountingHasher::default();
    let users = (0..8)
        .map(|i| u(&format!("user{i}")).pw(clear("s3cret")))
        .collect();
    let changes = plan(src(users, vec![]), &StoreState::default(), &full(), &hasher);
    assert_eq!(changes.users.len(), 8);
    assert_eq!(hasher.hashes(), 8);
    assert_eq!(hasher.hashing_threads(), full().threads.get());
}

#[test]
fn a_hashing_failure_keeps_the_stored_hash_with_a_warning() {
    for before in [None, Some("plain:old")] {
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
    for store in [StoreState::default(), stored_with(Some("plain:old"))] {
        for hasher in [
            &PlainHasher as &dyn idmsync_domain::PasswordHasher,
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

/// The check the plain hasher gives `clear` as `jlennon`'s password with the hash `phc`.
fn check_of(phc: &str, clear: &str) -> Option<String> {
    Some(PlainHasher::check_of("id:jlennon", phc, clear))
}

/// The issue: a source with clear passwords (the file source) cost an argon2 verification per
/// user on every run. Now a password costs argon2 only when its stored check cannot vouch for
/// it, the log speaks of a password only when it changed, and whatever else is rewritten (a new
/// check, a rehash) is a silent write after which the next run costs nothing slow.
#[test]
fn a_password_costs_argon2_only_when_its_check_cannot_vouch_for_it() {
    let updated = "updated-user: jlennon (password changed)";
    let (current, outdated) = ("plain:s3cret", "plain-v0:s3cret");
    // (stored hash, its check, source password, lines, verifications, hashes, hash after)
    let cases = [
        // Vouched for: nothing slow, nothing written.
        (
            current,
            check_of(current, "s3cret"),
            "s3cret",
            "",
            0,
            0,
            current,
        ),
        // Changed: the check differs, the verification fails, one hash.
        (
            current,
            check_of(current, "s3cret"),
            "n3w",
            updated,
            1,
            1,
            "plain:n3w",
        ),
        // A row from before checks: one verification, then a silent write of its check.
        (current, None, "s3cret", "", 1, 0, current),
        // A check made with another key (a lost key file) proves nothing: verified once.
        (
            current,
            Some("check:other-key".into()),
            "s3cret",
            "",
            1,
            0,
            current,
        ),
        // Outdated parameters, vouched for: hashed again silently, without a verification.
        (
            outdated,
            check_of(outdated, "s3cret"),
            "s3cret",
            "",
            0,
            1,
            current,
        ),
        // Outdated and unchecked: verified with the old parameters, then hashed again.
        (outdated, None, "s3cret", "", 1, 1, current),
        // Outdated and changed: the log says so.
        (outdated, None, "n3w", updated, 1, 1, "plain:n3w"),
    ];
    for options in [full(), diff()] {
        for (phc, check, given, expected, verifications, hashes, after) in cases.clone() {
            let case = format!("{phc} {check:?} {given} {:?}", options.mode);
            let mut store = stored_with(None);
            store.users[0].password_hash = Some(PasswordHash::new(phc).with_check(check.clone()));
            let source = src(vec![u("jlennon").pw(clear(given))], vec![]);
            let hasher = CountingHasher::default();
            let changes = plan(source.clone(), &store, &options, &hasher);
            assert_eq!(lines(&changes), expected, "{case}");
            assert_eq!(
                (hasher.verifications(), hasher.hashes()),
                (verifications, hashes),
                "argon2 work: {case}"
            );
            let next = apply(&store, &changes);
            let stored = next.users[0].password_hash.clone().expect("a hash");
            assert_eq!(stored.as_str(), after, "{case}");
            assert_eq!(stored.check(), check_of(after, given).as_deref(), "{case}");
            let rewritten = after != phc || check != check_of(after, given);
            assert_eq!(changes.users.len(), usize::from(rewritten), "{case}");
            if expected.is_empty() {
                assert!(
                    changes.users.iter().all(|w| w.event == Event::Silent),
                    "{case}"
                );
                assert_eq!(changes.counts(), Counts::default(), "{case}");
            } else {
                assert_eq!(changes.counts().users_updated, 1, "{case}");
            }
            let hasher = CountingHasher::default();
            let again = plan(source, &next, &options, &hasher);
            assert!(again.is_empty(), "{case}: {}", lines(&again));
            assert_eq!(
                (hasher.verifications(), hasher.hashes()),
                (0, 0),
                "the next run: {case}"
            );
        }
    }
}

/// A silent password write rides along with a real change of the same row, and with a change
/// of the capability alone, without adding to their log lines.
#[test]
fn a_silent_password_write_joins_the_other_changes_of_its_row() {
    let mut store = stored_with(Some("plain:s3cret"));
    let source = src(
        vec![u("jlennon").pw(clear("s3cret")).mail("j@example.com")],
        vec![],
    );
    let changes = check(
        &store,
        &source,
        &full(),
        r#"updated-user: jlennon (email none → "j@example.com")"#,
    );
    assert!(changes.users[0]
        .row
        .password_hash
        .as_ref()
        .is_some_and(|h| h.check().is_some()));
    store.users[0].email = Some("j@example.com".into());
    let changes = check(
        &store,
        &source,
        &with_admins(full(), &["jlennon"]),
        "added-capability: tenant-admin to jlennon",
    );
    assert_eq!(changes.users[0].event, Event::Capability);
    assert!(changes.users[0]
        .row
        .password_hash
        .as_ref()
        .is_some_and(|h| h.check().is_some()));
}
