//! `idmsync serve`: the long-running service. Wires a scheduler and the REST API over the
//! configured adapters for one tenant, or for every tenant of the configuration, syncs on boot,
//! runs the schedules, and shuts down gracefully.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use idmsync_http::{ApiState, ScimState, SCIM_PREFIX};
use idmsync_ports::{GuardRelease, SystemClock};
use idmsync_provision::{ProvisioningService, ProvisioningSettings};
use idmsync_scheduler::{Scheduler, SchedulerPorts, Schedules};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::app::{self, App};
use crate::check;
use crate::console::{self, Console};
use crate::logging::ANNOUNCE;
use crate::settings::{SettingsError, SourceKind};

/// What `serve` runs for one tenant: its scheduler (boot sync, schedules, live stream) and the
/// API's state over it. A one-tenant service has one; a several-tenant service one per tenant,
/// built the same way.
struct Served {
    app: App,
    scheduler: Scheduler,
    state: ApiState,
    schedules: Schedules,
    live: Option<app::Live>,
    scim: Option<app::Scim>,
}

impl Served {
    /// The tenant's scheduler and API state, its settings checked; nothing runs yet.
    fn new(app: App) -> anyhow::Result<Self> {
        let schedules = app::schedules(&app.settings)?;
        let live = app::live(&app.settings)?;
        let scim = app::scim(&app.settings)?;
        let scheduler = Scheduler::new(
            SchedulerPorts {
                service: Arc::new(app.sync_service()?),
                runs: app.store.clone(),
                directory: app.store.clone(),
                store_ping: app.store.clone(),
                clock: Arc::new(SystemClock),
            },
            app.tenant.clone(),
            schedules.clone(),
        );
        let state = ApiState {
            tenant: app.tenant.clone(),
            runs: app.store.clone(),
            directory: app.store.clone(),
            auth: app.authenticator()?,
            trigger: Arc::new(scheduler.clone()),
            readiness: Arc::new(scheduler.clone()),
            metrics: Arc::new(scheduler.clone()),
            scim_guard: None,
            managers: idmsync_http::Managers::default(),
        };
        Ok(Self {
            app,
            scheduler,
            state,
            schedules,
            live,
            scim,
        })
    }

    /// The source check of `idmsync config check`, as a warning: the boot sync retries.
    async fn check_source(&self) -> anyhow::Result<()> {
        let follows = self.app.settings.sync.live;
        let tenant = &self.app.tenant;
        match check::check_source(app::source(&self.app.settings, None)?.as_ref(), follows).await {
            Ok(found) => info!(%tenant, "source checked: {found}"),
            Err(reason) => warn!(
                %tenant,
                %reason,
                "the source check failed; the boot sync retries until the source answers"
            ),
        }
        Ok(())
    }

    /// Starts the boot sync (none for a pushed tenant), the schedules and the live stream;
    /// the tasks end once `until` says stop.
    async fn start<F: Future<Output = ()> + Send + 'static>(
        &mut self,
        until: impl Fn() -> F,
    ) -> Vec<JoinHandle<()>> {
        let scheduler = &self.scheduler;
        if self.app.settings.source().kind == SourceKind::Scim {
            scheduler.without_boot_sync();
        } else if let Err(e) = scheduler.boot().await {
            warn!(tenant = %self.app.tenant, error = %e, "the boot sync could not start; it is retried, and the service stays not ready until a full sync succeeds");
        }
        let mut tasks = vec![{
            let scheduler = scheduler.clone();
            let until = until();
            tokio::spawn(async move { scheduler.run_schedules(until).await })
        }];
        if let Some((feed, batching)) = self.live.take() {
            info!(
                tenant = %self.app.tenant,
                batch_ms = batching.batch.as_millis(),
                "live sync: following the source's changes"
            );
            let scheduler = scheduler.clone();
            let until = until();
            tasks.push(tokio::spawn(async move {
                scheduler.run_live(feed.as_ref(), batching, until).await;
            }));
        }
        tasks
    }
}

