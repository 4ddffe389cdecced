//! Applying change sets: creation, updates, deactivations, renames, edges, atomicity and scale.

use idmsync_domain::change::{Event, FieldChange, GroupWrite, UserWrite};
use idmsync_domain::{
    ChangeSet, DeactivatedBy, Document, ExternalId, PasswordHash, SourceId, StoreState, UserStatus,
};
use idmsync_ports::{DirectoryReader, RunLogReader, StoreError, SyncStore, UserFilter};

use crate::support::{
    backend_tests, created_group, created_user, directory, edge, edges_by_source, everything,
    group, inactive, key, pairs, succeed, succeeded, sync, tenant, user, CHECK,
};

fn rows(changes: &ChangeSet) -> StoreState {
    StoreState {
        users: changes.users.iter().map(|w| w.row.clone()).collect(),
        groups: changes.groups.iter().map(|w| w.row.clone()).collect(),
        ..StoreState::default()
    }
}

backend_tests! {
    async fn created_entries_round_trip_through_load_state(db: Db) {
        let acme = tenant("acme");
        assert_eq!(
            db.store.load_state(&acme).await.expect("empty"),
            StoreState::default()
        );
        let changes = directory();
        sync(&db, &acme, &changes, 1).await;

        let state = db.store.load_state(&acme).await.expect("state");
        let expected = rows(&changes);
        assert_eq!(state.users, expected.users);
        assert_eq!(state.groups, expected.groups);
        let (memberships, nesting) = edges_by_source(&state);
        assert_eq!(
            memberships,
            pairs(&[
                ("s-g1", "s-u1"),
                ("s-g1", "s-u2"),
                ("s-g1", "s-u3"),
                ("s-g1", "s-u4"),
                ("s-g2", "s-u2"),
            ])
        );
        assert_eq!(
            nesting,
            pairs(&[("s-g1", "s-g2"), ("s-g2", "s-g1"), ("s-g1", "s-g3")])
        );
        // A differential run's state: the edges of its groups and of the entries that left,
        // each once.
        let sid = |s: &str| SourceId::new(s).expect("id");
        let scoped = db
            .store
            .load_state_for(&acme, &[sid("s-g2")], &[sid("s-u2"), sid("s-g3")])
            .await
            .expect("scoped state");
        assert_eq!(scoped.users.len(), state.users.len());
        assert_eq!(
            edges_by_source(&scoped),
            (
                pairs(&[("s-g1", "s-u2"), ("s-g2", "s-u2")]),
                pairs(&[("s-g2", "s-g1"), ("s-g1", "s-g3")])
            )
        );
        // Another tenant sees nothing of it.
        assert_eq!(
            db.store.load_state(&tenant("other")).await.expect("other"),
            StoreState::default()
        );
    }
}

