//! Several sources of one tenant as one source: employees from Active Directory, contractors
//! from a file. Each is read whole, in the configured order of precedence, and merged
//! ([`merge`]) into the one read the engine plans, so the engine's guard, conflicts and run log
//! apply unchanged. A differential run reads every source whole too, and says which entries are
//! still there, so one that left every source is deactivated then as well; a source's own
//! differential reads are not used, because a person's fields depend on every source.

pub mod links;
pub mod merge;

use std::sync::Arc;

use async_trait::async_trait;
use idmsync_domain::plan::{Departed, Departures, SourceData};
use idmsync_domain::{Tenant, Watermark};
use idmsync_ports::{DynProgress, IdentitySource, SourceCheck, SourceError, SyncStore};

pub use links::Links;
pub use merge::{MatchBy, MergeOptions, Read};

/// Several sources, highest precedence first, read as one.
pub struct MergedSource {
    sources: Vec<(String, Arc<dyn IdentitySource>)>,
    options: MergeOptions,
    links: Option<(Arc<dyn SyncStore>, Tenant)>,
}

impl MergedSource {
    /// `sources` by name, highest precedence first. Without [`MergedSource::with_links`] every
    /// read is merged as if it were the first (enough for `config check`).
    #[must_use]
    pub fn new(sources: Vec<(String, Arc<dyn IdentitySource>)>, options: MergeOptions) -> Self {
        Self {
            sources,
            options,
            links: None,
        }
    }

    /// Reads the links of earlier runs from `tenant`'s documents in `store` before each merge.
    #[must_use]
    pub fn with_links(mut self, store: Arc<dyn SyncStore>, tenant: Tenant) -> Self {
        self.links = Some((store, tenant));
        self
    }

    async fn read(&self, progress: &DynProgress) -> Result<SourceData, SourceError> {
        let mut reads = Vec::with_capacity(self.sources.len());
        for (name, source) in &self.sources {
            let data = source
                .snapshot(progress)
                .await
                .map_err(|e| within(name, e))?;
            reads.push(Read {
                source: name.clone(),
                data,
            });
        }
        let links = match &self.links {
            Some((store, tenant)) => {
                Links::from_documents(store.documents(tenant).await.map_err(|e| {
                    SourceError::Unavailable(format!(
                        "reading which entries the sources made before: {e}"
                    ))
                })?)
            }
            None => Links::default(),
        };
        Ok(merge::merge(reads, &links, self.options))
    }
}

/// A source's error, naming the source.
fn within(name: &str, error: SourceError) -> SourceError {
    match error {
        SourceError::Invalid { location, message } => SourceError::Invalid {
            location: format!("source {name}: {location}"),
            message,
        },
        SourceError::Unavailable(m) => SourceError::Unavailable(format!("source {name}: {m}")),
        SourceError::Failed(m) => SourceError::Failed(format!("source {name}: {m}")),
    }
}

#[async_trait]
impl IdentitySource for MergedSource {
    fn name(&self) -> String {
        self.sources
            .iter()
            .map(|(name, source)| format!("{name}={}", source.name()))
            .collect::<Vec<_>>()
            .join(" + ")
    }

    fn admins(&self) -> Vec<String> {
        self.sources.iter().flat_map(|(_, s)| s.admins()).collect()
    }

    fn canonical_name(&self, name: &str) -> String {
        self.sources
            .iter()
            .map(|(_, s)| s.canonical_name(name))
            .find(|c| c != name)
            .unwrap_or_else(|| name.to_string())
    }

    async fn check(&self) -> Result<SourceCheck, SourceError> {
        let mut total = SourceCheck {
            differential: Some(
                "every source read whole, since a person's fields depend on them all".into(),
            ),
            ..SourceCheck::default()
        };
        let mut servers = Vec::new();
        for (name, source) in &self.sources {
            let check = source.check().await.map_err(|e| within(name, e))?;
            let server = check.server.unwrap_or_else(|| source.name());
            servers.push(format!("{name}: {server}"));
            total
                .features
                .extend(check.features.iter().map(|f| format!("{name}: {f}")));
            total.users += check.users;
            total.groups += check.groups;
            total.unreadable += check.unreadable;
        }
        total.server = Some(servers.join("; "));
        Ok(total)
    }

    async fn watermark(&self) -> Result<Watermark, SourceError> {
        let mut marks = Vec::with_capacity(self.sources.len());
        for (name, source) in &self.sources {
            let mark = source.watermark().await.map_err(|e| within(name, e))?;
            marks.push(format!("{name}={mark}"));
        }
        Ok(Watermark(marks.join("; ")))
    }

    async fn snapshot(&self, progress: &DynProgress) -> Result<SourceData, SourceError> {
        self.read(progress).await
    }

    /// Every source read whole, and what is still there named, so that an entry gone from
    /// every source leaves.
    async fn changed_since(
        &self,
        _since: &Watermark,
        progress: &DynProgress,
    ) -> Result<SourceData, SourceError> {
        let mut data = self.read(progress).await?;
        let present = |group: bool| {
            data.unreadable
                .iter()
                .filter(|u| u.group == group)
                .filter_map(|u| u.source_id.clone())
                .collect::<Vec<_>>()
        };
        let (mut users, mut groups) = (present(false), present(true));
        users.extend(data.users.iter().map(|u| u.source_id.clone()));
        groups.extend(data.groups.iter().map(|g| g.source_id.clone()));
        data.departed = Departed {
            users: Departures::AllBut(users),
            groups: Departures::AllBut(groups),
        };
        Ok(data)
    }
}
