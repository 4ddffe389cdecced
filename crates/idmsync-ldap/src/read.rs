//! Reading users and groups over one bound connection: the two subtrees and their filters, the
//! attribute mapping, groups completed by ranged reads and by their transitive users, and the
//! entries that cannot be identified. Which filter a run searches with (full, differential,
//! one login) is its caller's choice.

use std::collections::HashSet;

use idmsync_domain::plan::{Departed, SourceData, Unreadable};
use idmsync_domain::{MemberNames, MemberRef, SourceGroup, SourceUser};
use idmsync_ports::{DynProgress, NoProgress, SourceError};

use crate::attributes::{AttributeMap, MemberKind};
use crate::client::Connection;
use crate::config::LdapConfig;
use crate::entry::{self, Skip};
use crate::filter::{self, DifferentialFilter};
use crate::range::{self, Slice};
use crate::raw::RawEntry;
use crate::{dn, escape};

/// What the source reads and how it maps it, derived once from the configuration so that a
/// run only chooses its filter.
pub(crate) struct Reader {
    /// Where users live; its filters are also the watermark's to choose from.
    pub(crate) users: Subtree,
    /// Where groups live.
    pub(crate) groups: Subtree,
    pub(crate) attributes: AttributeMap,
    /// Whether groups list the users of their nested groups too (`transitive_members`).
    transitive_members: bool,
}

/// One kind of entry: where it lives and how it is selected.
pub(crate) struct Subtree {
    /// `users` or `groups`, for progress stages and log lines.
    pub(crate) what: &'static str,
    /// Whether its entries are groups.
    pub(crate) group: bool,
    /// The subtree searched.
    pub(crate) base: String,
    /// The filter of full runs.
    pub(crate) filter: String,
    /// The filter of differential runs, once a watermark names the time or USN.
    pub(crate) differential: DifferentialFilter,
}

/// A group whose member attribute came back in ranges and is not complete yet.
struct Partial {
    entry: RawEntry,
    values: Vec<Vec<u8>>,
    next: u32,
}

/// The entries `config check` counts, so an operator sees what a run would read before one
/// runs.
pub(crate) struct Counts {
    pub(crate) users: usize,
    pub(crate) groups: usize,
    pub(crate) unreadable: usize,
}

impl Reader {
    /// The subtrees and mapping of a configuration the endpoint has already checked.
    pub(crate) fn new(config: &LdapConfig) -> Self {
        Self {
            users: Subtree {
                what: "users",
                group: false,
                base: config.user_search_base.clone(),
                filter: config.user_filter().to_owned(),
                differential: config.user_differential(),
            },
            groups: Subtree {
                what: "groups",
                group: true,
                base: config.group_search_base.clone(),
                filter: config.group_filter().to_owned(),
                differential: config.group_differential(),
            },
            attributes: config.attribute_map(),
            transitive_members: config.transitive_members,
        }
    }

    /// Reads every user matching `filter`, mapping each entry as it arrives.
    pub(crate) async fn users(
        &self,
        conn: &mut Connection<'_>,
        filter: &str,
        progress: &DynProgress,
        unreadable: &mut Vec<Unreadable>,
    ) -> Result<Vec<SourceUser>, SourceError> {
        let attributes = self.attributes.user_attributes();
        let map = |e: &mut RawEntry| entry::user(e, &self.attributes).map(Some);
        let subtree = &self.users;
        read(
            conn,
            subtree,
            filter,
            &attributes,
            map,
            progress,
            unreadable,
        )
        .await
    }

