//! [`SyncService`]: the orchestration of one run over the ports.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Instant;

use idmsync_domain::guard::{self, GuardStop};
use idmsync_domain::plan::{self, SourceData};
use idmsync_domain::validate::{self, Fields};
use idmsync_domain::{
    ChangeSet, Counts, EventKey, LogLine, MaxDeactivations, OnConflict, OnUnreadable, Outcome,
    PasswordHasher, PlanOptions, Reactivate, RunId, RunResult, SourceGroup, SourceId, StoreState,
    SyncMode, Tenant, Trigger, Watermark,
};
use idmsync_ports::{
    Clock, DynProgress, IdentitySource, NewRun, NoProgress, RunLock, SourceError, StoreError,
    SyncStore,
};
use tokio::task::JoinHandle;
use tracing::{info, info_span, warn, Instrument};

/// The `[sync]` settings that shape every run.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncSettings {
    /// The tenant synchronised.
    pub tenant: Tenant,
    /// Tenant administrators, by external id or locator.
    pub admins: Vec<String>,
    /// The guard's limit for full runs.
    pub max_deactivations: MaxDeactivations,
    /// Who may be reactivated.
    pub reactivate: Reactivate,
    /// Compare ids case-insensitively.
    pub ignore_case: bool,
    /// Stop or skip when two entries claim one identity.
    pub on_conflict: OnConflict,
    /// Stop or keep when a full read found entries it could not read.
    pub on_unreadable: OnUnreadable,
}

/// What the caller asks of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRequest {
    /// Full or differential; `None` picks full until a run has succeeded, differential after.
    pub mode: Option<SyncMode>,
    /// A login: a user run of that one user and their groups instead (`mode` is ignored).
    pub user: Option<String>,
    /// What started the run.
    pub trigger: Trigger,
    /// Plan and report, write nothing (not even a run record).
    pub dry_run: bool,
    /// Apply even if the guard objects, this once.
    pub force: bool,
}

/// How a run ended, when it did not fail.
#[derive(Debug, Clone, PartialEq)]
pub enum RunReport {
    /// The change set was applied (possibly empty).
    Applied {
        /// The recorded run.
        run: RunId,
        /// The mode actually used.
        mode: SyncMode,
        /// What changed.
        counts: Counts,
        /// Wall time of the run.
        elapsed: std::time::Duration,
    },
    /// The guard stopped the run before writing.
    Aborted {
        /// The recorded run.
        run: RunId,
        /// Why.
        reason: String,
        /// What the run would have changed.
        counts: Counts,
    },
    /// Another runner held the tenant's lock; this run did nothing and is recorded as
    /// `skipped-locked`.
    Skipped {
        /// The recorded run.
        run: RunId,
    },
    /// A dry run: the plan, unapplied.
    DryRun {
        /// The mode used.
        mode: SyncMode,
        /// The change set that a real run would apply now.
        changes: ChangeSet,
        /// Whether the guard would have stopped it, and why.
        guard: Option<String>,
    },
}

/// Why a run failed. Nothing was applied; the run is recorded as failed where the store allowed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The source could not deliver.
    #[error("run {}: {source}", run.map_or_else(|| "(dry)".to_string(), |r| r.to_string()))]
    Source {
        /// The recorded run, if one was recorded.
        run: Option<RunId>,
        /// What the source said.
        source: SourceError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The state a SCIM batch left in the store, and the newest run when it did: still the
/// store's state while that run stays the newest ([`SyncStore::newest_run`]).
struct Kept {
    state: StoreState,
    after: Option<RunId>,
}

/// The stored state a plan compares with, as far as the run has it.
enum Stored {
    /// A full run's, loading beside the source's read.
    Loading(JoinHandle<Result<StoreState, StoreError>>),
    /// A user run's, loaded before the read, and the login if the source no longer has it.
    Loaded {
        state: StoreState,
        gone: Option<String>,
    },
    /// A differential run's: loaded for the groups the source returned and the entries it
    /// names gone, once it has (all of it after a present phase).
    ForGroups,
}

/// A plan and the guard's verdict on it.
struct Planned {
    mode: SyncMode,
    changes: ChangeSet,
    verdict: Result<(), String>,
}

/// What a pushed batch is recorded as ([`SyncService::push`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// The run's mode: [`SyncMode::Live`] or [`SyncMode::Scim`].
    pub mode: SyncMode,
    /// What started it.
    pub trigger: Trigger,
    /// The source's position after the batch, recorded as the run's watermark; `None` for a
    /// source without one (SCIM), whose runs leave the watermark of the last read alone.
    pub position: Option<Watermark>,
}

