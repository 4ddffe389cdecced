//! The run lifecycle and the run log.

use idmsync_domain::{
    ChangeSet, Counts, EventKey, LogLine, Outcome, RunId, SyncMode, Trigger, Watermark,
};
use idmsync_ports::{NewRun, Page, RunLogReader, StoreError, SyncStore};

use crate::support::{
    at, backend_tests, backends, created_group, created_user, directory, edge, ended, fresh, key,
    new_run, succeed, sync, tenant, user,
};

backend_tests! {
    async fn a_successful_run_records_counts_and_watermark(db: Db) {
        let acme = tenant("acme");
        assert_eq!(db.store.last_success(&acme).await.expect("none"), None);
        let changes = directory();
        let run = sync(&db, &acme, &changes, 3).await;

        let last = db
            .store
            .last_success(&acme)
            .await
            .expect("query")
            .expect("a success");
        assert_eq!(last.id, run);
        assert_eq!(last.tenant, acme);
        assert_eq!(last.mode, SyncMode::Full);
        assert_eq!(last.trigger, Trigger::Manual);
        assert_eq!(last.source, "file");
        assert_eq!(last.started_at, at(3));
        assert_eq!(last.finished_at, Some(at(3)));
        assert_eq!(last.outcome, Outcome::Succeeded);
        assert_eq!(last.reason, None);
        assert_eq!(last.counts, changes.counts());
        assert_eq!(last.counts.users_created, 4);
        assert_eq!(last.watermark, Some(Watermark("wm-3".into())));
        assert_eq!(db.store.run(run).await.expect("run"), Some(last));
        assert_eq!(db.store.run(RunId(run.0 + 100)).await.expect("run"), None);
    }
}

backend_tests! {
    async fn the_newest_run_is_the_tenants_latest_of_any_outcome(db: Db) {
        let (acme, other) = (tenant("acme"), tenant("other"));
        assert_eq!(db.store.newest_run(&acme).await.expect("query"), None);
        let synced = sync(&db, &acme, &directory(), 1).await;
        assert_eq!(db.store.newest_run(&acme).await.expect("query"), Some(synced));
        let running = db.begin(&acme, 2).await;
        db.begin(&other, 3).await;
        assert_eq!(db.store.newest_run(&acme).await.expect("query"), Some(running));
    }
}

backend_tests! {
    async fn beginning_a_run_interrupts_the_one_still_running(db: Db) {
        let (acme, other) = (tenant("acme"), tenant("other"));
        let elsewhere = db.begin(&other, 1).await;
        let dead = db.begin(&acme, 1).await;
        let live = db.begin(&acme, 2).await;

        let dead = db.store.run(dead).await.expect("run").expect("dead run");
        assert_eq!(dead.outcome, Outcome::Interrupted);
        assert_eq!(dead.finished_at, None);
        let live = db.store.run(live).await.expect("run").expect("live run");
        assert_eq!(
            (live.outcome, live.counts),
            (Outcome::Running, Counts::default())
        );
        let elsewhere = db.store.run(elsewhere).await.expect("run").expect("other");
        assert_eq!(elsewhere.outcome, Outcome::Running);
    }
}

backend_tests! {
    async fn failed_and_aborted_runs_keep_their_reason_and_lines(db: Db) {
        let acme = tenant("acme");
        let failed = db.begin(&acme, 1).await;
        let why = LogLine::new(EventKey::Failed, "source unavailable: ldap://dc1 refused");
        db.store
            .finish_run(
                failed,
                &ended(Outcome::Failed, "source unavailable", 1),
                std::slice::from_ref(&why),
            )
            .await
            .expect("finish");
        let aborted = db.begin(&acme, 2).await;
        let guard = [
            LogLine::new(EventKey::SkippedUser, "line 7: no login id"),
            LogLine::new(EventKey::Aborted, "would deactivate 40 of 100 users"),
        ];
        db.store
            .finish_run(
                aborted,
                &ended(Outcome::Aborted, "too many deactivations", 2),
                &guard,
            )
            .await
            .expect("finish");

        assert_eq!(db.store.last_success(&acme).await.expect("query"), None);
        let runs = db.store.runs(&acme, None).await.expect("runs");
        let summary: Vec<_> = runs
            .iter()
            .map(|r| (r.id, r.outcome, r.reason.clone(), r.finished_at))
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    aborted,
                    Outcome::Aborted,
                    Some("too many deactivations".into()),
                    Some(at(2))
                ),
                (
                    failed,
                    Outcome::Failed,
                    Some("source unavailable".into()),
                    Some(at(1))
                ),
            ]
        );
        assert_eq!(db.store.lines(failed).await.expect("lines"), vec![why]);
        assert_eq!(db.store.lines(aborted).await.expect("lines"), guard);

        // A success, then a later failure: the success is still the last one.
        let ok = sync(&db, &acme, &directory(), 3).await;
        let later = db.begin(&acme, 4).await;
        db.store
            .finish_run(later, &ended(Outcome::Failed, "boom", 4), &[])
            .await
            .expect("finish");
        let last = db.store.last_success(&acme).await.expect("query");
        assert_eq!(last.map(|r| r.id), Some(ok));
        let page = Page { start: 1, size: 2 };
        let paged = db.store.runs(&acme, Some(page)).await.expect("runs");
        assert_eq!(
            paged.iter().map(|r| r.id).collect::<Vec<_>>(),
            [ok, aborted]
        );
    }
}