/// Runs until SIGTERM or SIGINT; a running sync gets `http.shutdown_grace_secs` to finish.
///
/// `apps` are the tenants to serve: one, or every tenant of a several-tenant configuration
/// (`serve` without `--tenant`), over one database, one listener and one shutdown. A
/// several-tenant service dispatches the API by `tenantId`, serves each pushed tenant's SCIM
/// endpoints under `/scim/v2/NAME`, and asks at the console's sign-in which tenant.
///
/// What it is serving, and that it stopped, are lines on stdout, or `info` events of the
/// [`ANNOUNCE`] target with `--log-format json`.
pub async fn serve(apps: Vec<App>, console: Console) -> anyhow::Result<()> {
    let mut tenants = apps
        .into_iter()
        .map(Served::new)
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Every served tenant's managers may use every served tenant's API.
    let managers = idmsync_http::Managers::new(
        tenants
            .iter()
            .map(|t| (t.app.tenant.clone(), t.app.settings.sync.managers.clone()))
            .collect(),
    );
    for tenant in &mut tenants {
        tenant.state.managers = managers.clone();
    }
    let Some(first) = tenants.first() else {
        anyhow::bail!("no tenant to serve");
    };
    // `[http]` is the configuration's, shared by its tenants.
    let tls = app::tls_files(&first.app.settings)?;
    let http = first.app.settings.http.clone();

    // The checks of `idmsync config check` that `App::open` has not made: the TLS files
    // (fatal, as in every handshake) and the sources (warnings: the boot syncs retry).
    if let Some(files) = &tls {
        idmsync_http::check_tls_files(files)
            .await
            .map_err(|e| SettingsError(format!("http.tls_cert / http.tls_key: {e}")))?;
    }
    for tenant in &tenants {
        tenant.check_source().await?;
    }

    let listener = bind(&http.listen, "http.listen").await?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!(
        "{scheme}://{}",
        listener
            .local_addr()
            .context("reading the listening address")?
    );
    // A pushed tenant's SCIM endpoints: `/scim/v2`, or `/scim/v2/NAME` beside other tenants.
    let several = tenants.len() > 1;
    let mut scim = Vec::new();
    for served in &mut tenants {
        if let Some(settings) = served.scim.take() {
            let path = if several {
                format!("{SCIM_PREFIX}/{}", served.app.tenant)
            } else {
                SCIM_PREFIX.to_string()
            };
            let (state, guard) = scim_state(&served.app, settings, &format!("{url}{path}")).await?;
            served.state.scim_guard = Some(guard);
            scim.push((path, state));
        }
    }
    announce_serving(&tenants, &url, console);

    let (stop, stopped) = watch::channel(false);
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            // An error means the sender is gone, which is a stop too.
            let _ = stopped.wait_for(|s| *s).await;
        }
    };

    // The operator's console shares the API's listener and ports (`http.console`); beside
    // other tenants, its sign-in form asks which tenant, and each session shows that one.
    let pages = http.console.then(|| {
        let idle = Duration::from_secs(60 * http.console_idle_mins.max(1));
        idmsync_http::ConsoleState::new(
            tenants.iter().map(|t| t.state.clone()).collect(),
            tls.is_some(),
            idle,
        )
        .with_provenance(idmsync_source_merge::Links::sources_of)
    });
    if pages.is_some() {
        if console.json {
            info!(target: ANNOUNCE, url = %format!("{url}/"), "operator's console");
        } else {
            announce(&format!("operator's console on {url}/"));
        }
    }
    let limits = idmsync_http::ServeOptions {
        max_connections: usize::try_from(http.max_connections.max(1)).unwrap_or(usize::MAX),
        header_timeout: std::time::Duration::from_secs(http.header_timeout_secs.max(1)),
    };
    let states: Vec<ApiState> = tenants.iter().map(|t| t.state.clone()).collect();
    let mut servers = tokio::task::JoinSet::new();
    match &http.metrics_listen {
        Some(address) => {
            let ops = bind(address, "http.metrics_listen").await?;
            let url = format!(
                "http://{}",
                ops.local_addr().context("reading the metrics address")?
            );
            if console.json {
                info!(target: ANNOUNCE, %url, "health and metrics");
            } else {
                announce(&format!("health and metrics on {url}"));
            }
            let (api, ops_router) = match <[ApiState; 1]>::try_from(states) {
                Ok([one]) => (
                    idmsync_http::api_router(one.clone()),
                    idmsync_http::ops_router(one),
                ),
                Err(states) => (
                    idmsync_http::tenants_api_router(states.clone()),
                    idmsync_http::tenants_ops_router(states),
                ),
            };
            servers.spawn(idmsync_http::serve(
                listener,
                idmsync_http::with_console(idmsync_http::with_scim(api, scim), pages),
                tls,
                limits,
                until_stopped(),
            ));
            servers.spawn(idmsync_http::serve(
                ops,
                ops_router,
                None,
                limits,
                until_stopped(),
            ));
        }
        None => {
            let router = match <[ApiState; 1]>::try_from(states) {
                Ok([one]) => idmsync_http::app_router(one),
                Err(states) => idmsync_http::tenants_router(states),
            };
            servers.spawn(idmsync_http::serve(
                listener,
                idmsync_http::with_console(idmsync_http::with_scim(router, scim), pages),
                tls,
                limits,
                until_stopped(),
            ));
        }
    }

    let mut tasks = Vec::new();
    for tenant in &mut tenants {
        tasks.extend(tenant.start(&until_stopped).await);
    }

    tokio::select! {
        () = shutdown_signal() => info!("shutting down"),
        Some(result) = servers.join_next() => {
            // A server ended on its own: that is an error (its port, its TLS files).
            let _ = stop.send(true);
            result.context("the HTTP server task failed")?.context("the HTTP server stopped")?;
        }
    }
    let _ = stop.send(true);
    while let Some(result) = servers.join_next().await {
        result
            .context("the HTTP server task failed")?
            .context("the HTTP server stopped")?;
    }
    // The schedules and live streams watch the same stop signal (a live stream applies what
    // it received before it stops); a panic there is already logged by tokio.
    for task in tasks {
        let _ = task.await;
    }
    let grace = Duration::from_secs(http.shutdown_grace_secs);
    for tenant in &tenants {
        if !tenant.scheduler.drain(grace).await {
            warn!(
                tenant = %tenant.app.tenant,
                grace_secs = grace.as_secs(),
                "a sync was still running; it is cut off and its transaction rolls back"
            );
        }
    }
    if console.json {
        info!(target: ANNOUNCE, "idmsync stopped");
    } else {
        announce("idmsync stopped");
    }
    Ok(())
}

