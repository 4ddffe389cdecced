//! Live sync against slapd with the syncprov overlay: the refreshAndPersist searches send each
//! change as it happens with the position after it, and a stream that broke off resumes from
//! the last position it sent.

use std::sync::Arc;
use std::time::Duration;

use idmsync_domain::plan::{Departures, SourceData};
use idmsync_domain::{SourceId, Watermark};
use idmsync_ldap::LdapSource;
use idmsync_ports::{ChangeFeed, FeedEvent, IdentitySource, NoProgress, SourceError};
use idmsync_test_ldap::{fixtures, SessionLog, Slapd, TestDirectory};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{config, source};

/// How long a change may take to arrive before a test fails.
const DEADLINE: Duration = Duration::from_secs(20);

/// A feed following on a task of its own, its events in a channel.
pub(crate) struct Following {
    events: mpsc::UnboundedReceiver<FeedEvent>,
    pub(crate) task: JoinHandle<Result<(), SourceError>>,
    /// The position of the last change received.
    pub(crate) position: Option<Watermark>,
    /// What every position starts with: the watermark form of the feed's method.
    form: &'static str,
}

impl Following {
    /// A feed by RFC 4533, whose positions are `rfc4533;…`.
    fn start(source: &Arc<LdapSource>, since: Option<Watermark>) -> Self {
        Self::of(source, since, "rfc4533;")
    }

    /// A feed of `source` from `since`, whose positions start with `form`.
    pub(crate) fn of(
        source: &Arc<LdapSource>,
        since: Option<Watermark>,
        form: &'static str,
    ) -> Self {
        let (tx, events) = mpsc::unbounded_channel();
        let source = Arc::clone(source);
        let task = tokio::spawn(async move {
            let sink = move |event| {
                let _ = tx.send(event);
            };
            source.follow(since, &sink).await
        });
        Self {
            events,
            task,
            position: None,
            form,
        }
    }

    /// The next event, within the deadline.
    pub(crate) async fn next(&mut self) -> FeedEvent {
        let event = tokio::time::timeout(DEADLINE, self.events.recv())
            .await
            .expect("an event within the deadline")
            .expect("the feed is following");
        if let FeedEvent::Changes { position, .. } = &event {
            assert!(position.0.starts_with(self.form), "{position}");
            self.position = Some(position.clone());
        }
        event
    }

    /// The changes sent until the feed says it follows.
    pub(crate) async fn refreshed(&mut self) -> SourceData {
        let mut data = SourceData::default();
        loop {
            match self.next().await {
                FeedEvent::Following => return data,
                FeedEvent::Changes { data: more, .. } => data.absorb(more),
            }
        }
    }

    /// The next changes that satisfy `wanted`.
    pub(crate) async fn changes(&mut self, wanted: impl Fn(&SourceData) -> bool) -> SourceData {
        loop {
            if let FeedEvent::Changes { data, .. } = self.next().await {
                if wanted(&data) {
                    return data;
                }
            }
        }
    }
}

fn syncprov() -> Slapd {
    Slapd::builder()
        .ldif(fixtures::DIRECTORY)
        .syncprov(SessionLog::Operations(100))
        .start()
}

async fn sid_of(source: &LdapSource, login: &str) -> SourceId {
    let snapshot = source.snapshot(&NoProgress).await.expect("snapshot");
    super::user(&snapshot.users, login).source_id.clone()
}

pub(crate) fn left(departures: &Departures, sid: &SourceId) -> bool {
    matches!(departures, Departures::Listed(sids) if sids.contains(sid))
}

#[tokio::test]
async fn deletions_and_member_changes_arrive_as_they_happen() {
    let slapd = syncprov();
    let source = Arc::new(source(config(&slapd)));
    let dbowie = sid_of(&source, "dbowie").await;
    let since = source.watermark().await.expect("watermark");
    let mut feed = Following::start(&source, Some(since.clone()));
    let refreshed = feed.refreshed().await;
    assert!(refreshed.users.is_empty(), "{refreshed:?}");
    assert_eq!(refreshed.departed.users, Departures::Listed(vec![]));

    let suffix = slapd.suffix().to_owned();
    slapd.delete(&format!("uid=dbowie,ou=people,{suffix}"));
    let deleted = feed.changes(|d| left(&d.departed.users, &dbowie)).await;
    assert!(
        deleted.users.is_empty() && deleted.groups.is_empty(),
        "{deleted:?}"
    );
    let after_delete = feed.position.clone().expect("a position");
    assert_ne!(after_delete, since);

    slapd.modify(&format!(
        "dn: cn=stones,ou=groups,{suffix}\nchangetype: modify\ndelete: member\n\
         member: uid=cwatts,ou=london,ou=people,{suffix}\n"
    ));
    let changed = feed.changes(|d| !d.groups.is_empty()).await;
    let stones = &changed.groups[0];
    assert_eq!(stones.external_id.as_str(), "stones");
    assert_eq!(stones.members.len(), 3, "cwatts is out: {stones:?}");
    assert_ne!(feed.position, Some(after_delete));
    feed.task.abort();
}

#[tokio::test]
async fn a_stream_cut_by_a_restart_ends_and_resumes_from_its_last_position() {
    let mut slapd = syncprov();
    let source = Arc::new(source(config(&slapd)));
    let dbowie = sid_of(&source, "dbowie").await;
    let since = source.watermark().await.expect("watermark");
    let mut feed = Following::start(&source, Some(since));
    feed.refreshed().await;
    slapd.modify(&format!(
        "dn: uid=mjagger,ou=london,ou=people,{}\nchangetype: modify\nreplace: sn\nsn: Jagger-Sir\n",
        slapd.suffix()
    ));
    feed.changes(|d| !d.users.is_empty()).await;

    slapd.start_again();
    let ended = tokio::time::timeout(DEADLINE, &mut feed.task)
        .await
        .expect("the feed ends when the server goes away")
        .expect("the feed's task");
    assert!(matches!(ended, Err(SourceError::Failed(_))), "{ended:?}");

    slapd.delete(&format!("uid=dbowie,ou=people,{}", slapd.suffix()));
    let mut again = Following::start(&source, feed.position.clone());
    let refreshed = again.refreshed().await;
    assert!(
        left(&refreshed.departed.users, &dbowie),
        "{:?}",
        refreshed.departed
    );
    assert!(
        refreshed
            .users
            .iter()
            .all(|u| u.external_id.as_str() != "mjagger"),
        "applied before the restart: {refreshed:?}"
    );
    again.task.abort();
}

#[tokio::test]
async fn without_a_position_the_refresh_is_the_whole_content() {
    let slapd = syncprov();
    let source = Arc::new(source(config(&slapd)));
    let everyone = source.snapshot(&NoProgress).await.expect("snapshot");
    let mut feed = Following::start(&source, None);
    let refreshed = feed.refreshed().await;
    assert_eq!(refreshed.users.len(), everyone.users.len());
    assert_eq!(refreshed.groups.len(), everyone.groups.len());
    assert!(matches!(refreshed.departed.users, Departures::AllBut(_)));
    feed.task.abort();
}