backend_tests! {
    async fn updates_deactivations_and_edge_changes_apply(db: Db) {
        let acme = tenant("acme");
        sync(&db, &acme, &directory(), 1).await;
        let (u1, u2, u3, u4) = (
            key("s-u1", "jlennon"),
            key("s-u2", "pmccartney"),
            key("s-u3", "gharrison"),
            key("s-u4", "rstarr"),
        );
        let (g1, g2, g3) = (
            key("s-g1", "beatles"),
            key("s-g2", "wings"),
            key("s-g3", "apple"),
        );

        let mut renamed = user(&u2);
        renamed.last_name = "McCartney".into();
        let mut gone = inactive(user(&u3));
        gone.deactivated_by = Some(DeactivatedBy::Source);
        let mut apple = group(&g3);
        apple.name = "Apple Corps".into();
        let mut wings = group(&g2);
        wings.status = UserStatus::Inactive;
        let changes = ChangeSet {
            users: vec![
                UserWrite {
                    event: Event::Updated(vec![FieldChange::shown("last_name", Some("before"), Some("after"))]),
                    row: renamed.clone(),
                },
                UserWrite {
                    event: Event::Deactivated(DeactivatedBy::Source),
                    row: gone.clone(),
                },
                UserWrite {
                    event: Event::Reactivated(vec![]),
                    row: user(&u4),
                },
            ],
            groups: vec![
                GroupWrite {
                    event: Event::Updated(vec![FieldChange::shown("name", Some("before"), Some("after"))]),
                    row: apple.clone(),
                },
                GroupWrite {
                    event: Event::Deactivated(DeactivatedBy::Sync),
                    row: wings.clone(),
                },
            ],
            memberships_removed: vec![edge(&g1, &u3)],
            memberships_added: vec![edge(&g2, &u1)],
            nesting_removed: vec![edge(&g2, &g1)],
            ..ChangeSet::default()
        };
        sync(&db, &acme, &changes, 2).await;

        let state = db.store.load_state(&acme).await.expect("state");
        let by_source = |s: &str| {
            state
                .users
                .iter()
                .find(|u| u.source_id.as_str() == s)
                .cloned()
                .expect("user")
        };
        assert_eq!(by_source("s-u2"), renamed);
        assert_eq!(by_source("s-u3"), gone);
        assert_eq!(by_source("s-u4"), user(&u4));
        assert_eq!(state.users.len(), 4);
        assert!(state.groups.contains(&apple) && state.groups.contains(&wings));
        let (memberships, nesting) = edges_by_source(&state);
        assert_eq!(
            memberships,
            pairs(&[
                ("s-g1", "s-u1"),
                ("s-g1", "s-u2"),
                ("s-g1", "s-u4"),
                ("s-g2", "s-u1"),
                ("s-g2", "s-u2"),
            ])
        );
        assert_eq!(nesting, pairs(&[("s-g1", "s-g2"), ("s-g1", "s-g3")]));

        // Only written rows carry the second run's time.
        let views = db
            .store
            .users(&acme, &UserFilter::default(), None)
            .await
            .expect("views");
        let synced: Vec<(String, u32)> = views
            .iter()
            .map(|v| {
                let hour = v.last_sync_at.map(|t| chrono::Timelike::hour(&t));
                (v.external_id.clone(), hour.expect("synced"))
            })
            .collect();
        assert_eq!(
            synced,
            vec![
                ("gharrison".into(), 2),
                ("jlennon".into(), 1),
                ("pmccartney".into(), 2),
                ("rstarr".into(), 2),
            ]
        );
    }
}

// A password's check (`password_check`) round-trips beside its hash, is replaced and
// removed with it, and a silent write (a new check for an unchanged password) changes the
// row without a log line.
backend_tests! {
    async fn password_checks_round_trip_and_silent_writes_log_nothing(db: Db) {
        let acme = tenant("acme");
        sync(&db, &acme, &directory(), 1).await;
        let stored = |state: &StoreState, sid: &str| {
            let user = state.users.iter().find(|u| u.source_id.as_str() == sid).expect("user");
            user.password_hash.clone()
        };
        let state = db.store.load_state(&acme).await.expect("state");
        let hash = stored(&state, "s-u1").expect("a hash");
        assert_eq!((hash.as_str(), hash.check()), ("$argon2id$v=19$hash", Some(CHECK)));

        let mut rechecked = user(&key("s-u1", "jlennon"));
        rechecked.admin = true;
        rechecked.email = None;
        let new_check = "ab".repeat(32);
        rechecked.password_hash = Some(hash.clone().with_check(Some(new_check.clone())));
        let mut unchecked = user(&key("s-u2", "pmccartney"));
        unchecked.password_hash = Some(PasswordHash::new("$argon2id$v=19$paul"));
        let changes = ChangeSet {
            users: vec![
                UserWrite { event: Event::Silent, row: rechecked },
                UserWrite {
                    event: Event::Updated(vec![FieldChange::secret("password")]),
                    row: unchecked,
                },
            ],
            ..ChangeSet::default()
        };
        let run = sync(&db, &acme, &changes, 2).await;
        let state = db.store.load_state(&acme).await.expect("state");
        let hash = stored(&state, "s-u1").expect("a hash");
        assert_eq!(hash.check(), Some(new_check.as_str()));
        let paul = stored(&state, "s-u2").expect("a hash");
        assert_eq!((paul.as_str(), paul.check()), ("$argon2id$v=19$paul", None));
        let lines = db.printed_lines(run).await;
        assert_eq!(lines, ["updated-user: pmccartney (password changed)"]);
    }
}