/// The line that says what is served where: a tenant and its schedules, or the tenants (their
/// schedules in the log).
fn announce_serving(tenants: &[Served], url: &str, console: Console) {
    match tenants {
        [one] => {
            let (tenant, schedules) = (&one.app.tenant, &one.schedules);
            if console.json {
                info!(target: ANNOUNCE, %tenant, %url, %schedules, "idmsync serving");
            } else {
                announce(&format!(
                    "idmsync serving tenant {tenant} on {url} ({schedules})"
                ));
            }
        }
        several => {
            let names = several
                .iter()
                .map(|t| t.app.tenant.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            if console.json {
                info!(target: ANNOUNCE, tenants = %names, %url, "idmsync serving");
            } else {
                announce(&format!("idmsync serving tenants {names} on {url}"));
            }
            for served in several {
                info!(tenant = %served.app.tenant, schedules = %served.schedules, "tenant's schedules");
            }
        }
    }
}

/// The SCIM endpoints' state: the provisioning service over the tenant (its users and groups
/// loaded now) and the tokens.
async fn scim_state(
    app: &App,
    scim: app::Scim,
    served_at: &str,
) -> anyhow::Result<(ScimState, Arc<dyn GuardRelease>)> {
    let base_url = scim.base_url.unwrap_or_else(|| served_at.to_string());
    let provisioning = ProvisioningService::start(
        Arc::new(app.sync_service()?),
        app.store.clone(),
        app.store.clone(),
        Arc::new(SystemClock),
        ProvisioningSettings {
            tenant: app.tenant.clone(),
            base_url: base_url.clone(),
            batch: scim.batch,
            reactivate: app.settings.sync.reactivate,
            max_results: scim.max_results,
            max_deactivations: app.settings.sync.max_deactivations,
            guard_window: scim.guard_window,
        },
    )
    .await
    .context("loading the tenant's users and groups for SCIM")?;
    info!(tenant = %app.tenant, %base_url, batch_ms = scim.batch.as_millis(), "SCIM: identity providers may push to {base_url}");
    let provisioning = Arc::new(provisioning);
    let state = ScimState {
        provisioning: provisioning.clone(),
        tokens: scim.tokens,
        base_url,
        max_results: scim.max_results,
    };
    Ok((state, provisioning))
}

/// A line on stdout. A service whose stdout was closed keeps serving: the line was for
/// whoever started it, and its log still goes to stderr.
fn announce(text: &str) {
    let _ = console::line(text);
}

async fn bind(address: &str, key: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("{key}: cannot listen on {address}"))
}

/// SIGTERM (service managers) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