/// What a live or pushed batch came to ([`SyncService::push`]).
#[derive(Debug, Clone, PartialEq)]
pub enum LiveReport {
    /// It changes nothing: nothing is recorded.
    Unchanged,
    /// Another runner holds the tenant's lock: nothing was done; apply the batch later.
    Locked,
    /// It was recorded as a live run, applied or aborted by the guard.
    Run(Box<RunReport>),
}

/// Why a run stops before planning or applying, and the run-log lines that say about what.
struct Refusal {
    error: SourceError,
    lines: Vec<LogLine>,
}

impl From<SourceError> for Refusal {
    fn from(error: SourceError) -> Self {
        Self {
            error,
            lines: Vec::new(),
        }
    }
}

/// The ports a [`SyncService`] drives; the binary fills it from configuration.
pub struct SyncPorts {
    /// Where users and groups come from.
    pub source: Arc<dyn IdentitySource>,
    /// Where they go, and where runs are recorded.
    pub store: Arc<dyn SyncStore>,
    /// One runner at a time per tenant.
    pub lock: Arc<dyn RunLock>,
    /// Hashes passwords the source manages.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Timestamps runs.
    pub clock: Arc<dyn Clock>,
}

/// Runs syncs. Holds its ports as trait objects so the binary can wire any adapter by
/// configuration.
pub struct SyncService {
    source: Arc<dyn IdentitySource>,
    store: Arc<dyn SyncStore>,
    lock: Arc<dyn RunLock>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
    settings: SyncSettings,
    /// The state the last SCIM batch left, for the next to plan against.
    kept: tokio::sync::Mutex<Option<Kept>>,
}

impl SyncService {
    /// Wires a service from its ports.
    pub fn new(ports: SyncPorts, settings: SyncSettings) -> Self {
        Self {
            source: ports.source,
            store: ports.store,
            lock: ports.lock,
            hasher: ports.hasher,
            clock: ports.clock,
            settings,
            kept: tokio::sync::Mutex::new(None),
        }
    }