backend_tests! {
    async fn renames_may_swap_external_ids_in_one_run(db: Db) {
        let acme = tenant("acme");
        sync(&db, &acme, &directory(), 1).await;
        let mut first = db.store.load_state(&acme).await.expect("state").users[0].clone();
        let mut second = db.store.load_state(&acme).await.expect("state").users[1].clone();
        std::mem::swap(&mut first.external_id, &mut second.external_id);
        let changes = ChangeSet {
            users: [&first, &second]
                .map(|row| UserWrite {
                    event: Event::Updated(vec![FieldChange::shown("external_id", Some("before"), Some("after"))]),
                    row: row.clone(),
                })
                .into(),
            ..ChangeSet::default()
        };
        sync(&db, &acme, &changes, 2).await;
        let state = db.store.load_state(&acme).await.expect("state");
        assert_eq!(state.users[0], first);
        assert_eq!(state.users[1], second);
        assert_eq!(
            state.users[0].external_id,
            ExternalId::new("pmccartney").expect("id")
        );
    }
}

backend_tests! {
    async fn an_edge_to_an_unknown_entry_rolls_everything_back(db: Db) {
        let acme = tenant("acme");
        sync(&db, &acme, &directory(), 1).await;
        let (u1, g1, g2) = (
            key("s-u1", "jlennon"),
            key("s-g1", "beatles"),
            key("s-g2", "wings"),
        );
        let (u5, g4, ghost) = (
            key("s-u5", "ystone"),
            key("s-g4", "plastic-ono"),
            key("s-ghost", "ghost"),
        );
        let mut renamed = user(&u1);
        renamed.first_name = "John Winston".into();
        let base = ChangeSet {
            users: vec![
                created_user(user(&u5)),
                UserWrite {
                    event: Event::Updated(vec![FieldChange::shown("first_name", Some("before"), Some("after"))]),
                    row: renamed,
                },
            ],
            groups: vec![created_group(group(&g4))],
            memberships_added: vec![edge(&g4, &u5), edge(&g1, &u5)],
            memberships_removed: vec![edge(&g1, &u1)],
            nesting_added: vec![edge(&g4, &g1)],
            ..ChangeSet::default()
        };
        let bad_sets = [
            ChangeSet {
                memberships_added: vec![edge(&g4, &u5), edge(&g1, &ghost)],
                ..base.clone()
            },
            ChangeSet {
                memberships_added: vec![edge(&ghost, &u5)],
                ..base.clone()
            },
            ChangeSet {
                memberships_removed: vec![edge(&g1, &ghost)],
                ..base.clone()
            },
            ChangeSet {
                nesting_added: vec![edge(&g2, &ghost)],
                ..base.clone()
            },
            ChangeSet {
                nesting_removed: vec![edge(&ghost, &g1)],
                ..base.clone()
            },
        ];
        let run = db.begin(&acme, 2).await;
        let before = everything(&db).await;
        for changes in &bad_sets {
            let err = succeed(&db.store, run, &acme, changes, 2)
                .await
                .expect_err("unknown source id");
            assert!(
                matches!(&err, StoreError::Failed(m) if m.contains("s-ghost") && m.contains(&db.database.name)),
                "{err:?}"
            );
            assert_eq!(everything(&db).await, before);
        }
        // The same run then applies the good set.
        succeed(&db.store, run, &acme, &base, 2)
            .await
            .expect("apply");
        let (memberships, nesting) = edges_by_source(&db.store.load_state(&acme).await.expect("s"));
        assert!(memberships.contains(&("s-g4".into(), "s-u5".into())));
        assert!(!memberships.contains(&("s-g1".into(), "s-u1".into())));
        assert!(nesting.contains(&("s-g4".into(), "s-g1".into())));
    }
}

