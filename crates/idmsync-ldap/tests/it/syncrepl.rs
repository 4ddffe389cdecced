//! Differential reads by RFC 4533 content synchronisation against slapd with the syncprov
//! overlay, with and without a session log: what changed comes back, and what left (deleted,
//! moved out of the base, changed out of the filter) is named, so the engine can deactivate it.

use std::sync::atomic::AtomicU64;

use idmsync_domain::plan::{Departures, SourceData};
use idmsync_domain::SourceId;
use idmsync_ldap::{Deltas, LdapConfig};
use idmsync_ports::{IdentitySource, NoProgress, SourceError};
use idmsync_test_ldap::{fixtures, SessionLog, Slapd, TestDirectory};

use super::{config, departed, ids, make_leavers, source, KillOnFirstEntry};

fn syncprov(log: SessionLog) -> Slapd {
    Slapd::builder()
        .ldif(fixtures::DIRECTORY)
        .syncprov(log)
        .start()
}

/// Users whose description is `left` are out of the filter, so a test can move one out of it.
fn filtered(slapd: &Slapd) -> LdapConfig {
    LdapConfig {
        user_filter: Some("(&(objectClass=inetOrgPerson)(!(description=left)))".into()),
        ..config(slapd)
    }
}

/// The ids (of `known`, by source id) that `departures` says left, sorted.
fn gone<'a>(departures: &Departures, known: &'a [(SourceId, String)]) -> Vec<&'a str> {
    departed(departures, known.iter().map(|(sid, id)| (sid, id.as_str())))
}

/// Entries by source id and external id.
type Known = Vec<(SourceId, String)>;

/// Every user and group of a snapshot, by source id, minus those a read returned as changed.
fn unchanged(before: &SourceData, read: &SourceData) -> (Known, Known) {
    let returned: Vec<&SourceId> = read
        .users
        .iter()
        .map(|u| &u.source_id)
        .chain(read.groups.iter().map(|g| &g.source_id))
        .collect();
    let users = before
        .users
        .iter()
        .filter(|u| !returned.contains(&&u.source_id))
        .map(|u| (u.source_id.clone(), u.external_id.as_str().to_owned()))
        .collect();
    let groups = before
        .groups
        .iter()
        .filter(|g| !returned.contains(&&g.source_id))
        .map(|g| (g.source_id.clone(), g.external_id.as_str().to_owned()))
        .collect();
    (users, groups)
}

/// [`make_leavers`], and a user renamed (a new login) and one moved out of the filter.
fn change(slapd: &Slapd) {
    let suffix = slapd.suffix().to_owned();
    slapd.rename(
        &format!("uid=krichards,ou=london,ou=people,{suffix}"),
        "uid=keith",
        None,
    );
    slapd.modify(&format!(
        "dn: uid=keith,ou=london,ou=people,{suffix}\nchangetype: modify\nreplace: uid\nuid: keith\n\n\
         dn: uid=rwood,ou=london,ou=people,{suffix}\nchangetype: modify\nreplace: description\n\
         description: left\n"
    ));
    make_leavers(slapd);
}

async fn sees_changes_and_leavers(log: SessionLog) {
    let slapd = syncprov(log);
    let source = source(filtered(&slapd));
    let before = source.snapshot(&NoProgress).await.expect("snapshot");
    let watermark = source.watermark().await.expect("watermark");
    assert!(watermark.0.starts_with("rfc4533;"), "{watermark}");

    change(&slapd);
    let read = source
        .changed_since(&watermark, &NoProgress)
        .await
        .expect("a refresh");
    assert_eq!(
        ids(read.users.iter().map(|u| u.external_id.as_str())),
        ["keith", "mjagger"],
        "{log:?}"
    );
    assert_eq!(super::user(&read.users, "mjagger").last_name, "Jagger-Sir");
    assert_eq!(
        super::user(&read.users, "keith").source_id,
        super::user(&before.users, "krichards").source_id,
        "a rename keeps the entryUUID"
    );
    assert_eq!(
        ids(read.groups.iter().map(|g| g.external_id.as_str())),
        ["stones"]
    );
    let stones = &read.groups[0];
    assert_eq!(stones.members.len(), 3, "cwatts is out: {stones:?}");
    let (users, groups) = unchanged(&before, &read);
    assert_eq!(
        gone(&read.departed.users, &users),
        ["dbowie", "eclapton", "rwood"],
        "{log:?}: {:?}",
        read.departed.users
    );
    assert_eq!(
        gone(&read.departed.groups, &groups),
        ["dangling"],
        "{log:?}"
    );

    // From the position after the changes nothing changed, and no entry still there left.
    let after = source.snapshot(&NoProgress).await.expect("snapshot");
    let now = source.watermark().await.expect("watermark");
    let quiet = source
        .changed_since(&now, &NoProgress)
        .await
        .expect("a refresh");
    assert!(
        quiet.users.is_empty() && quiet.groups.is_empty(),
        "{quiet:?}"
    );
    let (users, groups) = unchanged(&after, &quiet);
    assert!(gone(&quiet.departed.users, &users).is_empty(), "{log:?}");
    assert!(gone(&quiet.departed.groups, &groups).is_empty(), "{log:?}");
}

