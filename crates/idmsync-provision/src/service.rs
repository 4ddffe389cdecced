//! [`ProvisioningService`]: SCIM writes queued, applied in order to a draft of the tenant,
//! committed a batch at a time through the sync engine (one run of mode `scim` per batch), and
//! answered once their batch is committed.
//!
//! Why batches: every run is a transaction with its run record and log lines; providers send
//! hundreds of requests a second during an initial push. Requests that arrive within
//! `source.scim.batch_ms` of the first share one run (group commit), so a busy provider costs a
//! transaction per batch instead of per request, and a quiet one waits at most that long.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use idmsync_domain::{
    Departed, Departures, Document, MaxDeactivations, Outcome, Password, Reactivate, SourceData,
    SourceId, SyncMode, Tenant, Trigger,
};
use idmsync_ports::{
    Clock, GuardRelease, Page, Provisioning, RunLogReader, ScimQuery, ScimWrite, StoreError,
    SyncStore,
};
use idmsync_scim::{list, Filter, ResourceType, ScimError};
use idmsync_sync::{LiveReport, Push, RunReport, SyncError, SyncService};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, RwLock};
use tracing::{info, warn};

use crate::guard::WindowGuard;
use crate::resource;
use crate::view::{Draft, View};
use crate::writes::{Collected, Writer, Written};

/// Requests a batch takes at most, so that one batch's transaction stays short.
const MAX_BATCH: usize = 500;

/// How long a batch waits for another run of the tenant (a manual sync) to let go of the lock
/// before its requests are answered 503.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// The `[source.scim]` settings the service needs, and where it is served.
#[derive(Debug, Clone)]
pub struct ProvisioningSettings {
    /// The pushed tenant.
    pub tenant: Tenant,
    /// The endpoints' absolute base (`https://idm.example.com/scim/v2`), for `meta.location`.
    pub base_url: String,
    /// How long a batch collects requests after its first (`source.scim.batch_ms`).
    pub batch: Duration,
    /// Whether a deleted user's `userName` created again brings that user back
    /// (`sync.reactivate`).
    pub reactivate: Reactivate,
    /// The most resources a list answers at once (`filter.maxResults`).
    pub max_results: usize,
    /// The deactivations the guard lets through per window (`sync.max_deactivations`).
    pub max_deactivations: MaxDeactivations,
    /// The guard's window (`source.scim.guard_window_secs`).
    pub guard_window: Duration,
}

struct Job {
    write: ScimWrite,
    reply: oneshot::Sender<Result<Option<Value>, ScimError>>,
}

/// The SCIM side of a pushed tenant. Cheap to share: clones of the handle feed one batcher.
pub struct ProvisioningService {
    jobs: mpsc::Sender<Job>,
    view: Arc<RwLock<View>>,
    settings: Arc<ProvisioningSettings>,
    guard: Arc<Mutex<WindowGuard>>,
    clock: Arc<dyn Clock>,
    sync: Arc<SyncService>,
}

impl ProvisioningService {
    /// Loads the tenant's users and groups and starts the batcher on the current runtime.
    ///
    /// # Errors
    /// The store's, when the state cannot be loaded.
    pub async fn start(
        sync: Arc<SyncService>,
        store: Arc<dyn SyncStore>,
        runs: Arc<dyn RunLogReader>,
        clock: Arc<dyn Clock>,
        settings: ProvisioningSettings,
    ) -> Result<Self, StoreError> {
        let state = store.load_state(&settings.tenant).await?;
        let documents = store.documents(&settings.tenant).await?;
        let view = Arc::new(RwLock::new(View::from_state(&state, &documents)));
        let mut guard = WindowGuard::new(settings.guard_window, settings.max_deactivations);
        // The window goes on across restarts: what the run log says of it.
        let recent = recent_runs(runs.as_ref(), &settings.tenant, clock.now(), &settings).await?;
        let now = tokio::time::Instant::now();
        for (age, deactivated) in recent.deactivations.iter().rev() {
            guard.record(now.checked_sub(*age).unwrap_or(now), *deactivated);
        }
        if let Some(age) = recent.release {
            guard.release(now.checked_sub(age).unwrap_or(now));
        }
        let guard = Arc::new(Mutex::new(guard));
        let settings = Arc::new(settings);
        let (jobs, queue) = mpsc::channel(4 * MAX_BATCH);
        let batcher = Batcher {
            view: Arc::clone(&view),
            sync: Arc::clone(&sync),
            runs,
            clock: Arc::clone(&clock),
            settings: Arc::clone(&settings),
            guard: Arc::clone(&guard),
        };
        tokio::spawn(batcher.run(queue));
        Ok(Self {
            jobs,
            view,
            settings,
            guard,
            clock,
            sync,
        })
    }

