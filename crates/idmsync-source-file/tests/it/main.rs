//! Integration tests of the file source through its public API: real files in a temporary
//! directory, read through the `IdentitySource` trait as the engine reads them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use idmsync_domain::{Departures, MemberRef, SourcePassword, Watermark};
use idmsync_ports::{IdentitySource, NoProgress, SourceError};
use idmsync_source_file::{FileSource, FileSourceConfig};
use idmsync_test_doubles::{FixedClock, ProgressRecorder};

const USERS: &str = "\
# id;firstName;lastName;email;password;lastModified
jlennon;John;Lennon;john@beatles.com;johnpassword;10/10/2015
PMcCartney;Paul;McCartney;paul@beatles.com;paulpassword;14/10/2015
rstarr;Ringo;Starr;;;15/10/2015
";

const GROUPS: &str = "\
beatles:jlennon;PMcCartney;rstarr:13/10/2015
musicians:beatles:15/10/2015
";

/// The two files in a temporary directory, and a source over them.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(users: &str, groups: &str) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::write(dir.path().join("users.txt"), users).expect("write users");
        std::fs::write(dir.path().join("groups.txt"), groups).expect("write groups");
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn source(&self, ignore_case: bool) -> FileSource {
        FileSource::new(FileSourceConfig {
            users: self.path("users.txt"),
            groups: self.path("groups.txt"),
            ignore_case,
            mapping: Default::default(),
        })
    }
}

fn ids<T>(entries: &[T], id: impl Fn(&T) -> &str) -> Vec<String> {
    entries.iter().map(|e| id(e).to_owned()).collect()
}

#[tokio::test]
async fn snapshot_reads_users_and_groups() {
    let fx = Fixture::new(USERS, GROUPS);
    let data = fx
        .source(false)
        .snapshot(&NoProgress)
        .await
        .expect("valid files");

    assert_eq!(
        ids(&data.users, |u| u.external_id.as_str()),
        ["jlennon", "PMcCartney", "rstarr"]
    );
    let john = &data.users[0];
    assert_eq!(john.source_id.as_str(), "jlennon");
    assert_eq!(
        (john.first_name.as_str(), john.last_name.as_str()),
        ("John", "Lennon")
    );
    assert_eq!(john.email.as_deref(), Some("john@beatles.com"));
    assert!(matches!(&john.password, SourcePassword::Clear(p) if p.expose() == "johnpassword"));
    assert!(john.enabled);
    assert_eq!(john.locator, None);
    let ringo = &data.users[2];
    assert_eq!(ringo.email, None);
    assert_eq!(ringo.password, SourcePassword::Absent);

    assert_eq!(
        ids(&data.groups, |g| g.external_id.as_str()),
        ["beatles", "musicians"]
    );
    assert_eq!(data.groups[0].name, "beatles");
    assert_eq!(
        data.groups[1].members,
        [MemberRef::ExternalId("beatles".into())]
    );
}

#[tokio::test]
async fn ignore_case_keys_identity_on_the_lowercased_id() {
    let fx = Fixture::new(USERS, GROUPS);
    let data = fx
        .source(true)
        .snapshot(&NoProgress)
        .await
        .expect("valid files");
    let paul = &data.users[1];
    assert_eq!(paul.source_id.as_str(), "pmccartney");
    assert_eq!(paul.external_id.as_str(), "PMcCartney");
    // Member references stay as written; the planner folds case when it resolves them.
    assert_eq!(
        data.groups[0].members[1],
        MemberRef::ExternalId("PMcCartney".into())
    );
}

#[tokio::test]
async fn progress_reports_a_stage_per_file() {
    let fx = Fixture::new(USERS, GROUPS);
    let progress = ProgressRecorder::default();
    fx.source(false)
        .snapshot(&progress)
        .await
        .expect("valid files");
    assert_eq!(
        progress.lines(),
        [
            "stage reading users Some(3)",
            "advance 3",
            "stage reading groups Some(2)",
            "advance 2"
        ]
    );
}

#[tokio::test]
async fn watermark_is_todays_utc_date() {
    let fx = Fixture::new(USERS, GROUPS);
    // 23:30 on the 14th in UTC is already the 15th in Europe: the watermark is the UTC date.
    let clock = FixedClock(
        Utc.with_ymd_and_hms(2015, 10, 14, 23, 30, 0)
            .single()
            .expect("valid instant"),
    );
    let source = fx.source(false).with_clock(Arc::new(clock));
    assert_eq!(source.watermark().await, Ok(Watermark("2015-10-14".into())));
}

#[tokio::test]
async fn differential_reads_return_entries_from_the_day_before_the_watermark() {
    let fx = Fixture::new(USERS, GROUPS);
    let source = fx.source(false);
    let users = |w: &'static str| {
        let source = source.clone();
        async move {
            let changed = source
                .changed_since(&Watermark(w.into()), &NoProgress)
                .await
                .expect("valid files")
                .users;
            ids(&changed, |u| u.external_id.as_str())
        }
    };
    // One day of slack for editors behind UTC: the 15th includes the 14th.
    assert_eq!(users("2015-10-16").await, ["rstarr"]);
    assert_eq!(users("2015-10-15").await, ["PMcCartney", "rstarr"]);
    assert_eq!(users("2015-10-12").await, ["PMcCartney", "rstarr"]);
    let everyone = ["jlennon", "PMcCartney", "rstarr"];
    assert_eq!(users("2015-10-11").await, everyone);
    assert_eq!(users("2015-01-01").await, everyone);
    assert!(users("2015-10-17").await.is_empty());

    let groups = source
        .changed_since(&Watermark("2015-10-15".into()), &NoProgress)
        .await
        .expect("valid files")
        .groups;
    assert_eq!(ids(&groups, |g| g.external_id.as_str()), ["musicians"]);
    let groups = source
        .changed_since(&Watermark("2015-10-14".into()), &NoProgress)
        .await
        .expect("valid files")
        .groups;
    assert_eq!(
        ids(&groups, |g| g.external_id.as_str()),
        ["beatles", "musicians"]
    );
}