#[tokio::test]
async fn a_refresh_with_a_session_log_names_what_changed_and_what_left() {
    sees_changes_and_leavers(SessionLog::Operations(100)).await;
}

#[tokio::test]
async fn a_refresh_without_a_session_log_names_what_changed_and_what_left() {
    sees_changes_and_leavers(SessionLog::None).await;
}

#[tokio::test]
async fn a_restart_that_loses_the_session_log_still_names_what_left() {
    let mut slapd = syncprov(SessionLog::Operations(100));
    let source = source(config(&slapd));
    let before = source.snapshot(&NoProgress).await.expect("snapshot");
    let watermark = source.watermark().await.expect("watermark");
    slapd.delete(&format!("uid=dbowie,ou=people,{}", slapd.suffix()));
    slapd.start_again();
    let read = source
        .changed_since(&watermark, &NoProgress)
        .await
        .expect("a refresh after the restart");
    let (users, _) = unchanged(&before, &read);
    assert_eq!(gone(&read.departed.users, &users), ["dbowie"]);
}

#[tokio::test]
async fn a_position_of_other_searches_refreshes_the_whole_content() {
    let slapd = syncprov(SessionLog::Operations(100));
    let watermark = source(config(&slapd)).watermark().await.expect("watermark");
    slapd.delete(&format!("uid=dbowie,ou=people,{}", slapd.suffix()));
    // The users' filter changed since the position was taken: the cookie is not used, every
    // entry in the new scope comes back, and whatever else is stored left.
    let narrower = source(LdapConfig {
        user_filter: Some("(&(objectClass=inetOrgPerson)(sn=*))".into()),
        ..config(&slapd)
    });
    let read = narrower
        .changed_since(&watermark, &NoProgress)
        .await
        .expect("a refresh");
    assert!(!read.users.is_empty());
    assert!(
        read.users
            .iter()
            .all(|u| u.external_id.as_str() != "dbowie"),
        "{:?}",
        read.users
    );
    assert!(matches!(read.departed.users, Departures::AllBut(_)));
}

#[tokio::test]
async fn a_server_killed_mid_refresh_fails_the_read() {
    let slapd = syncprov(SessionLog::None);
    let source = source(config(&slapd));
    let watermark = source.watermark().await.expect("watermark");
    let progress = KillOnFirstEntry {
        killer: slapd.killer(),
        seen: AtomicU64::new(0),
    };
    slapd.modify(&format!(
        "dn: uid=mjagger,ou=london,ou=people,{}\nchangetype: modify\nreplace: sn\nsn: Jagger-Sir\n",
        slapd.suffix()
    ));
    match source.changed_since(&watermark, &progress).await {
        Err(SourceError::Failed(message)) => {
            assert!(
                message.contains("content synchronisation under ou="),
                "{message}"
            );
        }
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[tokio::test]
async fn syncrepl_on_a_server_without_it_names_the_missing_overlay() {
    // The module is loaded, so the root DSE lists the control, but no database has the overlay.
    let slapd = super::fixture();
    let required = source(LdapConfig {
        deltas: Deltas::Syncrepl,
        ..config(&slapd)
    });
    match required.watermark().await {
        Err(SourceError::Invalid { location, message }) => {
            assert_eq!(location, "source.ldap.deltas");
            assert!(
                message.contains("syncprov") && message.contains(&slapd.url()),
                "{message}"
            );
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    // `auto` falls back to timestamps there, and `timestamp` uses them even with syncprov.
    let auto = source(config(&slapd)).watermark().await.expect("watermark");
    assert_eq!(auto.0.len(), 15, "{auto}");
    let with = syncprov(SessionLog::None);
    let timestamps = source(LdapConfig {
        deltas: Deltas::Timestamp,
        ..config(&with)
    });
    assert_eq!(timestamps.watermark().await.expect("watermark").0.len(), 15);
}