    /// A stored resource as SCIM answers it: `meta` with its location and version.
    fn present(&self, kind: ResourceType, resource: &Value) -> Value {
        present(&self.settings.base_url, kind, resource)
    }
}

/// `resource` with `meta.location` and a weak `meta.version` of its content.
fn present(base_url: &str, kind: ResourceType, resource: &Value) -> Value {
    let mut out = resource.clone();
    let id = resource
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let mut content = resource.clone();
    if let Some(meta) = content.get_mut("meta").and_then(Value::as_object_mut) {
        meta.remove("lastModified");
    }
    content.to_string().hash(&mut hasher);
    if !out.get("meta").is_some_and(Value::is_object) {
        out["meta"] = serde_json::json!({"resourceType": kind.name()});
    }
    out["meta"]["location"] = Value::String(format!("{base_url}{}/{id}", kind.endpoint()));
    if let Some(members) = out.get_mut("members").and_then(Value::as_array_mut) {
        for member in members {
            let endpoint = match member.get("type").and_then(Value::as_str) {
                Some("Group") => ResourceType::Group.endpoint(),
                _ => ResourceType::User.endpoint(),
            };
            if let Some(value) = member.get("value").and_then(Value::as_str) {
                member["$ref"] = Value::String(format!("{base_url}{endpoint}/{value}"));
            }
        }
    }
    out["meta"]["version"] = Value::String(format!("W/\"{:016x}\"", hasher.finish()));
    out
}