backend_tests! {
    async fn an_apply_for_an_unknown_run_fails_and_writes_nothing(db: Db) {
        let acme = tenant("acme");
        let changes = directory();
        let err = db
            .store
            .apply(
                idmsync_domain::RunId(42),
                &acme,
                &changes,
                &succeeded(&changes, 1), &idmsync_ports::NoProgress
            )
            .await
            .expect_err("no run 42");
        assert!(
            matches!(&err, StoreError::Failed(m) if m.contains("run 42")),
            "{err:?}"
        );
        assert_eq!(
            db.store.load_state(&acme).await.expect("state"),
            StoreState::default()
        );
    }
}

backend_tests! {
    async fn batches_beyond_the_bind_limit_round_trip(db: Db) {
    const USERS: usize = 20_000;
    const GROUPS: usize = 30;
    let acme = tenant("acme");
    let users: Vec<_> = (0..USERS)
        .map(|i| key(&format!("s-u{i}"), &format!("user{i:05}")))
        .collect();
    let groups: Vec<_> = (0..GROUPS)
        .map(|i| key(&format!("s-g{i}"), &format!("group{i:02}")))
        .collect();
    let memberships: Vec<_> = (0..USERS)
        .flat_map(|i| (0..3).map(move |k| (i, (i + k) % GROUPS)))
        .map(|(u, g)| edge(&groups[g], &users[u]))
        .collect();
    let changes = ChangeSet {
        users: users.iter().map(|k| created_user(user(k))).collect(),
        groups: groups.iter().map(|k| created_group(group(k))).collect(),
        memberships_added: memberships,
        nesting_added: (1..GROUPS)
            .map(|i| edge(&groups[i - 1], &groups[i]))
            .collect(),
        ..ChangeSet::default()
    };
    let run = sync(&db, &acme, &changes, 1).await;

    let state = db.store.load_state(&acme).await.expect("state");
    assert_eq!(state.users.len(), USERS);
    assert_eq!(state.groups.len(), GROUPS);
    assert_eq!(state.memberships.len(), 3 * USERS);
    assert_eq!(state.nesting.len(), GROUPS - 1);
    assert_eq!(edges_by_source(&state).0.len(), 3 * USERS);
    let lines = db.store.lines(run).await.expect("lines");
    assert_eq!(lines.len(), USERS + GROUPS + 3 * USERS + GROUPS - 1);
    // A differential run's state: every row, the edges of its groups only.
    let scoped = db
        .store
        .load_state_for(&acme, &[groups[0].source_id.clone()], &[])
        .await
        .expect("scoped state");
    assert_eq!((scoped.users.len(), scoped.groups.len()), (USERS, GROUPS));
    let of_first = (0..USERS)
        .flat_map(|i| (0..3).map(move |k| (i + k) % GROUPS))
        .filter(|&g| g == 0)
        .count();
    assert_eq!(scoped.memberships.len(), of_first);
    assert_eq!(edges_by_source(&scoped).1, pairs(&[("s-g0", "s-g1")]));

    // Deactivate everyone and drop one membership each: large updates and deletes.
    let second = ChangeSet {
        users: users
            .iter()
            .map(|k| UserWrite {
                event: Event::Deactivated(DeactivatedBy::Sync),
                row: inactive(user(k)),
            })
            .collect(),
        memberships_removed: (0..USERS)
            .map(|i| edge(&groups[i % GROUPS], &users[i]))
            .collect(),
        ..ChangeSet::default()
    };
    sync(&db, &acme, &second, 2).await;
    let state = db.store.load_state(&acme).await.expect("state");
    assert!(state.users.iter().all(|u| u.status == UserStatus::Inactive));
    assert_eq!(state.memberships.len(), 2 * USERS);
    }
}

