//! `idmsync serve`: the long-running service. Wires the scheduler and the REST API over the
//! configured adapters, syncs on boot, runs the schedules, and shuts down gracefully.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use idmsync_http::{ApiState, ScimState, SCIM_PREFIX};
use idmsync_ports::{GuardRelease, SystemClock};
use idmsync_provision::{ProvisioningService, ProvisioningSettings};
use idmsync_scheduler::{Scheduler, SchedulerPorts};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::app::{self, App};
use crate::check;
use crate::console::{self, Console};
use crate::logging::ANNOUNCE;
use crate::settings::SettingsError;

/// Runs until SIGTERM or SIGINT; a running sync gets `http.shutdown_grace_secs` to finish.
///
/// What it is serving, and that it stopped, are lines on stdout, or `info` events of the
/// [`ANNOUNCE`] target with `--log-format json`.
pub async fn serve(app: App, console: Console) -> anyhow::Result<()> {
    let schedules = app::schedules(&app.settings)?;
    let live = app::live(&app.settings)?;
    let scim = app::scim(&app.settings)?;
    let tls = app::tls_files(&app.settings)?;
    let http = &app.settings.http;

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
    let mut state = ApiState {
        tenant: app.tenant.clone(),
        runs: app.store.clone(),
        directory: app.store.clone(),
        auth: app.authenticator()?,
        trigger: Arc::new(scheduler.clone()),
        readiness: Arc::new(scheduler.clone()),
        metrics: Arc::new(scheduler.clone()),
        scim_guard: None,
    };

    // The checks of `idmsync config check` that `App::open` has not made: the TLS files
    // (fatal, as in every handshake) and the source (a warning: the boot sync retries).
    if let Some(files) = &tls {
        idmsync_http::check_tls_files(files)
            .await
            .map_err(|e| SettingsError(format!("http.tls_cert / http.tls_key: {e}")))?;
    }
    let follows = app.settings.sync.live;
    match check::check_source(app::source(&app.settings)?.as_ref(), follows).await {
        Ok(found) => info!("source checked: {found}"),
        Err(reason) => warn!(
            %reason,
            "the source check failed; the boot sync retries until the source answers"
        ),
    }

    let listener = bind(&http.listen, "http.listen").await?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!(
        "{scheme}://{}",
        listener
            .local_addr()
            .context("reading the listening address")?
    );
    let pushed = scim.is_some();
    let scim = match scim {
        Some(scim) => {
            let (scim, guard) = scim_state(&app, scim, &url).await?;
            state.scim_guard = Some(guard);
            Some(scim)
        }
        None => None,
    };

    if console.json {
        info!(target: ANNOUNCE, tenant = %app.tenant, %url, %schedules, "idmsync serving");
    } else {
        announce(&format!(
            "idmsync serving tenant {} on {url} ({schedules})",
            app.tenant
        ));
    }
    let (stop, stopped) = watch::channel(false);
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            // An error means the sender is gone, which is a stop too.
            let _ = stopped.wait_for(|s| *s).await;
        }
    };

    // The operator's console shares the API's listener and ports (`http.console`).
    let pages = http.console.then(|| {
        let idle = Duration::from_secs(60 * http.console_idle_mins.max(1));
        idmsync_http::ConsoleState::new(state.clone(), tls.is_some(), idle)
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
            servers.spawn(idmsync_http::serve(
                listener,
                idmsync_http::with_console(
                    idmsync_http::with_scim(idmsync_http::api_router(state.clone()), scim),
                    pages,
                ),
                tls,
                limits,
                until_stopped(),
            ));
            servers.spawn(idmsync_http::serve(
                ops,
                idmsync_http::ops_router(state),
                None,
                limits,
                until_stopped(),
            ));
        }
        None => {
            servers.spawn(idmsync_http::serve(
                listener,
                idmsync_http::with_console(
                    idmsync_http::with_scim(idmsync_http::app_router(state), scim),
                    pages,
                ),
                tls,
                limits,
                until_stopped(),
            ));
        }
    }

    if pushed {
        scheduler.without_boot_sync();
    } else if let Err(e) = scheduler.boot().await {
        warn!(error = %e, "the boot sync could not start; it is retried, and the service stays not ready until a full sync succeeds");
    }
    let schedules_task = {
        let scheduler = scheduler.clone();
        let until = until_stopped();
        tokio::spawn(async move { scheduler.run_schedules(until).await })
    };
    let live_task = live.map(|(feed, batching)| {
        info!(
            batch_ms = batching.batch.as_millis(),
            "live sync: following the source's changes"
        );
        let scheduler = scheduler.clone();
        let until = until_stopped();
        tokio::spawn(async move { scheduler.run_live(feed.as_ref(), batching, until).await })
    });

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
    // Its loop watches the same stop signal; a panic there is already logged by tokio.
    let _ = schedules_task.await;
    if let Some(task) = live_task {
        // It applies what it received before it stops; a panic there is already logged.
        let _ = task.await;
    }
    let grace = Duration::from_secs(http.shutdown_grace_secs);
    if !scheduler.drain(grace).await {
        warn!(
            grace_secs = grace.as_secs(),
            "a sync was still running; it is cut off and its transaction rolls back"
        );
    }
    if console.json {
        info!(target: ANNOUNCE, "idmsync stopped");
    } else {
        announce("idmsync stopped");
    }
    Ok(())
}

/// The SCIM endpoints' state: the provisioning service over the tenant (its users and groups
/// loaded now) and the tokens.
async fn scim_state(
    app: &App,
    scim: app::Scim,
    url: &str,
) -> anyhow::Result<(ScimState, Arc<dyn GuardRelease>)> {
    let base_url = scim
        .base_url
        .unwrap_or_else(|| format!("{url}{SCIM_PREFIX}"));
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
    info!(%base_url, batch_ms = scim.batch.as_millis(), "SCIM: identity providers may push to {base_url}");
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