backend_tests! {
    async fn lines_are_the_change_sets_lines_in_order(db: Db) {
        let acme = tenant("acme");
        let changes = directory();
        let run = sync(&db, &acme, &changes, 1).await;
        let lines = db.printed_lines(run).await;
        let expected: Vec<String> = changes.log_lines().map(|l| l.to_string()).collect();
        assert_eq!(lines, expected);
        assert_eq!(
            lines[0],
            "created-user: jlennon (First jlennon Last jlennon)"
        );
        assert_eq!(lines.len(), 4 + 3 + 5 + 3);
        assert!(lines.contains(&"added-group-to-group: wings to beatles".to_string()));
    }
}

backend_tests! {
    async fn an_unknown_event_key_is_corrupt(db: Db) {
        let run = sync(&db, &tenant("acme"), &directory(), 1).await;
        db.execute("UPDATE idm_sync_log_lines SET event = 'exploded' WHERE seq = 2");
        let err = db.store.lines(run).await.expect_err("corrupt");
        assert!(
            matches!(&err, StoreError::Corrupt(m) if m.contains("exploded") && m.contains("line 2")),
            "{err:?}"
        );
    }
}

/// On a current-thread runtime the store runs diesel inline instead of `block_in_place`.
#[tokio::test]
async fn finishing_an_unknown_run_fails_on_a_current_thread_runtime() {
    for backend in backends() {
        let db = fresh(backend);
        let err = db
            .store
            .finish_run(RunId(7), &ended(Outcome::Failed, "x", 1), &[])
            .await
            .expect_err("no run 7");
        assert!(
            matches!(&err, StoreError::Failed(m) if m.contains("run 7")),
            "{backend:?}: {err:?}"
        );
    }
}

backend_tests! {
    async fn a_users_history_is_its_own_lines_whatever_its_id_holds(db: Db) {
        let (acme, other) = (tenant("acme"), tenant("other"));
        let wild = key("s-wild", "a_b%");
        let tame = key("s-tame", "axbyz");
        let group = key("s-g", "g");
        let changes = ChangeSet {
            users: vec![created_user(user(&wild)), created_user(user(&tame))],
            groups: vec![created_group(crate::support::group(&group))],
            memberships_added: vec![edge(&group, &wild), edge(&group, &tame)],
            ..ChangeSet::default()
        };
        let first = sync(&db, &acme, &changes, 1).await;
        sync(&db, &other, &changes, 2).await;
        let history = |id: &'static str, limit| {
            let (store, acme) = (&db.store, acme.clone());
            async move { store.history(&acme, id, limit).await.expect("history") }
        };
        let lines: Vec<(RunId, String)> = history("a_b%", 10)
            .await
            .iter()
            .map(|h| (h.run, h.line.to_string()))
            .collect();
        assert_eq!(
            lines,
            [
                (
                    first,
                    "created-user: a_b% (First a_b% Last a_b%, a_b%@example.com)".to_string(),
                ),
                (first, "added-user-to-group: a_b% to g".to_string()),
            ]
        );
        assert_eq!(history("axbyz", 1).await.len(), 1);
        assert!(history("a", 10).await.is_empty());
        let none = db.store.history(&tenant("none"), "a_b%", 10).await.expect("history");
        assert!(none.is_empty());
    }
}

backend_tests! {
    async fn a_live_run_is_read_back_as_live_and_is_where_the_next_run_starts(db: Db) {
        let acme = tenant("acme");
        let full = sync(&db, &acme, &directory(), 1).await;
        let live = NewRun {
            mode: SyncMode::Live,
            trigger: Trigger::Live,
            ..new_run(&acme, 2)
        };
        let run = db.store.begin_run(&live).await.expect("begin");
        succeed(&db.store, run, &acme, &ChangeSet::default(), 2)
            .await
            .expect("apply");
        let last = db.store.last_success(&acme).await.expect("query");
        assert_eq!(
            last.map(|r| (r.id, r.mode, r.trigger, r.watermark)),
            Some((run, SyncMode::Live, Trigger::Live, Some(Watermark("wm-2".into()))))
        );
        let runs = db.store.runs(&acme, None).await.expect("runs");
        assert_eq!(
            runs.iter().map(|r| (r.id, r.mode)).collect::<Vec<_>>(),
            [(run, SyncMode::Live), (full, SyncMode::Full)]
        );
    }
}