    /// Runs one sync.
    ///
    /// # Errors
    /// [`SyncError::Source`] when the source fails (the run is recorded as failed, nothing is
    /// applied); [`SyncError::Store`] when the store fails (the transaction rolled back).
    pub async fn run(
        &self,
        request: RunRequest,
        progress: &DynProgress,
    ) -> Result<RunReport, SyncError> {
        let last = self.store.last_success(&self.settings.tenant).await?;
        let since = last.and_then(|r| r.watermark);
        let (mode, since) = match (request.mode, since) {
            _ if request.user.is_some() => (SyncMode::User, None),
            (Some(SyncMode::Full), _) | (_, None) => {
                if request.mode == Some(SyncMode::Differential) {
                    info!(
                        "no successful run yet: running a full sync instead of a differential one"
                    );
                }
                (SyncMode::Full, None)
            }
            (_, Some(w)) => (SyncMode::Differential, Some(w)),
        };
        let started = Instant::now();
        let new = self.new_run(mode, request.trigger);
        // A dry run writes nothing, so it needs no lock and records no run.
        let (run, _held) = if request.dry_run {
            (None, None)
        } else {
            let Some(held) = self.lock.try_lock(&self.settings.tenant).await? else {
                let result = RunResult {
                    outcome: Outcome::SkippedLocked,
                    reason: Some("another run holds this tenant's lock".into()),
                    counts: Counts::default(),
                    watermark: None,
                    finished_at: self.clock.now(),
                };
                let run = self.store.record_skipped(&new, &result).await?;
                info!(%run, "another run holds the lock; skipped");
                return Ok(RunReport::Skipped { run });
            };
            let run = self.store.begin_run(&new).await?;
            progress.started(run, mode);
            (Some(run), Some(held))
        };
        let span = info_span!("sync", run = %run.map_or_else(|| "dry".into(), |r| r.to_string()), mode = mode.as_str());
        async {
            if let Some(login) = request.user.clone() {
                return self.user_run(run, login, request, started, progress).await;
            }
            // A full run needs the whole stored state whatever the source returns: load it on
            // another thread while the source is read, instead of after.
            let state = (mode == SyncMode::Full).then(|| self.load_full_state());
            match self.read(since.as_ref(), progress).await {
                Ok((data, watermark)) => {
                    let stored = state.map_or(Stored::ForGroups, Stored::Loading);
                    let read = (data, Some(watermark));
                    self.plan_and_apply(run, mode, request, read, stored, started, progress)
                        .await
                }
                Err(source) => {
                    if let Some(state) = state {
                        state.abort();
                    }
                    self.refuse(run, Refusal::from(source)).await
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Reads the source: the watermark first (so nothing changed during the read is missed next
    /// time), then the snapshot or the changes since `since`.
    async fn read(
        &self,
        since: Option<&Watermark>,
        progress: &DynProgress,
    ) -> Result<(SourceData, Watermark), SourceError> {
        let watermark = self.source.watermark().await?;
        let data = match since {
            None => self.source.snapshot(progress).await?,
            Some(w) => self.source.changed_since(w, progress).await?,
        };
        info!(
            users = data.users.len(),
            groups = data.groups.len(),
            "read the source"
        );
        Ok((data, watermark))
    }

    /// A user run: the stored state first (which groups the user is in now), then the user and
    /// those groups and the groups that have the user now from the source, planned like a
    /// differential run except that a user the source no longer has is deactivated. No
    /// watermark: a user run is no position in the source.
    async fn user_run(
        &self,
        run: Option<RunId>,
        login: String,
        request: RunRequest,
        started: Instant,
        progress: &DynProgress,
    ) -> Result<RunReport, SyncError> {
        progress.stage("loading the stored state", None);
        let state = self.store.load_state(&self.settings.tenant).await?;
        let groups = state.groups_of_user(&login, self.settings.ignore_case);
        progress.stage("reading the user", None);
        let data = match self.source.user(&login, &groups).await {
            Ok(data) => data,
            Err(source) => return self.refuse(run, Refusal::from(source)).await,
        };
        info!(
            user = %login,
            found = data.users.len(),
            groups = data.groups.len(),
            "read the user"
        );
        let gone = data.users.is_empty() && data.unreadable.iter().all(|u| u.group);
        let stored = Stored::Loaded {
            state,
            gone: gone.then_some(login),
        };
        self.plan_and_apply(
            run,
            SyncMode::User,
            request,
            (data, None),
            stored,
            started,
            progress,
        )
        .await
    }

    /// Starts loading the whole stored state on a task of its own (the store's work blocks a
    /// thread, so it runs beside the source's reading).
    fn load_full_state(&self) -> JoinHandle<Result<StoreState, StoreError>> {
        let store = Arc::clone(&self.store);
        let tenant = self.settings.tenant.clone();
        tokio::spawn(
            async move { store.load_state(&tenant).await }.instrument(tracing::Span::current()),
        )
    }

    #[allow(clippy::too_many_arguments)]
    async fn plan_and_apply(
        &self,
        run: Option<RunId>,
        mode: SyncMode,
        request: RunRequest,
        (data, watermark): (SourceData, Option<Watermark>),
        stored: Stored,
        started: Instant,
        progress: &DynProgress,
    ) -> Result<RunReport, SyncError> {
        let planned = match self.plan(mode, data, stored, progress).await? {
            Ok(planned) => planned,
            Err(refusal) => return self.refuse(run, refusal).await,
        };
        let Some(run) = run else {
            return Ok(RunReport::DryRun {
                mode,
                changes: planned.changes,
                guard: planned.verdict.err(),
            });
        };
        self.settle(run, request.force, planned, watermark, started, progress)
            .await
    }

    /// Applies a batch of a live stream (`sync.live`): the changes the source sent, and its
    /// position after them, as a run of mode [`SyncMode::Live`] with `position` as its
    /// watermark (see [`SyncService::push`]). Also returns the groups of the batch with a member
    /// that resolved to nothing (none when the lock was taken), for the caller to plan again
    /// with the next batch: a stream may send a member just after its group.
    ///
    /// # Errors
    /// As [`SyncService::push`].
    pub async fn live(
        &self,
        data: SourceData,
        position: Watermark,
    ) -> Result<(LiveReport, Vec<SourceGroup>), SyncError> {
        let push = Push {
            mode: SyncMode::Live,
            trigger: Trigger::Live,
            position: Some(position),
        };
        self.push(data, push).await
    }

    /// Applies a batch of changes a source sent rather than one the engine read (a live
    /// stream's, an identity provider's SCIM writes). Under the tenant's lock, like any run, the
    /// batch is planned like a differential run; only a batch that changes something is
    /// recorded, as a run of `push.mode` with `push.position` as its watermark, guarded and
    /// applied in one transaction like any run. A live batch is planned against the stored
    /// state of the entries it names; a SCIM batch against the state the previous batch left
    /// (see `push_kept`). Also returns the groups of a live batch with a member that resolved
    /// to nothing (none when the lock was taken, nor for SCIM, whose members name ids).
    ///
    /// # Errors
    /// As [`SyncService::run`]: [`SyncError::Source`] when the batch cannot be planned as it is
    /// (recorded as a failed run), [`SyncError::Store`] when the store fails.
    pub async fn push(
        &self,
        data: SourceData,
        push: Push,
    ) -> Result<(LiveReport, Vec<SourceGroup>), SyncError> {
        let tenant = &self.settings.tenant;
        let Some(_held) = self.lock.try_lock(tenant).await? else {
            return Ok((LiveReport::Locked, Vec::new()));
        };
        let started = Instant::now();
        if push.mode == SyncMode::Scim {
            return self.push_kept(data, push, started).await;
        }
        let mut groups = data.groups.clone();
        let planned = self
            .plan(push.mode, data, Stored::ForGroups, &NoProgress)
            .await?;
        let unresolved = planned
            .as_ref()
            .map(|p| &p.changes.unresolved[..])
            .unwrap_or_default();
        groups.retain(|g| unresolved.contains(&g.source_id));
        if planned.as_ref().is_ok_and(|p| p.changes.is_empty()) {
            return Ok((LiveReport::Unchanged, groups));
        }
        let new = self.new_run(push.mode, push.trigger);
        let run = self.store.begin_run(&new).await?;
        let span = info_span!("sync", run = %run, mode = push.mode.as_str());
        let report = async {
            match planned {
                Ok(planned) => {
                    self.settle(run, false, planned, push.position, started, &NoProgress)
                        .await
                }
                Err(refusal) => self.refuse(Some(run), refusal).await,
            }
        }
        .instrument(span)
        .await?;
        Ok((LiveReport::Run(Box::new(report)), groups))
    }

    /// A SCIM batch, under the tenant's lock: planned against the state the previous batch
    /// left ([`Kept`]) while no other run has been recorded since, else against a fresh load.
    /// An identity provider sends a few requests per batch and a tenant holds thousands of
    /// users: reloading them for every batch was most of a request's latency.
    async fn push_kept(
        &self,
        data: SourceData,
        push: Push,
        started: Instant,
    ) -> Result<(LiveReport, Vec<SourceGroup>), SyncError> {
        let tenant = &self.settings.tenant;
        let mut kept = self.kept.lock().await;
        let newest = self.store.newest_run(tenant).await?;
        let state = match kept.take() {
            Some(k) if k.after == newest => k.state,
            _ => self.store.load_state(tenant).await?,
        };
        let planned = match self.distrust(push.mode, &data) {
            Some(refusal) => Err(refusal),
            None => self.plan_against(push.mode, data, &state, Vec::new(), &NoProgress),
        };
        if planned.as_ref().is_ok_and(|p| p.changes.is_empty()) {
            *kept = Some(Kept {
                state,
                after: newest,
            });
            return Ok((LiveReport::Unchanged, Vec::new()));
        }
        let run = self
            .store
            .begin_run(&self.new_run(push.mode, push.trigger))
            .await?;
        let span = info_span!("sync", run = %run, mode = push.mode.as_str());
        let report = async {
            match planned {
                Ok(planned) => {
                    let changes = planned.changes.clone();
                    let report = self
                        .settle(run, false, planned, push.position, started, &NoProgress)
                        .await?;
                    if matches!(report, RunReport::Applied { .. }) {
                        let mut state = state;
                        state.apply(&changes);
                        *kept = Some(Kept {
                            state,
                            after: Some(run),
                        });
                    }
                    Ok(report)
                }
                Err(refusal) => self.refuse(Some(run), refusal).await,
            }
        }
        .instrument(span)
        .await?;
        Ok((LiveReport::Run(Box::new(report)), Vec::new()))
    }

    /// A run of this service's tenant and source, starting now.
    fn new_run(&self, mode: SyncMode, trigger: Trigger) -> NewRun {
        NewRun {
            tenant: self.settings.tenant.clone(),
            mode,
            trigger,
            source: self.source.name(),
            started_at: self.clock.now(),
        }
    }

    /// Records an administrator's release of the SCIM guard as a run of mode `scim` with
    /// `trigger` (`manual` from the CLI, `api` from the REST API) that changes nothing, and one
    /// `guard-released` line saying `message`. The provisioning service reads it back from the
    /// run log, so that a release made by another process counts too.
    ///
    /// # Errors
    /// [`SyncError::Store`] when the run cannot be recorded; `Source` (`Unavailable`) when
    /// another run holds the tenant's lock.
    pub async fn release_guard(
        &self,
        trigger: Trigger,
        message: String,
    ) -> Result<RunId, SyncError> {
        let tenant = &self.settings.tenant;
        let Some(_held) = self.lock.try_lock(tenant).await? else {
            return Err(SyncError::Source {
                run: None,
                source: SourceError::Unavailable(
                    "another run holds this tenant's lock; try again in a moment".into(),
                ),
            });
        };
        let run = self
            .store
            .begin_run(&self.new_run(SyncMode::Scim, trigger))
            .await?;
        warn!(%run, "{message}");
        let line = LogLine::new(EventKey::GuardReleased, message);
        self.end(run, Outcome::Succeeded, None, Counts::default(), &[line])
            .await?;
        Ok(run)
    }

    /// Where a live stream starts: the watermark of the newest successful run of the whole
    /// source (full, differential or live), `None` before the first.
    ///
    /// # Errors
    /// As [`SyncStore::last_success`].
    pub async fn position(&self) -> Result<Option<Watermark>, StoreError> {
        let last = self.store.last_success(&self.settings.tenant).await?;
        Ok(last.and_then(|r| r.watermark))
    }

    /// Plans `data` against the stored state: the checks of the source's data, the plan, its
    /// conflicts and the guard's verdict.
    async fn plan(
        &self,
        mode: SyncMode,
        data: SourceData,
        stored: Stored,
        progress: &DynProgress,
    ) -> Result<Result<Planned, Refusal>, SyncError> {
        let tenant = &self.settings.tenant;
        if let Some(refusal) = self.distrust(mode, &data) {
            if let Stored::Loading(state) = stored {
                state.abort();
            }
            return Ok(Err(refusal));
        }
        let mut gone = Vec::new();
        let state = match stored {
            Stored::Loading(task) => match task.await {
                Ok(state) => state?,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => return Err(StoreError::Failed(format!("loading the state: {e}")).into()),
            },
            Stored::Loaded { state, gone: login } => {
                gone.extend(login);
                state
            }
            // Entries that left take their edges with them, wherever those are stored; after a
            // present phase any of them may have left.
            Stored::ForGroups => match data.departed.named() {
                None => self.store.load_state(tenant).await?,
                Some(left) => {
                    let groups: Vec<SourceId> =
                        data.groups.iter().map(|g| g.source_id.clone()).collect();
                    self.store.load_state_for(tenant, &groups, &left).await?
                }
            },
        };
        Ok(self.plan_against(mode, data, &state, gone, progress))
    }

    /// Plans `data` against `state`: the plan, its conflicts and the guard's verdict.
    fn plan_against(
        &self,
        mode: SyncMode,
        data: SourceData,
        state: &StoreState,
        gone: Vec<String>,
        progress: &DynProgress,
    ) -> Result<Planned, Refusal> {
        // Users held back by a conflict between sources were read whole and are in the
        // source all the same; unreadable ones are not counted: a read that found nothing it
        // could read is what a wrong base or a blind account looks like.
        let held = data.unreadable.iter().filter(|u| u.conflict && !u.group);
        let source_users = data.users.len() + held.count();
        let admins = self
            .settings
            .admins
            .iter()
            .map(|a| self.source.canonical_name(a))
            .chain(self.source.admins())
            .collect();
        let options = PlanOptions {
            tenant: self.settings.tenant.clone(),
            mode,
            reactivate: self.settings.reactivate,
            ignore_case: self.settings.ignore_case,
            admins,
            gone,
            threads: std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
        };
        progress.stage("planning", None);
        let changes = plan::plan(data, state, &options, self.hasher.as_ref());
        if let Some(refusal) = self.conflicts(&changes) {
            return Err(refusal);
        }
        let verdict = guard::check(
            mode,
            &changes,
            state,
            source_users,
            self.settings.max_deactivations,
        )
        .map_err(|stop: GuardStop| stop.to_string());
        Ok(Planned {
            mode,
            changes,
            verdict,
        })
    }

    /// Ends the recorded `run` with its plan: aborted if the guard objects (unless `force`),
    /// else applied with `watermark` in one transaction.
    async fn settle(
        &self,
        run: RunId,
        force: bool,
        planned: Planned,
        watermark: Option<Watermark>,
        started: Instant,
        progress: &DynProgress,
    ) -> Result<RunReport, SyncError> {
        let Planned {
            mode,
            changes,
            verdict,
        } = planned;
        let counts = changes.counts();
        match verdict {
            Err(reason) if !force => {
                warn!(%reason, "the guard stopped the run; nothing applied");
                let lines: Vec<LogLine> =
                    std::iter::once(LogLine::new(EventKey::Aborted, reason.clone()))
                        .chain(changes.warnings.iter().cloned())
                        .collect();
                self.end(run, Outcome::Aborted, Some(reason.clone()), counts, &lines)
                    .await?;
                return Ok(RunReport::Aborted {
                    run,
                    reason,
                    counts,
                });
            }
            Err(reason) => warn!(%reason, "the guard objects, but --force applies the run anyway"),
            Ok(()) => {}
        }
        progress.stage("applying", Some(changes.writes()));
        let result = RunResult {
            outcome: Outcome::Succeeded,
            reason: None,
            counts,
            watermark,
            finished_at: self.clock.now(),
        };
        if let Err(e) = self
            .store
            .apply(run, &self.settings.tenant, &changes, &result, progress)
            .await
        {
            warn!(error = %e, "applying failed; the transaction was rolled back");
            let line = LogLine::new(EventKey::Failed, e.to_string());
            if let Err(again) = self
                .end(run, Outcome::Failed, Some(e.to_string()), counts, &[line])
                .await
            {
                warn!(error = %again, "could not record the failure either");
            }
            return Err(SyncError::Store(e));
        }
        let elapsed = started.elapsed();
        // Numbers as numbers, so a collector can sum them; the message has them in words.
        info!(
            users_created = counts.users_created,
            users_updated = counts.users_updated,
            users_deactivated = counts.users_deactivated,
            users_reactivated = counts.users_reactivated,
            groups_changed = counts.groups_created
                + counts.groups_updated
                + counts.groups_deactivated
                + counts.groups_reactivated,
            memberships_added = counts.memberships_added,
            memberships_removed = counts.memberships_removed,
            warnings = counts.warnings,
            elapsed_secs = elapsed.as_secs_f64(),
            "run applied: {counts}"
        );
        Ok(RunReport::Applied {
            run,
            mode,
            counts,
            elapsed,
        })
    }

    /// Why the source's data cannot be planned as it is: a value no backend can store (the
    /// first, checked again here for sources that do not check their own), or, in a full run,
    /// entries the source could not read, whose absence would deactivate them.
    fn distrust(&self, mode: SyncMode, data: &SourceData) -> Option<Refusal> {
        let place = |locator: &Option<String>, what: &str, id: &dyn std::fmt::Display| {
            locator.clone().unwrap_or_else(|| format!("{what} {id}"))
        };
        let fields = &Fields::DOMAIN;
        for u in &data.users {
            if let Err(violation) = validate::user(u, fields) {
                let location = place(&u.locator, "user", &u.source_id);
                return Some(
                    SourceError::Invalid {
                        location,
                        message: violation.to_string(),
                    }
                    .into(),
                );
            }
        }
        for g in &data.groups {
            if let Err(violation) = validate::group(g, fields) {
                let location = place(&g.locator, "group", &g.source_id);
                return Some(
                    SourceError::Invalid {
                        location,
                        message: violation.to_string(),
                    }
                    .into(),
                );
            }
        }
        let unreadable: Vec<_> = data.unreadable.iter().filter(|u| !u.conflict).collect();
        if mode != SyncMode::Full
            || unreadable.is_empty()
            || self.settings.on_unreadable == OnUnreadable::Keep
        {
            return None;
        }
        let lines = unreadable
            .iter()
            .map(|u| {
                let event = if u.group {
                    EventKey::SkippedGroup
                } else {
                    EventKey::SkippedUser
                };
                LogLine::new(
                    event,
                    format!("{}: could not be read ({})", u.locator, u.reason),
                )
            })
            .collect();
        Some(Refusal {
            error: SourceError::Invalid {
                location: unreadable[0].locator.clone(),
                message: format!(
                    "could not be read ({}), nor {} other entr{} of the source; a full run \
                     would deactivate them. Give the service account read access to them, or \
                     set sync.on_unreadable = \"keep\" to keep them as they are",
                    unreadable[0].reason,
                    unreadable.len() - 1,
                    if unreadable.len() == 2 { "y" } else { "ies" }
                ),
            },
            lines,
        })
    }

    /// The plan's conflicts, as a refusal unless `sync.on_conflict = "skip"`.
    fn conflicts(&self, changes: &ChangeSet) -> Option<Refusal> {
        if self.settings.on_conflict == OnConflict::Skip {
            return None;
        }
        let lines: Vec<LogLine> = changes
            .warnings
            .iter()
            .filter(|l| l.event == EventKey::Conflict)
            .cloned()
            .collect();
        let first = lines.first()?;
        Some(Refusal {
            error: SourceError::Invalid {
                location: "the source".into(),
                message: format!(
                    "{} conflict(s), the first: {}. Correct the source, or set \
                     sync.on_conflict = \"skip\" to keep the first entry of each",
                    lines.len(),
                    first.message
                ),
            },
            lines,
        })
    }

    /// Ends `run` (if recorded) as failed because of the source, with nothing applied.
    async fn refuse(&self, run: Option<RunId>, refusal: Refusal) -> Result<RunReport, SyncError> {
        let Refusal { error, lines } = refusal;
        warn!(error = %error, "the run stopped before writing; nothing applied");
        if let Some(run) = run {
            let lines: Vec<LogLine> =
                std::iter::once(LogLine::new(EventKey::Failed, error.to_string()))
                    .chain(lines)
                    .collect();
            self.end(
                run,
                Outcome::Failed,
                Some(error.to_string()),
                Counts::default(),
                &lines,
            )
            .await?;
        }
        Err(SyncError::Source { run, source: error })
    }

    async fn end(
        &self,
        run: RunId,
        outcome: Outcome,
        reason: Option<String>,
        counts: Counts,
        lines: &[LogLine],
    ) -> Result<(), StoreError> {
        let result = RunResult {
            outcome,
            reason,
            counts,
            watermark: None,
            finished_at: self.clock.now(),
        };
        self.store.finish_run(run, &result, lines).await
    }
}
