//! Integration tests of the LDAP source against a real slapd (`idmsync-test-ldap`) and, in `ad`,
//! a real Samba AD domain controller (`idmsync-test-ad`), read through
//! the `IdentitySource` trait as the engine reads it: the fixture directory, paging past a size
//! limit, differential runs after real modifications, TLS, and every way a run can break.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use idmsync_domain::plan::{Departures, SourceData};
use idmsync_domain::{MemberRef, SourceGroup, SourceId, SourcePassword, SourceUser, Watermark};
use idmsync_ldap::{LdapConfig, LdapSource, Secret};
use idmsync_ports::{IdentitySource, NoProgress, Progress, SourceError};
use idmsync_test_ldap::{fixtures, Killer, Slapd, TestDirectory};

mod ad;

mod bind;
mod check;
mod ds389;
mod live;
mod syncrepl;

/// A configuration that reads `slapd` as the sync account with the OpenLDAP defaults.
fn config(slapd: &Slapd) -> LdapConfig {
    LdapConfig {
        url: slapd.url(),
        bind_dn: slapd.sync_dn(),
        bind_password: Some(Secret::new(slapd.sync_password())),
        user_search_base: format!("ou=people,{}", slapd.suffix()),
        group_search_base: format!("ou=groups,{}", slapd.suffix()),
        ..LdapConfig::default()
    }
}

fn source(config: LdapConfig) -> LdapSource {
    LdapSource::new(config).expect("valid configuration")
}

fn fixture() -> Slapd {
    Slapd::builder().ldif(fixtures::DIRECTORY).start()
}

fn user<'a>(data: &'a [SourceUser], id: &str) -> &'a SourceUser {
    data.iter()
        .find(|u| u.external_id.as_str() == id)
        .unwrap_or_else(|| panic!("no user {id}"))
}

/// Changes to the fixture directory that a differential read must see: dbowie and the dangling
/// group deleted, eclapton moved out of the people base, mjagger's surname changed and cwatts
/// taken out of the stones.
fn make_leavers(directory: &impl TestDirectory) {
    let suffix = directory.suffix().to_owned();
    let people = format!("ou=people,{suffix}");
    directory.delete(&format!("uid=dbowie,{people}"));
    directory.delete(&format!("cn=dangling,ou=groups,{suffix}"));
    directory.rename(
        &format!("uid=eclapton,ou=london,{people}"),
        "uid=eclapton",
        Some(&format!("ou=elsewhere,{suffix}")),
    );
    directory.modify(&format!(
        "dn: uid=mjagger,ou=london,{people}\nchangetype: modify\nreplace: sn\nsn: Jagger-Sir\n\n\
         dn: cn=stones,ou=groups,{suffix}\nchangetype: modify\ndelete: member\n\
         member: uid=cwatts,ou=london,{people}\n"
    ));
}

/// The ids, sorted, of the `entries` (source id, external id) that `departures` says left.
fn departed<'a>(
    departures: &Departures,
    entries: impl Iterator<Item = (&'a SourceId, &'a str)>,
) -> Vec<&'a str> {
    let left = |sid: &SourceId| match departures {
        Departures::Unknown => false,
        Departures::Listed(sids) => sids.contains(sid),
        Departures::AllBut(sids) => !sids.contains(sid),
    };
    ids(entries.filter(|(sid, _)| left(sid)).map(|(_, id)| id))
}

fn ids<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut ids: Vec<&str> = ids.collect();
    ids.sort_unstable();
    ids
}

/// Each group's members by the external id of the user or group their locator resolves to, or
/// by the locator itself when it resolves to nothing: what the planner will see.
fn resolved_members(data: &SourceData) -> BTreeMap<String, Vec<String>> {
    let by_locator: HashMap<&str, &str> = data
        .users
        .iter()
        .map(|u| (u.locator.as_deref(), u.external_id.as_str()))
        .chain(
            data.groups
                .iter()
                .map(|g| (g.locator.as_deref(), g.external_id.as_str())),
        )
        .filter_map(|(locator, id)| Some((locator?, id)))
        .collect();
    data.groups
        .iter()
        .map(|g| {
            let mut members: Vec<String> = g
                .members
                .iter()
                .map(|m| match m {
                    MemberRef::Locator(l) => by_locator
                        .get(l.as_str())
                        .unwrap_or(&l.as_str())
                        .to_string(),
                    MemberRef::ExternalId(e) => format!("id:{e}"),
                })
                .collect();
            members.sort();
            (g.external_id.to_string(), members)
        })
        .collect()
}