    /// Reads every group matching `filter`, mapping each entry as it arrives, except groups
    /// whose members came back in ranges: those are completed with further reads once the
    /// search is over, then mapped. With `transitive_members`, the users of nested groups are
    /// added last, by the group's DN as the server wrote it.
    pub(crate) async fn groups(
        &self,
        conn: &mut Connection<'_>,
        filter: &str,
        progress: &DynProgress,
        unreadable: &mut Vec<Unreadable>,
    ) -> Result<Vec<SourceGroup>, SourceError> {
        let attributes = self.attributes.group_attributes();
        let member = &self.attributes.group_member;
        let mut partial = Vec::new();
        let mut broken = None;
        let mut names = MemberNames::default();
        let map = |e: &mut RawEntry| match range::take(e, member, 0) {
            Ok(Slice { values, next: None }) => {
                range::put(e, member, values);
                entry::group(e, &self.attributes, &mut names).map(|g| Some((e.dn.clone(), g)))
            }
            Ok(Slice {
                values,
                next: Some(next),
            }) => {
                let entry = std::mem::take(e);
                partial.push(Partial {
                    entry,
                    values,
                    next,
                });
                Ok(None)
            }
            Err(error) => {
                broken.get_or_insert_with(|| (e.dn.clone(), error));
                Ok(None)
            }
        };
        let subtree = &self.groups;
        let mut groups = read(
            conn,
            subtree,
            filter,
            &attributes,
            map,
            progress,
            unreadable,
        )
        .await?;
        if let Some((dn, error)) = broken {
            return Err(range_failure(conn.url(), &dn, &error));
        }
        for group in partial {
            let mut entry = self.complete(conn, group).await?;
            match entry::group(&mut entry, &self.attributes, &mut names) {
                Ok(group) => groups.push((entry.dn, group)),
                Err(skip) => unreadable.push(self.groups.unreadable(&entry.dn, &skip)),
            }
        }
        if self.transitive_members {
            self.add_transitive_users(conn, &mut groups, progress)
                .await?;
        }
        Ok(groups.into_iter().map(|(_, group)| group).collect())
    }

    /// Adds to each group (with its DN) the users that are members through nested groups, with
    /// one search per group for the users whose `memberOf` reaches it through any chain. The
    /// direct members stay: a direct user is found again and kept once, a child group stays an
    /// edge, and a member the user filter leaves out stays a reference the planner reports.
    ///
    /// # Errors
    /// `Failed` when a search fails: the group's member list would be partial.
    async fn add_transitive_users(
        &self,
        conn: &mut Connection<'_>,
        groups: &mut [(String, SourceGroup)],
        progress: &DynProgress,
    ) -> Result<(), SourceError> {
        progress.stage(
            "reading transitive group members",
            u64::try_from(groups.len()).ok(),
        );
        // RFC 4511's "no attributes": the DN is all a member reference needs.
        let no_attributes = ["1.1".to_owned()];
        for (dn, group) in groups.iter_mut() {
            let filter = filter::in_chain(&self.users.filter, dn);
            let mut known: HashSet<MemberRef> = group.members.iter().cloned().collect();
            let mut found = 0_usize;
            conn.search(&self.users.base, &filter, &no_attributes, |user| {
                found += 1;
                let member = MemberRef::Locator(dn::normalize_or_keep(&user.dn).into());
                if known.insert(member.clone()) {
                    group.members.push(member);
                }
            })
            .await?;
            tracing::debug!(dn = %dn, found, "read transitive user members");
            progress.advance(1);
        }
        Ok(())
    }

    /// Reads the further ranges of a group's members until the server says `*`.
    ///
    /// # Errors
    /// `Failed` when a read fails, the group is gone, or an answer does not continue the
    /// range: the group's member list would be partial.
    async fn complete(
        &self,
        conn: &mut Connection<'_>,
        partial: Partial,
    ) -> Result<RawEntry, SourceError> {
        let Partial {
            mut entry,
            mut values,
            mut next,
        } = partial;
        let member = &self.attributes.group_member;
        let mut reads = 1;
        loop {
            let wanted = [range::request(member, next, self.attributes.range_size)];
            let mut answer = conn.read(&entry.dn, &wanted).await?.unwrap_or_default();
            let slice = range::take(&mut answer, member, next)
                .map_err(|e| range_failure(conn.url(), &entry.dn, &e))?;
            values.extend(slice.values);
            reads += 1;
            match slice.next {
                Some(after) => next = after,
                None => break,
            }
        }
        tracing::debug!(dn = %entry.dn, reads, count = values.len(), "read members in ranges");
        range::put(&mut entry, member, values);
        Ok(entry)
    }