#[tokio::test]
async fn a_differential_read_names_every_entry_still_in_the_files() {
    let fx = Fixture::new(USERS, GROUPS);
    let read = fx
        .source(false)
        .changed_since(&Watermark("2015-10-17".into()), &NoProgress)
        .await
        .expect("valid files");
    assert!(read.users.is_empty() && read.groups.is_empty());
    let named = |d: &Departures| match d {
        Departures::AllBut(sids) => sids.iter().map(|s| s.as_str().to_owned()).collect(),
        other => panic!("a file read whole names what is present, not {other:?}"),
    };
    let users: Vec<String> = named(&read.departed.users);
    assert_eq!(users, ["jlennon", "PMcCartney", "rstarr"]);
    let groups: Vec<String> = named(&read.departed.groups);
    assert_eq!(groups, ["beatles", "musicians"]);
}

#[tokio::test]
async fn the_watermark_round_trips_into_a_differential_read() {
    let fx = Fixture::new(USERS, GROUPS);
    let clock = FixedClock(
        Utc.with_ymd_and_hms(2015, 10, 15, 8, 0, 0)
            .single()
            .expect("valid instant"),
    );
    let source = fx.source(false).with_clock(Arc::new(clock));
    let w = source.watermark().await.expect("watermark");
    let changed = source
        .changed_since(&w, &NoProgress)
        .await
        .expect("valid files")
        .users;
    assert_eq!(
        ids(&changed, |u| u.external_id.as_str()),
        ["PMcCartney", "rstarr"]
    );
}

#[tokio::test]
async fn an_unparsable_watermark_is_invalid() {
    let fx = Fixture::new(USERS, GROUPS);
    for w in ["", "15/10/2015", "usn:12345", "2015-02-30"] {
        let err = fx
            .source(false)
            .changed_since(&Watermark(w.into()), &NoProgress)
            .await
            .expect_err("bad watermark");
        assert!(
            matches!(&err, SourceError::Invalid { location, .. } if location == "watermark"),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn a_malformed_line_rejects_the_file_with_path_line_and_field() {
    let users =
        format!("{USERS}jharrison;George;Harrison;george@beatles;georgepassword;25/02/2015\n");
    let fx = Fixture::new(&users, GROUPS);
    let err = fx
        .source(false)
        .snapshot(&NoProgress)
        .await
        .expect_err("bad e-mail");
    let location = format!("{}:5", fx.path("users.txt").display());
    assert_eq!(
        err,
        SourceError::Invalid {
            location,
            message: "field 'email': not an e-mail address: the domain needs dot-separated, \
                      non-empty parts"
                .into()
        }
    );
}

#[tokio::test]
async fn error_messages_never_contain_the_password() {
    for line in [
        "jlennon;John;Lennon;john@beatles.com;hunter2secret;32/10/2015",
        "jlennon;John;Lennon;john@beatles.com;hunter2secret",
        "jlennon;John;Lennon;nonsense;hunter2secret;10/10/2015",
        "jlennon;John;Lennon;john@beatles.com;hunter2;secret",
        "jlennon;John;Lennon;john@beatles.com;hunter2;secret;10/10/2015",
    ] {
        let fx = Fixture::new(line, GROUPS);
        let err = fx
            .source(false)
            .snapshot(&NoProgress)
            .await
            .expect_err("malformed line");
        let shown = format!("{err} {err:?}");
        for fragment in ["hunter2", "secret"] {
            assert!(!shown.contains(fragment), "{shown}");
        }
    }
}

#[tokio::test]
async fn a_missing_file_is_invalid_at_its_path() {
    let fx = Fixture::new(USERS, GROUPS);
    let source = FileSource::new(FileSourceConfig {
        users: fx.path("users.txt"),
        groups: fx.path("missing.txt"),
        ignore_case: false,
        mapping: Default::default(),
    });
    let err = source
        .snapshot(&NoProgress)
        .await
        .expect_err("missing file");
    match err {
        SourceError::Invalid { location, message } => {
            assert_eq!(location, fx.path("missing.txt").display().to_string());
            assert!(message.starts_with("cannot read the file: "), "{message}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn name_names_the_users_file() {
    let fx = Fixture::new(USERS, GROUPS);
    assert_eq!(
        fx.source(false).name(),
        format!("file:{}", fx.path("users.txt").display())
    );
}

/// The sample data shipped in `config/` must stay loadable: the quick start uses it.
#[tokio::test]
async fn the_sample_data_in_config_parses() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let source = FileSource::new(FileSourceConfig {
        users: config.join("users.txt"),
        groups: config.join("groups.txt"),
        ignore_case: true,
        mapping: Default::default(),
    });
    let data = source
        .snapshot(&NoProgress)
        .await
        .expect("sample data is valid");
    assert!(data.users.len() >= 15, "{} users", data.users.len());
    let john = data
        .users
        .iter()
        .find(|u| u.external_id.as_str() == "jlennon")
        .expect("the tenant admin jlennon is in the sample data");
    assert_eq!(john.email.as_deref(), Some("john@beatles.com"));
    let beatles = data
        .groups
        .iter()
        .find(|g| g.external_id.as_str() == "beatles")
        .expect("the original's example group");
    assert_eq!(
        beatles.members,
        ["jlennon", "rstarr", "gharrison", "pmccartney"].map(|m| MemberRef::ExternalId(m.into()))
    );
}
