//! Live sync by RFC 4533 refreshAndPersist: one search per subtree (users, groups), each on a
//! connection of its own, that first refreshes from the stored cookie as a differential run does
//! (from no cookie when the server no longer knows it: the whole content, whatever it does not
//! send left), then stays open and sends each change as it happens. Every change goes to the
//! sink with the position after it, in the watermark form of [`syncrepl`]'s differential runs,
//! so that those continue from where the stream stopped and the stream from where they did.

use std::sync::{Mutex, PoisonError};

use idmsync_domain::plan::{Departed, Departures, SourceData, Unreadable};
use idmsync_domain::{MemberNames, SourceGroup, SourceId, SourceUser, Watermark};
use idmsync_ports::{FeedEvent, SourceError};
use tokio::sync::mpsc;

use crate::client::{Endpoint, SyncEnd, SyncMessage};
use crate::content_sync::{Left, Mode, Refresh, State, SyncDone, SyncInfo};
use crate::entry::{self, Skip};
use crate::raw::RawEntry;
use crate::read::{Reader, Subtree};
use crate::syncrepl::{self, Cookies, Form};

/// Where both searches stand: their cookies, and how many are still in their refresh stage.
struct Stream<'s> {
    cookies: Cookies,
    refreshing: usize,
    sink: &'s (dyn Fn(FeedEvent) + Send + Sync),
}

impl Stream<'_> {
    /// Moves the search of `group`s to `cookie` and sends `data` (if it says anything) with the
    /// position both searches reached.
    fn send(&mut self, group: bool, cookie: Option<Vec<u8>>, data: Option<SourceData>) {
        if cookie.is_some() {
            *self.cookies.of(group) = cookie;
        }
        if let Some(data) = data {
            (self.sink)(FeedEvent::Changes {
                data,
                position: self.cookies.watermark(),
            });
        }
    }
}

/// Follows the users and the groups of `reader` from `since` until a connection ends.
///
/// # Errors
/// As [`crate::client::Connection::sync_search`]; `Failed` when a connection drops or the
/// server ends a search; `Invalid` when the server offers no content synchronisation under a
/// base, or an entry's UUID is not its unique id.
pub(crate) async fn follow(
    endpoint: &Endpoint,
    reader: &Reader,
    since: Option<&Watermark>,
    sink: &(dyn Fn(FeedEvent) + Send + Sync),
) -> Result<(), SourceError> {
    let cookies = Cookies::resume(reader, since);
    let (users_cookie, groups_cookie) = (cookies.users.clone(), cookies.groups.clone());
    let stream = Mutex::new(Stream {
        cookies,
        refreshing: 2,
        sink,
    });
    let map = &reader.attributes;
    let form = Form::of(reader);
    let (user_attributes, group_attributes) = (map.user_attributes(), map.group_attributes());
    let users = search(
        endpoint,
        (&reader.users, form),
        &user_attributes,
        users_cookie,
        &stream,
        |e| entry::user(e, map),
        |u: &SourceUser| &u.source_id,
        |users: Vec<SourceUser>, left, unreadable| SourceData {
            users,
            groups: Vec::new(),
            unreadable,
            departed: Departed {
                users: left,
                groups: Departures::Listed(Vec::new()),
            },
            documents: Vec::new(),
        },
    );
    let groups = search(
        endpoint,
        (&reader.groups, form),
        &group_attributes,
        groups_cookie,
        &stream,
        // A stream lives for days: names are shared within an entry only, never kept.
        |e| syncrepl::group(e, map, &mut MemberNames::default()),
        |g: &SourceGroup| &g.source_id,
        |groups: Vec<SourceGroup>, left, unreadable| SourceData {
            users: Vec::new(),
            groups,
            unreadable,
            departed: Departed {
                users: Departures::Listed(Vec::new()),
                groups: left,
            },
            documents: Vec::new(),
        },
    );
    tokio::try_join!(users, groups).map(drop)
}