backend_tests! {
    async fn a_bulk_first_sync_leaves_every_key_of_the_edge_tables(db: Db) {
    // Enough new edges for the bulk path, which drops keys and adds them back (bulk.rs).
    const USERS: usize = 12_000;
    let acme = tenant("acme");
    let users: Vec<_> = (0..USERS)
        .map(|i| key(&format!("s-u{i}"), &format!("user{i:05}")))
        .collect();
    let groups: Vec<_> = (0..3)
        .map(|i| key(&format!("s-g{i}"), &format!("group{i}")))
        .collect();
    let changes = ChangeSet {
        users: users.iter().map(|k| created_user(user(k))).collect(),
        groups: groups.iter().map(|k| created_group(group(k))).collect(),
        memberships_added: users.iter().map(|u| edge(&groups[0], u)).collect(),
        nesting_added: vec![edge(&groups[0], &groups[1])],
        ..ChangeSet::default()
    };
    // A duplicate among the bulk-loaded edges fails the whole apply, with the keys dropped
    // (PostgreSQL) or the checks off (MariaDB), and leaves the connection's checks as they were.
    let mut broken = changes.clone();
    broken.memberships_added.push(edge(&groups[0], &users[USERS / 2]));
    let run = db.begin(&acme, 1).await;
    let before = everything(&db).await;
    succeed(&db.store, run, &acme, &broken, 1)
        .await
        .expect_err("a duplicate edge in a bulk load");
    assert_eq!(everything(&db).await, before);
    succeed(&db.store, run, &acme, &changes, 1)
        .await
        .expect("the same run then applies the set without the duplicate");
    let state = db.store.load_state(&acme).await.expect("state");
    assert_eq!(state.memberships.len(), USERS);

    let mut raw = db.database.raw();
    let indexes = "'idm_user_memberships_user', 'idm_group_nesting_child'";
    let (found, expected) = match db.database.backend {
        Backend::Sqlite => (
            format!("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN ({indexes})"),
            2,
        ),
        Backend::Postgres => (
            format!(
                "SELECT (SELECT COUNT(*) FROM pg_indexes WHERE indexname IN ({indexes})) \
                 + (SELECT COUNT(*) FROM pg_constraint WHERE conrelid IN \
                    ('idm_user_memberships'::regclass, 'idm_group_nesting'::regclass))"
            ),
            // Two indexes; per table a primary key and two foreign keys.
            2 + 6,
        ),
        Backend::Mysql => (
            format!(
                "SELECT COUNT(DISTINCT index_name) FROM information_schema.statistics \
                 WHERE table_schema = DATABASE() AND index_name IN ({indexes})"
            ),
            2,
        ),
    };
    assert_eq!(raw.count(&found), expected, "{found}");
    // The keys hold: a duplicate edge and an edge to no user are refused.
    let duplicate = "INSERT INTO idm_user_memberships (group_id, user_id) \
                     SELECT group_id, user_id FROM idm_user_memberships WHERE user_id = \
                     (SELECT MIN(user_id) FROM idm_user_memberships)";
    assert!(raw.try_execute(duplicate).is_err(), "a duplicate edge was accepted");
    let dangling = "INSERT INTO idm_user_memberships (group_id, user_id) \
                    SELECT MIN(group_id), -1 FROM idm_user_memberships";
    assert!(raw.try_execute(dangling).is_err(), "an edge to no user was accepted");
    }
}

backend_tests! {
    async fn rows_with_an_unknown_status_are_corrupt(db: Db) {
        let acme = tenant("acme");
        sync(&db, &acme, &directory(), 1).await;
        db.execute("UPDATE idm_users SET status = 'suspended' WHERE source_id = 's-u2'");
        let err = db.store.load_state(&acme).await.expect_err("corrupt");
        assert!(
            matches!(&err, StoreError::Corrupt(m) if m.contains("idm_users row") && m.contains("suspended")),
            "{err:?}"
        );
        let err = db
            .store
            .users(&acme, &UserFilter::default(), None)
            .await
            .expect_err("corrupt");
        assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    }
}