    /// Reads the two search bases and counts the entries the filters select (and those that
    /// could not be read) without fetching members or keeping any entry.
    ///
    /// # Errors
    /// `Invalid` naming the key of a search base that cannot be read; `Failed` when a search
    /// fails.
    pub(crate) async fn count(&self, conn: &mut Connection<'_>) -> Result<Counts, SourceError> {
        for (key, subtree) in [
            ("user_search_base", &self.users),
            ("group_search_base", &self.groups),
        ] {
            if let Err(error) = conn.read(&subtree.base, &["1.1".to_owned()]).await {
                return Err(SourceError::Invalid {
                    location: format!("source.ldap.{key} '{}'", subtree.base),
                    message: format!("cannot be read: {error}"),
                });
            }
        }
        let mut unreadable = Vec::new();
        let map = &self.attributes;
        // A `Vec<()>` holds its count and nothing else: no entry is kept.
        let mut counts = Vec::with_capacity(2);
        for (subtree, attributes) in [
            (&self.users, map.user_attributes()),
            (&self.groups, map.group_identity_attributes()),
        ] {
            let identify = |e: &mut RawEntry| {
                if subtree.group {
                    entry::group(e, map, &mut MemberNames::default()).map(|_| Some(()))
                } else {
                    entry::user(e, map).map(|_| Some(()))
                }
            };
            let read = read(
                conn,
                subtree,
                &subtree.filter,
                &attributes,
                identify,
                &NoProgress,
                &mut unreadable,
            );
            counts.push(read.await?.len());
        }
        Ok(Counts {
            users: counts[0],
            groups: counts[1],
            unreadable: unreadable.len(),
        })
    }

    /// Two searches: the user by login under the user filter, then the groups under the group
    /// filter that have the user as a member (by the DN the server returned, or the login for
    /// `memberUid`) or are named in `groups`.
    pub(crate) async fn login(
        &self,
        conn: &mut Connection<'_>,
        login: &str,
        groups: &[String],
    ) -> Result<SourceData, SourceError> {
        let map = &self.attributes;
        let mut unreadable = Vec::new();
        let by_login = format!(
            "(&{}({}={}))",
            self.users.filter,
            map.user_id,
            escape::filter_value(login)
        );
        let users = self
            .users(conn, &by_login, &NoProgress, &mut unreadable)
            .await?;
        let assertion =
            |attribute: &str, value: &str| format!("({attribute}={})", escape::filter_value(value));
        let mut wanted: Vec<String> = groups
            .iter()
            .map(|id| assertion(&map.group_id, id))
            .collect();
        match map.member_kind() {
            MemberKind::Dn => wanted.extend(
                users
                    .iter()
                    .filter_map(|u| u.locator.as_deref())
                    .map(|dn| assertion(&map.group_member, dn)),
            ),
            MemberKind::UserId if !users.is_empty() => {
                wanted.push(assertion(&map.group_member, login));
            }
            MemberKind::UserId => {}
        }
        let groups = if wanted.is_empty() {
            Vec::new()
        } else {
            let filter = format!("(&{}(|{}))", self.groups.filter, wanted.concat());
            self.groups(conn, &filter, &NoProgress, &mut unreadable)
                .await?
        };
        Ok(SourceData {
            users,
            groups,
            unreadable,
            departed: Departed::default(),
            documents: Vec::new(),
        })
    }
}

/// A member range that cannot be completed, as the run's error.
fn range_failure(url: &str, dn: &str, error: &range::RangeError) -> SourceError {
    SourceError::Failed(format!(
        "{url}: reading the members of {dn} in ranges: {error}"
    ))
}

impl Subtree {
    /// An entry of this subtree that cannot be identified, for the engine to decide about.
    fn unreadable(&self, dn: &str, skip: &Skip) -> Unreadable {
        Unreadable {
            group: self.group,
            locator: dn::normalize_or_keep(dn),
            source_id: None,
            reason: skip.to_string(),
            conflict: false,
        }
    }
}

/// Searches one subtree and maps its entries one by one, so the raw result set is never held
/// beside the mapped one. Entries that cannot be identified go to `unreadable`; `map` may also
/// keep an entry for later (`Ok(None)`).
async fn read<T>(
    conn: &mut Connection<'_>,
    subtree: &Subtree,
    filter: &str,
    attributes: &[String],
    mut map: impl FnMut(&mut RawEntry) -> Result<Option<T>, Skip> + Send,
    progress: &DynProgress,
    unreadable: &mut Vec<Unreadable>,
) -> Result<Vec<T>, SourceError>
where
    T: Send,
{
    progress.stage(&format!("reading {}", subtree.what), None);
    let mut out = Vec::new();
    conn.search(&subtree.base, filter, attributes, |mut entry| {
        progress.advance(1);
        match map(&mut entry) {
            Ok(value) => out.extend(value),
            Err(skip) => unreadable.push(subtree.unreadable(&entry.dn, &skip)),
        }
    })
    .await?;
    tracing::debug!(base = %subtree.base, filter, count = out.len(), "read {}", subtree.what);
    Ok(out)
}