/// Counts entries per stage.
#[derive(Default)]
struct Recorder(Mutex<Vec<(String, u64)>>);

impl Progress for Recorder {
    fn stage(&self, name: &str, _total: Option<u64>) {
        self.0
            .lock()
            .expect("not poisoned")
            .push((name.to_owned(), 0));
    }
    fn advance(&self, n: u64) {
        if let Some(last) = self.0.lock().expect("not poisoned").last_mut() {
            last.1 += n;
        }
    }
}

/// Kills the server when the first entry arrives, so the search breaks off mid-paging.
struct KillOnFirstEntry {
    killer: Killer,
    seen: AtomicU64,
}

impl Progress for KillOnFirstEntry {
    fn stage(&self, _name: &str, _total: Option<u64>) {}
    fn advance(&self, n: u64) {
        if self.seen.fetch_add(n, Ordering::SeqCst) == 0 {
            self.killer.kill();
        }
    }
}

fn assert_unavailable(result: Result<SourceData, SourceError>, expected: &[&str]) -> String {
    match result {
        Err(SourceError::Unavailable(message)) => {
            for part in expected {
                assert!(message.contains(part), "{part:?} not in {message:?}");
            }
            message
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn snapshot_maps_the_fixture_directory() {
    let slapd = fixture();
    let progress = Recorder::default();
    let data = source(config(&slapd))
        .snapshot(&progress)
        .await
        .expect("snapshot");

    assert_eq!(
        ids(data.users.iter().map(|u| u.external_id.as_str())),
        fixtures::PEOPLE
    );
    let mut uuids: Vec<&str> = data.users.iter().map(|u| u.source_id.as_str()).collect();
    uuids.sort_unstable();
    uuids.dedup();
    assert_eq!(uuids.len(), 12, "entryUUIDs are distinct");
    assert!(uuids.iter().all(|id| id.len() == 36), "{uuids:?}");

    let jlennon = user(&data.users, "jlennon");
    assert_eq!(
        (jlennon.first_name.as_str(), jlennon.last_name.as_str()),
        ("John", "Lennon")
    );
    assert_eq!(jlennon.email.as_deref(), Some("john.lennon@example.com"));
    assert_eq!(
        jlennon.locator.as_deref(),
        Some("uid=jlennon,ou=liverpool,ou=people,dc=example,dc=com")
    );
    assert_eq!(jlennon.password, SourcePassword::Unmanaged);
    assert!(jlennon.enabled);
    assert_eq!(
        user(&data.users, "pmccartney").email.as_deref(),
        Some("paul.mccartney@example.com"),
        "the first mail value wins"
    );
    assert_eq!(user(&data.users, "gharrison").email, None);
    assert_eq!(user(&data.users, "cwatts").email, None);
    let bjork = user(&data.users, "bjork");
    assert_eq!(bjork.last_name, "Guðmundsdóttir");
    assert_eq!(
        bjork.locator.as_deref(),
        Some("cn=björk guðmundsdóttir,ou=people,dc=example,dc=com")
    );
    assert_eq!(
        user(&data.users, "jsmith").locator.as_deref(),
        Some("cn=smith\\, john,ou=london,ou=people,dc=example,dc=com")
    );
    assert_eq!(
        user(&data.users, "rstarr").locator.as_deref(),
        Some("cn=ringo starr+uid=rstarr,ou=liverpool,ou=people,dc=example,dc=com")
    );

    let groups: BTreeMap<String, Vec<String>> = resolved_members(&data);
    let expected: BTreeMap<String, Vec<String>> = [
        (
            "beatles",
            vec!["gharrison", "jlennon", "pmccartney", "rstarr"],
        ),
        ("cycle-a", vec!["cycle-b", "jlennon"]),
        ("cycle-b", vec!["cycle-a", "mjagger"]),
        (
            "dangling",
            vec![
                "jsmith",
                "uid=ghost,ou=elsewhere,dc=example,dc=com",
                "uid=nosuchuser,ou=london,ou=people,dc=example,dc=com",
                "uid=outsider,ou=elsewhere,dc=example,dc=com",
            ],
        ),
        ("mixed-case", vec!["jlennon", "krichards", "rstarr"]),
        ("musicians", vec!["beatles", "bjork", "dbowie", "stones"]),
        ("stones", vec!["cwatts", "krichards", "mjagger", "rwood"]),
    ]
    .into_iter()
    .map(|(g, m)| (g.to_owned(), m.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(groups, expected);
    let beatles = data
        .groups
        .iter()
        .find(|g| g.external_id.as_str() == "beatles")
        .expect("beatles");
    assert_eq!(beatles.name, "beatles");
    assert_eq!(
        beatles.locator.as_deref(),
        Some("cn=beatles,ou=groups,dc=example,dc=com")
    );

    assert_eq!(
        *progress.0.lock().expect("not poisoned"),
        [
            ("reading users".to_owned(), 12),
            ("reading groups".to_owned(), 7)
        ]
    );
}

#[tokio::test]
async fn posix_groups_name_members_by_login_id() {
    let slapd = fixture();
    let data = source(LdapConfig {
        group_filter: Some("(objectClass=posixGroup)".into()),
        group_member_attribute: Some("memberUid".into()),
        ..config(&slapd)
    })
    .snapshot(&NoProgress)
    .await
    .expect("snapshot");
    let members: Vec<(&str, &[MemberRef])> = data
        .groups
        .iter()
        .map(|g: &SourceGroup| (g.external_id.as_str(), g.members.as_slice()))
        .collect();
    let id = |e: &str| MemberRef::ExternalId(e.into());
    assert_eq!(
        members,
        [(
            "developers",
            &[id("jlennon"), id("bjork"), id("jsmith"), id("nosuchuid")][..]
        )]
    );
}

#[tokio::test]
async fn paging_reads_past_the_servers_size_limit() {
    let slapd = Slapd::builder()
        .ldif(fixtures::DIRECTORY)
        .sync_size_limit(5)
        .start();

    // Without paging the sync account sees at most 5 entries, and the server says so.
    let (conn, mut ldap) = ldap3::LdapConnAsync::new(&slapd.url())
        .await
        .expect("connect");
    ldap3::drive!(conn);
    ldap.simple_bind(&slapd.sync_dn(), slapd.sync_password())
        .await
        .and_then(|r| r.success())
        .expect("bind");
    let unpaged = ldap
        .search(
            &format!("ou=people,{}", slapd.suffix()),
            ldap3::Scope::Subtree,
            "(objectClass=inetOrgPerson)",
            vec!["uid"],
        )
        .await
        .expect("search sent");
    assert_eq!(unpaged.1.rc, 4, "sizeLimitExceeded without paging");

    let data = source(LdapConfig {
        page_size: 3,
        ..config(&slapd)
    })
    .snapshot(&NoProgress)
    .await
    .expect("paged snapshot");
    assert_eq!(data.users.len(), 12);
    assert_eq!(data.groups.len(), 7);
}

#[tokio::test]
async fn differential_runs_return_what_changed_since_the_watermark() {
    let slapd = fixture();
    let source = source(LdapConfig {
        differential_overlap_secs: 0,
        ..config(&slapd)
    });
    let before = source.snapshot(&NoProgress).await.expect("snapshot");
    // modifyTimestamp has one-second resolution: let the load's second pass.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let watermark = source.watermark().await.expect("watermark");
    assert_eq!(watermark.0.len(), 15, "{watermark}");

    let suffix = slapd.suffix().to_owned();
    slapd.add(&format!(
        "dn: uid=bwyman,ou=london,ou=people,{suffix}\nobjectClass: inetOrgPerson\nuid: bwyman\n\
         cn: Bill Wyman\ngivenName: Bill\nsn: Wyman\n"
    ));
    slapd.modify(&format!(
        "dn: uid=cwatts,ou=london,ou=people,{suffix}\nchangetype: modify\nreplace: sn\nsn: Watts-Jr\n\n\
         dn: uid=eclapton,ou=london,ou=people,{suffix}\nchangetype: modrdn\nnewrdn: uid=eclapton\n\
         deleteoldrdn: 1\nnewsuperior: ou=liverpool,ou=people,{suffix}\n\n\
         dn: cn=stones,ou=groups,{suffix}\nchangetype: modify\nadd: member\n\
         member: uid=bwyman,ou=london,ou=people,{suffix}\n"
    ));

    let users = source
        .changed_since(&watermark, &NoProgress)
        .await
        .expect("changed users")
        .users;
    assert_eq!(
        ids(users.iter().map(|u| u.external_id.as_str())),
        ["bwyman", "cwatts", "eclapton"]
    );
    assert_eq!(user(&users, "cwatts").last_name, "Watts-Jr");
    let moved = user(&users, "eclapton");
    assert_eq!(
        moved.source_id,
        user(&before.users, "eclapton").source_id,
        "a move keeps the entryUUID"
    );
    assert_eq!(
        moved.locator.as_deref(),
        Some("uid=eclapton,ou=liverpool,ou=people,dc=example,dc=com")
    );

    let groups = source
        .changed_since(&watermark, &NoProgress)
        .await
        .expect("changed groups")
        .groups;
    assert_eq!(
        ids(groups.iter().map(|g| g.external_id.as_str())),
        ["stones"]
    );
    assert!(groups[0].members.contains(&MemberRef::Locator(
        "uid=bwyman,ou=london,ou=people,dc=example,dc=com".into()
    )));

    // The default overlap reaches back five minutes, before the fixture was loaded.
    let overlapping = self::source(config(&slapd));
    let all = overlapping
        .changed_since(&watermark, &NoProgress)
        .await
        .expect("changed users with overlap")
        .users;
    assert_eq!(all.len(), 13);
}

#[tokio::test]
async fn ldaps_and_starttls_verify_against_the_test_ca() {
    let slapd = Slapd::builder().ldif(fixtures::DIRECTORY).tls(true).start();
    let ldaps_url = slapd.ldaps_url().expect("ldaps url");
    let ldaps = LdapConfig {
        url: ldaps_url.clone(),
        ca_file: slapd.ca_file(),
        ..config(&slapd)
    };
    let data = source(ldaps.clone())
        .snapshot(&NoProgress)
        .await
        .expect("ldaps");
    assert_eq!(data.users.len(), 12);

    let starttls = LdapConfig {
        starttls: true,
        ca_file: slapd.ca_file(),
        ..config(&slapd)
    };
    let data = source(starttls.clone())
        .snapshot(&NoProgress)
        .await
        .expect("starttls");
    assert_eq!(data.users.len(), 12);

    // Without the CA the server's certificate is not trusted, with either transport.
    for untrusted in [
        LdapConfig {
            ca_file: None,
            ..ldaps.clone()
        },
        LdapConfig {
            ca_file: None,
            ..starttls
        },
    ] {
        let result = source(untrusted).snapshot(&NoProgress).await;
        assert_unavailable(
            result,
            &["failed: I/O error: invalid peer certificate: UnknownIssuer"],
        );
    }

    let insecure = LdapConfig {
        ca_file: None,
        insecure_skip_verify: true,
        ..ldaps
    };
    let data = source(insecure)
        .snapshot(&NoProgress)
        .await
        .expect("unverified ldaps");
    assert_eq!(data.users.len(), 12);
}

#[tokio::test]
async fn starttls_never_falls_back_to_clear_text() {
    let slapd = fixture();
    let result = source(LdapConfig {
        starttls: true,
        ..config(&slapd)
    })
    .snapshot(&NoProgress)
    .await;
    assert_unavailable(
        result,
        &[
            &slapd.url(),
            "connect with StartTLS failed",
            "protocol error (2)",
        ],
    );
}

#[tokio::test]
async fn a_wrong_password_is_unavailable_and_never_printed() {
    let slapd = fixture();
    let password = "not-the-sync-password-42";
    let source = source(LdapConfig {
        bind_password: Some(Secret::new(password)),
        ..config(&slapd)
    });
    let message = assert_unavailable(
        source.snapshot(&NoProgress).await,
        &[&slapd.url(), &slapd.sync_dn(), "invalid credentials (49)"],
    );
    assert!(!message.contains(password), "{message}");
    assert!(!format!("{source:?}").contains(password));
}

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        listener.local_addr().expect("port").port()
    };
    let url = format!("ldap://127.0.0.1:{port}");
    let source = source(LdapConfig {
        url: url.clone(),
        bind_dn: "cn=sync,dc=example,dc=com".into(),
        bind_password: Some(Secret::new("pw")),
        user_search_base: "ou=people,dc=example,dc=com".into(),
        group_search_base: "ou=groups,dc=example,dc=com".into(),
        ..LdapConfig::default()
    });
    assert_unavailable(
        source.snapshot(&NoProgress).await,
        &[&url, "connect failed"],
    );
    let watermark = Watermark("20240101000000Z".into());
    assert!(matches!(
        source.changed_since(&watermark, &NoProgress).await,
        Err(SourceError::Unavailable(_))
    ));
}

#[tokio::test]
async fn a_server_killed_mid_paging_fails_the_read() {
    let slapd = fixture();
    let progress = KillOnFirstEntry {
        killer: slapd.killer(),
        seen: AtomicU64::new(0),
    };
    let result = source(LdapConfig {
        page_size: 2,
        ..config(&slapd)
    })
    .snapshot(&progress)
    .await;
    match result {
        Err(SourceError::Failed(message)) => {
            assert!(message.contains("search under ou=people"), "{message}");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[tokio::test]
async fn a_failed_search_names_base_and_result_code() {
    let slapd = fixture();
    let result = source(LdapConfig {
        group_search_base: format!("ou=nowhere,{}", slapd.suffix()),
        ..config(&slapd)
    })
    .snapshot(&NoProgress)
    .await;
    match result {
        Err(SourceError::Failed(message)) => {
            for part in [&slapd.url(), "ou=nowhere", "no such object (32)"] {
                assert!(message.contains(part), "{part:?} not in {message}");
            }
        }
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[tokio::test]
async fn an_empty_result_is_an_empty_snapshot() {
    let slapd = fixture();
    let data = source(LdapConfig {
        user_filter: Some("(uid=nobody-by-this-name)".into()),
        group_filter: Some("(cn=no-such-group)".into()),
        ..config(&slapd)
    })
    .snapshot(&NoProgress)
    .await
    .expect("empty snapshot");
    assert_eq!(data, SourceData::default());
}

#[tokio::test]
async fn entries_whose_identity_the_account_cannot_read_are_reported_not_dropped() {
    // The service account may not read jlennon's entryUUID nor the beatles' cn: both entries
    // come back as unreadable, by DN, so that the engine never takes them for deleted ones.
    let jlennon = "uid=jlennon,ou=liverpool,ou=people,dc=example,dc=com";
    let beatles = "cn=beatles,ou=groups,dc=example,dc=com";
    let slapd = Slapd::builder()
        .ldif(fixtures::DIRECTORY)
        .hide("(uid=jlennon)", "entryUUID")
        .hide("(cn=beatles)", "cn")
        .start();
    let data = source(config(&slapd))
        .snapshot(&NoProgress)
        .await
        .expect("snapshot");
    assert!(data
        .users
        .iter()
        .all(|u| u.external_id.as_str() != "jlennon"));
    assert_eq!(data.users.len(), fixtures::PEOPLE.len() - 1);
    let unreadable: Vec<(bool, &str, &str)> = data
        .unreadable
        .iter()
        .map(|u| (u.group, u.locator.as_str(), u.reason.as_str()))
        .collect();
    assert_eq!(
        unreadable,
        [
            (false, jlennon, "no value for 'entryUUID'"),
            (true, beatles, "no value for 'cn'"),
        ]
    );
}