/// One search of the stream: refresh, then persist, sending what it learns to `stream`.
#[allow(clippy::too_many_arguments)]
async fn search<T: Send>(
    endpoint: &Endpoint,
    (subtree, form): (&Subtree, Form<'_>),
    attributes: &[String],
    mut cookie: Option<Vec<u8>>,
    stream: &Mutex<Stream<'_>>,
    mut map: impl FnMut(&mut RawEntry) -> Result<T, Skip> + Send,
    sid: impl Fn(&T) -> &SourceId + Send + Sync,
    data: impl Fn(Vec<T>, Departures, Vec<Unreadable>) -> SourceData + Send + Sync,
) -> Result<(), SourceError> {
    let mut conn = endpoint.connect().await?;
    loop {
        let mut refresh = Some(Refresh::from(cookie.clone()));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut on = |message| -> Result<(), SourceError> {
            let mut stream = stream.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(stage) = refresh.as_mut() else {
                let (cookie, changed) = persisted(message, (subtree, form), &mut map, &sid, &data)?;
                stream.send(subtree.group, cookie, changed);
                return Ok(());
            };
            let done = match message {
                SyncMessage::Info(SyncInfo::Phase {
                    present,
                    cookie,
                    done: true,
                }) => SyncDone {
                    cookie,
                    refresh_deletes: !present,
                },
                SyncMessage::Entry(state, entry) => {
                    stage.entry(state, entry);
                    return Ok(());
                }
                SyncMessage::Info(info) => {
                    stage.info(info);
                    return Ok(());
                }
            };
            let mut unreadable = Vec::new();
            let (changed, left) = syncrepl::settle(
                stage,
                &done,
                (subtree, form),
                &mut unreadable,
                &mut map,
                &sid,
            )?;
            let departures = syncrepl::departures(left, form)?;
            let cookie = stage.cookie.take();
            refresh = None;
            tracing::info!(
                base = %subtree.base,
                changed = changed.len(),
                "live sync: the {} are refreshed; following their changes",
                subtree.what
            );
            stream.send(
                subtree.group,
                cookie,
                Some(data(changed, departures, unreadable)),
            );
            stream.refreshing -= 1;
            if stream.refreshing == 0 {
                (stream.sink)(FeedEvent::Following);
            }
            Ok(())
        };
        let end = {
            let search = conn.sync_search(
                (&subtree.base, false, &subtree.filter),
                attributes,
                (Mode::RefreshAndPersist, cookie.as_deref()),
                move |message| {
                    // The receiver outlives the search.
                    let _ = tx.send(message);
                },
            );
            tokio::pin!(search);
            loop {
                tokio::select! {
                    Some(message) = rx.recv() => on(message)?,
                    end = &mut search => break end?,
                }
            }
        };
        while let Ok(message) = rx.try_recv() {
            on(message)?;
        }
        match end {
            SyncEnd::RefreshRequired | SyncEnd::Unsupported => {
                syncrepl::start_again(&end, &mut cookie, &conn, subtree)?;
            }
            SyncEnd::Done(_) => {
                return Err(SourceError::Failed(format!(
                    "{}: the server ended the live search under {}",
                    conn.url(),
                    subtree.base
                )))
            }
        }
    }
}

/// One message of the persist stage: the cookie it carries, and the change it sends, if any
/// (an entry added, changed or gone; `present` entries and sets, which belong to refreshes,
/// say nothing here).
fn persisted<T>(
    message: SyncMessage,
    (subtree, form): (&Subtree, Form<'_>),
    map: impl FnMut(&mut RawEntry) -> Result<T, Skip>,
    sid: impl Fn(&T) -> &SourceId,
    data: impl Fn(Vec<T>, Departures, Vec<Unreadable>) -> SourceData,
) -> Result<(Option<Vec<u8>>, Option<SourceData>), SourceError> {
    let mut change = Refresh::persisting();
    match message {
        SyncMessage::Entry(state, _) if state.state == State::Present => {
            return Ok((state.cookie, None))
        }
        SyncMessage::Entry(state, entry) => change.entry(state, entry),
        SyncMessage::Info(SyncInfo::NewCookie(cookie)) => return Ok((Some(cookie), None)),
        SyncMessage::Info(SyncInfo::IdSet {
            cookie,
            deletes: false,
            ..
        }) => return Ok((cookie, None)),
        SyncMessage::Info(info) => change.info(info),
    }
    let mut unreadable = Vec::new();
    let done = SyncDone {
        cookie: None,
        refresh_deletes: true,
    };
    let (changed, left) = syncrepl::settle(
        &mut change,
        &done,
        (subtree, form),
        &mut unreadable,
        map,
        sid,
    )?;
    let departures = match left {
        Left::Listed(_) => syncrepl::departures(left, form)?,
        Left::AllBut(_) => Departures::Listed(Vec::new()),
    };
    Ok((change.cookie, Some(data(changed, departures, unreadable))))
}