backend_tests! {
    async fn text_that_bulk_formats_split_on_round_trips(db: Db) {
        // Tabs, line breaks, backslashes and `\N` are what the bulk loads' text and array
        // encodings must escape; none of them may split, shift or nullify a value.
        let acme = tenant("acme");
        let awkward = "tab\there\nline\r\\N back\\slash ü 𝄞 \"'`";
        let mut row = user(&key("s-odd\t1", "odd\\user"));
        row.first_name = awkward.to_string();
        row.last_name = String::new();
        row.email = None;
        let changes = ChangeSet {
            users: vec![created_user(row.clone())],
            ..ChangeSet::default()
        };
        let run = sync(&db, &acme, &changes, 1).await;
        let state = db.store.load_state(&acme).await.expect("state");
        assert_eq!(state.users, vec![row]);
        let lines = db.store.lines(run).await.expect("lines");
        assert_eq!(lines, changes.log_lines().collect::<Vec<_>>());
    }
}

backend_tests! {
    async fn a_duplicate_edge_fails_the_whole_apply(db: Db) {
        // MySQL's `LOAD DATA LOCAL` skips a duplicate key with a warning instead of failing;
        // the store must turn that into a failure like the other backends' key violation.
        let acme = tenant("acme");
        let base = directory();
        let (g1, u1) = (key("s-g1", "beatles"), key("s-u1", "jlennon"));
        let mut changes = base.clone();
        changes.memberships_added.push(edge(&g1, &u1));
        let run = db.begin(&acme, 1).await;
        let before = everything(&db).await;
        succeed(&db.store, run, &acme, &changes, 1)
            .await
            .expect_err("a duplicate edge");
        assert_eq!(everything(&db).await, before);
        succeed(&db.store, run, &acme, &base, 1)
            .await
            .expect("the same run then applies the set without the duplicate");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mysql_value_too_long_for_its_column_fails_instead_of_being_truncated() {
    // ids are VARCHAR(512) on MySQL; `LOAD DATA LOCAL` would truncate with a warning.
    // A few rows go in by one `INSERT`, which strict mode refuses outright; many go through the
    // staged `LOAD DATA`, whose warning fails the load.
    let db = crate::support::fresh(crate::support::Backend::Mysql);
    let acme = tenant("acme");
    let long = "x".repeat(600);
    let others: Vec<String> = (0..300).map(|i| format!("u{i}")).collect();
    for (count, refusal) in [(0, "Data too long"), (others.len(), "warning")] {
        let mut users = vec![created_user(user(&key(&long, "long")))];
        users.extend(
            others[..count]
                .iter()
                .map(|id| created_user(user(&key(id, id)))),
        );
        let changes = ChangeSet {
            users,
            ..ChangeSet::default()
        };
        let run = db.begin(&acme, 1).await;
        let err = succeed(&db.store, run, &acme, &changes, 1)
            .await
            .expect_err("too long");
        assert!(err.to_string().contains(refusal), "{err}");
        assert_eq!(
            db.store.load_state(&acme).await.expect("state"),
            StoreState::default()
        );
    }
}

/// Counts what the store reports, and checks it reports inside the stage it was given.
#[derive(Default)]
struct Counted(std::sync::atomic::AtomicU64);

impl idmsync_ports::Progress for Counted {
    fn stage(&self, _name: &str, _total: Option<u64>) {
        panic!("the caller begins the stage; the store only advances it");
    }
    fn advance(&self, n: u64) {
        self.0.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }
}

backend_tests! {
    async fn applying_advances_the_progress_by_every_row_and_log_line(db: Db) {
        let acme = tenant("acme");
        let changes = directory();
        let run = db.begin(&acme, 1).await;
        let counted = Counted::default();
        db.store
            .apply(run, &acme, &changes, &succeeded(&changes, 1), &counted)
            .await
            .expect("apply");
        let lines = db.store.lines(run).await.expect("lines").len() as u64;
        assert!(lines > 0);
        assert_eq!(counted.0.into_inner(), changes.writes());
        assert_eq!(
            changes.writes(),
            lines
                + (changes.users.len()
                    + changes.groups.len()
                    + changes.memberships_added.len()
                    + changes.nesting_added.len()) as u64
        );
    }
}

fn document(group: bool, source_id: &str, body: &str) -> Document {
    Document {
        group,
        source_id: SourceId::new(source_id).expect("id"),
        body: body.into(),
    }
}

/// Asserts that the tenant's documents are `expected` (in key order), naming only keys and body
/// lengths when they are not: one body is long.
#[track_caller]
fn assert_documents(stored: Vec<Document>, expected: &[&Document]) {
    let mut stored = stored;
    stored.sort_by(|a, b| (a.group, &a.source_id).cmp(&(b.group, &b.source_id)));
    let brief = |documents: &mut dyn Iterator<Item = &Document>| -> Vec<String> {
        documents
            .map(|d| format!("{} {} ({} bytes)", d.group, d.source_id, d.body.len()))
            .collect()
    };
    let same = stored.len() == expected.len() && stored.iter().zip(expected).all(|(a, b)| a == *b);
    assert!(
        same,
        "stored {:?}, expected {:?}",
        brief(&mut stored.iter()),
        brief(&mut expected.iter().copied())
    );
}

backend_tests! {
    async fn documents_are_upserted_in_the_transaction_of_the_rows(db: Db) {
        let acme = tenant("acme");
        let stored = || async { db.store.documents(&acme).await.expect("documents") };
        assert_documents(stored().await, &[]);
        // What LOAD DATA's text and TEXT's 64 KiB would break: escapes, non-ASCII, a long body.
        let members = format!(r#"{{"members":["{}"]}}"#, "x\t\\\n\"ü".repeat(20_000));
        let john = document(false, "s-u1", r#"{"displayName":"John","externalId":"00u1"}"#);
        let beatles = document(true, "s-g1", &members);
        // A group and a user may share a source id: the kind is part of the key.
        let same_id = document(true, "s-u1", "{}");
        let changes = ChangeSet {
            documents: vec![john.clone(), beatles.clone(), same_id.clone()],
            ..directory()
        };
        sync(&db, &acme, &changes, 1).await;
        assert_documents(stored().await, &[&john, &beatles, &same_id]);
        let other = db.store.documents(&tenant("other")).await.expect("documents");
        assert_documents(other, &[]);

        // A newer body replaces the older; of two with one key in a set, the later wins.
        let renamed = document(false, "s-u1", r#"{"displayName":"John Winston"}"#);
        let changes = ChangeSet {
            documents: vec![document(false, "s-u1", "stale"), renamed.clone()],
            ..ChangeSet::default()
        };
        assert!(!changes.is_empty());
        sync(&db, &acme, &changes, 2).await;
        assert_documents(stored().await, &[&renamed, &beatles, &same_id]);
        // A user's page carries the user's document, not the group's of the same id.
        let detail = DirectoryReader::user(&db.store, &acme, "jlennon")
            .await
            .expect("user")
            .expect("jlennon");
        assert_eq!(detail.document.as_deref(), Some(renamed.body.as_str()));

        // An apply that fails after writing its documents leaves none of them.
        let run = db.begin(&acme, 3).await;
        let before = everything(&db).await;
        let failing = ChangeSet {
            documents: vec![document(false, "s-u1", "lost"), document(false, "s-u9", "{}")],
            memberships_added: vec![edge(&key("s-ghost", "ghost"), &key("s-u1", "jlennon"))],
            ..ChangeSet::default()
        };
        succeed(&db.store, run, &acme, &failing, 3)
            .await
            .expect_err("unknown group");
        assert!(everything(&db).await == before, "the failed apply left a trace");
        assert_documents(stored().await, &[&renamed, &beatles, &same_id]);
    }
}