#[async_trait::async_trait]
impl Provisioning for ProvisioningService {
    async fn write(&self, write: ScimWrite) -> Result<Option<Value>, ScimError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || ScimError::new(503, None, "The service is stopping; try again.");
        self.jobs
            .send(Job { write, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    async fn get(&self, kind: ResourceType, id: &str) -> Result<Value, ScimError> {
        let view = self.view.read().await;
        match view.of(kind).entries.get(id) {
            Some(entry) if !entry.deleted => Ok(self.present(kind, &entry.resource)),
            _ => Err(ScimError::not_found(format!(
                "No {} has the id `{id}`.",
                kind.name()
            ))),
        }
    }

    async fn list(
        &self,
        kind: ResourceType,
        query: &ScimQuery,
    ) -> Result<(Vec<Value>, usize, usize), ScimError> {
        let filter = match query.filter.as_deref().map(str::trim) {
            Some(f) if !f.is_empty() => Some(Filter::parse_for(f, kind)?),
            _ => None,
        };
        let page = list::parse_page(
            query.start_index.as_deref(),
            query.count.as_deref(),
            self.settings.max_results,
        )?;
        let view = self.view.read().await;
        let matching: Vec<&Value> = view
            .of(kind)
            .entries
            .values()
            .filter(|e| !e.deleted)
            .map(|e| &e.resource)
            .filter(|r| filter.as_ref().is_none_or(|f| f.matches(r, kind)))
            .collect();
        let total = matching.len();
        let resources = matching
            .into_iter()
            .skip(page.offset())
            .take(page.count)
            .map(|r| self.present(kind, r))
            .collect();
        Ok((resources, total, page.start_index))
    }
}

#[async_trait::async_trait]
impl GuardRelease for ProvisioningService {
    async fn release(&self) -> Result<DateTime<Utc>, String> {
        let until = released_until(self.clock.now(), self.settings.guard_window);
        self.sync
            .release_guard(Trigger::Api, release_message(until))
            .await
            .map_err(|e| e.to_string())?;
        lock(&self.guard).release(tokio::time::Instant::now());
        Ok(until)
    }
}

/// Until when a release made at `now` lets deactivations through.
pub fn released_until(now: DateTime<Utc>, window: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX)
}

/// The `guard-released` line of a release.
pub fn release_message(until: DateTime<Utc>) -> String {
    format!(
        "an administrator let SCIM deactivations through until {}",
        until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

/// What the run log says about the guard's window that ends at `now`.
struct Recent {
    /// Deactivations committed by SCIM batches since the newest release: how long ago, how
    /// many; newest first.
    deactivations: Vec<(Duration, u64)>,
    /// How long ago the newest release within the window was made.
    release: Option<Duration>,
}

/// Reads the run log back to the start of the window: a release is a successful run of mode
/// `scim` not triggered by SCIM writes (`idmsync scim release-guard`, the REST API).
async fn recent_runs(
    runs: &dyn RunLogReader,
    tenant: &Tenant,
    now: DateTime<Utc>,
    settings: &ProvisioningSettings,
) -> Result<Recent, StoreError> {
    const PAGE: u64 = 200;
    let mut recent = Recent {
        deactivations: Vec::new(),
        release: None,
    };
    let mut start = 0;
    loop {
        let page = runs.runs(tenant, Some(Page { start, size: PAGE })).await?;
        for run in &page {
            let age = (now - run.started_at).to_std().unwrap_or_default();
            if age >= settings.guard_window {
                return Ok(recent);
            }
            if run.mode != SyncMode::Scim || run.outcome != Outcome::Succeeded {
                continue;
            }
            if run.trigger != Trigger::Scim {
                recent.release = Some(age);
                return Ok(recent);
            }
            recent
                .deactivations
                .push((age, run.counts.users_deactivated));
        }
        if (page.len() as u64) < PAGE {
            return Ok(recent);
        }
        start += PAGE;
    }
}

/// The guard, whose lock no holder can poison in a way that matters: its state stays whole.
fn lock(guard: &Mutex<WindowGuard>) -> std::sync::MutexGuard<'_, WindowGuard> {
    guard
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How long a batch waits for one more request before it closes early: a tenth of
/// `batch_ms`, between 1 and 5 ms. Providers' clients each wait for their answer, so once a
/// batch is answered its clients send their next requests at once and nothing more comes:
/// waiting out the whole `batch_ms` then only adds to every request's latency (issue 18's
/// bench: 50 clients, each batch waited 20 ms for requests that had all arrived in the first 2).
fn quiet_gap(batch: Duration) -> Duration {
    (batch / 10).clamp(Duration::from_millis(1), Duration::from_millis(5))
}

/// The one task that applies writes, in the order they were queued.
struct Batcher {
    view: Arc<RwLock<View>>,
    sync: Arc<SyncService>,
    runs: Arc<dyn RunLogReader>,
    clock: Arc<dyn Clock>,
    settings: Arc<ProvisioningSettings>,
    guard: Arc<Mutex<WindowGuard>>,
}

impl Batcher {
    async fn run(self, mut queue: mpsc::Receiver<Job>) {
        let gap = quiet_gap(self.settings.batch);
        while let Some(first) = queue.recv().await {
            let mut jobs = vec![first];
            let until = tokio::time::Instant::now() + self.settings.batch;
            while jobs.len() < MAX_BATCH {
                let quiet = (tokio::time::Instant::now() + gap).min(until);
                match tokio::time::timeout_at(quiet, queue.recv()).await {
                    Ok(Some(job)) => jobs.push(job),
                    Ok(None) | Err(_) => break,
                }
            }
            self.batch(jobs).await;
        }
    }

    /// Applies one batch: each write to the draft (a refused one is answered at once), then the
    /// draft through the engine, then the answers.
    async fn batch(&self, jobs: Vec<Job>) {
        let mut draft = Draft::default();
        let mut collected = Collected::default();
        let mut accepted: Vec<(oneshot::Sender<_>, Written)> = Vec::new();
        let instant = tokio::time::Instant::now();
        self.look_for_release(instant).await;
        let (data, deactivations) = {
            let view = self.view.read().await;
            let mut guard = lock(&self.guard);
            let mut writer = Writer {
                view: &view,
                draft: &mut draft,
                collected: &mut collected,
                now: self.clock.now(),
                reactivate: self.settings.reactivate,
                guard: &mut guard,
                instant,
                active: view.active_users(),
                deactivations: 0,
            };
            for job in jobs {
                match writer.apply(job.write) {
                    Ok(written) => accepted.push((job.reply, written)),
                    Err(error) => {
                        let _ = job.reply.send(Err(error));
                    }
                }
            }
            let deactivations = writer.deactivations;
            drop(guard);
            if accepted.is_empty() {
                return;
            }
            (source_data(&view, &draft, collected), deactivations)
        };
        let data = match data {
            Ok(data) => data,
            Err(error) => {
                for (reply, _) in accepted {
                    let _ = reply.send(Err(error.clone()));
                }
                return;
            }
        };
        match self.commit(data).await {
            Ok(()) => {
                lock(&self.guard).record(instant, deactivations);
                let mut view = self.view.write().await;
                view.commit(draft);
                for (reply, written) in accepted {
                    let answer = written.and_then(|(kind, id)| {
                        let entry = view.of(kind).entries.get(&id)?;
                        Some(present(&self.settings.base_url, kind, &entry.resource))
                    });
                    let _ = reply.send(Ok(answer));
                }
            }
            Err(error) => {
                for (reply, _) in accepted {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }

    /// After the guard refused a deactivation, whether another process released it since: the
    /// run log is read once per batch until a release is found.
    async fn look_for_release(&self, now: tokio::time::Instant) {
        if !lock(&self.guard).tripped {
            return;
        }
        let tenant = &self.settings.tenant;
        match recent_runs(self.runs.as_ref(), tenant, self.clock.now(), &self.settings).await {
            Ok(Recent {
                release: Some(age), ..
            }) => {
                lock(&self.guard).release(now.checked_sub(age).unwrap_or(now));
            }
            Ok(_) => {}
            Err(error) => warn!(%error, "could not read the run log for a release of the guard"),
        }
    }

    /// Runs the batch through the engine as one run of mode `scim`, waiting a while for a lock
    /// another run holds.
    async fn commit(&self, data: SourceData) -> Result<(), ScimError> {
        let push = Push {
            mode: SyncMode::Scim,
            trigger: Trigger::Scim,
            position: None,
        };
        let unavailable = |detail: String| ScimError::new(503, None, detail);
        let deadline = tokio::time::Instant::now() + LOCK_WAIT;
        loop {
            match self.sync.push(data.clone(), push.clone()).await {
                Ok((LiveReport::Locked, _)) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok((LiveReport::Locked, _)) => {
                    return Err(unavailable(
                        "Another run of this tenant holds its lock; try again.".into(),
                    ))
                }
                Ok((LiveReport::Unchanged, _)) => return Ok(()),
                Ok((LiveReport::Run(report), _)) => {
                    return match *report {
                        RunReport::Applied { run, counts, .. } => {
                            info!(%run, "SCIM batch applied: {counts}");
                            Ok(())
                        }
                        RunReport::Aborted { reason, .. } => Err(unavailable(format!(
                            "The safety guard refused these changes, and nothing was applied: \
                             {reason}"
                        ))),
                        RunReport::Skipped { .. } | RunReport::DryRun { .. } => {
                            Err(unavailable("The batch was not applied; try again.".into()))
                        }
                    }
                }
                Err(SyncError::Source { source, .. }) => {
                    return Err(ScimError::invalid_value(source.to_string()))
                }
                Err(SyncError::Store(error)) => {
                    warn!(%error, "a SCIM batch could not be stored; nothing of it was applied");
                    return Err(unavailable(format!(
                        "The database refused the changes, and nothing was applied: {error}"
                    )));
                }
            }
        }
    }
}

/// The batch as the planner takes it: every user and group it wrote, whole (a group with its
/// complete member list), the inactive users among their members (the planner resolves a
/// member it was not given only among active users), and what it deleted.
fn source_data(view: &View, draft: &Draft, collected: Collected) -> Result<SourceData, ScimError> {
    let Collected { passwords, deleted } = collected;
    let password = |id: &str| -> Option<&Password> {
        passwords
            .iter()
            .rev()
            .find(|(p, _)| p == id)
            .map(|(_, p)| p)
    };
    let mut data = SourceData::default();
    let mut given: HashSet<String> = HashSet::new();
    for ((kind, id), entry) in draft.changed() {
        if entry.deleted {
            continue;
        }
        data.documents.push(Document {
            group: *kind == ResourceType::Group,
            source_id: SourceId::new(id)
                .map_err(|e| ScimError::invalid_value(format!("id: {e}")))?,
            body: resource::document(*kind, &entry.resource),
        });
        match kind {
            ResourceType::User => {
                given.insert(id.clone());
                data.users
                    .push(resource::source_user(&entry.resource, password(id))?);
            }
            ResourceType::Group => data.groups.push(resource::source_group(&entry.resource)?),
        }
    }
    let inactive_members: Vec<String> = data
        .groups
        .iter()
        .flat_map(|g| g.members.iter().map(|m| m.name().to_string()))
        .filter(|id| !given.contains(id))
        .filter(|id| {
            draft
                .get(view, ResourceType::User, id)
                .is_some_and(|e| e.resource.get("active") == Some(&Value::Bool(false)))
        })
        .collect();
    for id in inactive_members {
        if given.insert(id.clone()) {
            if let Some(entry) = draft.get(view, ResourceType::User, &id) {
                data.users
                    .push(resource::source_user(&entry.resource, None)?);
            }
        }
    }
    let ids = |wanted: ResourceType| -> Result<Vec<SourceId>, ScimError> {
        deleted
            .iter()
            .filter(|(kind, _)| *kind == wanted)
            .map(|(_, id)| {
                SourceId::new(id).map_err(|e| ScimError::invalid_value(format!("id: {e}")))
            })
            .collect()
    };
    data.departed = Departed {
        users: Departures::Listed(ids(ResourceType::User)?),
        groups: Departures::Listed(ids(ResourceType::Group)?),
    };
    Ok(data)
}
