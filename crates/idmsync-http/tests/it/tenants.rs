//! Several tenants on one router: `tenantId` picks the tenant, whose own router then
//! authenticates that tenant's administrators only; readiness is every tenant's.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::*;

/// An authenticator that knows one administrator per tenant, `admin-TENANT`, as the login
/// service over a store shared by several tenants does.
struct PerTenant;

#[async_trait]
impl Authenticator for PerTenant {
    async fn authenticate(
        &self,
        tenant: &Tenant,
        login: &str,
        password: &Password,
    ) -> Result<Principal, AuthError> {
        let admin = login == format!("admin-{tenant}");
        // `boss` is an ordinary user of tenant `a`, which names it a manager.
        let boss = login == "boss" && tenant.as_str() == "a";
        if (admin || boss) && password.expose() == CANARY {
            Ok(Principal {
                external_id: login.to_string(),
                admin,
            })
        } else {
            Err(AuthError::Rejected)
        }
    }
}

/// Tenants `a` (one run) and `b` (two runs) over one store; `b` not ready when `b_ready` is
/// false.
fn two_tenants(b_ready: bool) -> Router {
    idmsync_http::tenants_router(two_states(b_ready))
}

/// The API states of [`two_tenants`].
pub(crate) fn two_states(b_ready: bool) -> Vec<ApiState> {
    let store = Fake::default().store;
    let a = Tenant::new("a").expect("tenant");
    let b = Tenant::new("b").expect("tenant");
    for tenant in [&a, &b, &b] {
        store.seed_run(RunRecord {
            tenant: tenant.clone(),
            ..run(SyncMode::Full, Outcome::Succeeded)
        });
    }
    [
        (a, None),
        (b, (!b_ready).then(|| "b's database down".to_string())),
    ]
    .into_iter()
    .map(|(tenant, not_ready)| {
        let fake = Arc::new(Fake {
            store: store.clone(),
            not_ready,
            ..Fake::default()
        });
        ApiState {
            tenant,
            auth: Arc::new(PerTenant),
            managers: idmsync_http::Managers::new(vec![(
                Tenant::new("a").expect("tenant"),
                vec!["boss".to_string()],
            )]),
            ..state(&fake)
        }
    })
    .collect()
}

fn admin_of(tenant: &str) -> Option<HeaderValue> {
    Some(HeaderValue::from_str(&basic(&format!("admin-{tenant}"), CANARY)).expect("header"))
}

async fn runs_of(router: &Router, uri: &str, tenant: &str) -> Reply {
    send(router, Method::GET, uri, admin_of(tenant)).await
}

#[tokio::test]
async fn tenant_id_picks_the_tenant_and_its_run_log() {
    let router = two_tenants(true);
    for (tenant, runs) in [("a", 1), ("b", 2)] {
        let uri = format!("/api/enterprise/idm-sync-log-entries?tenantId={tenant}");
        let reply = runs_of(&router, &uri, tenant).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.json()["total"], runs, "{}", reply.body);
    }
}

#[tokio::test]
async fn without_tenant_id_the_answer_is_400_naming_no_tenant() {
    let router = two_tenants(true);
    for uri in [
        "/api/enterprise/idm-sync-log-entries",
        "/api/enterprise",
        "/metrics",
    ] {
        let reply = runs_of(&router, uri, "a").await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(
            reply.message(),
            "this service serves several tenants: add tenantId=NAME"
        );
    }
}

#[tokio::test]
async fn an_unknown_tenant_is_404() {
    let router = two_tenants(true);
    let reply = runs_of(&router, "/api/enterprise/users?tenantId=c", "a").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.message(), "no tenant c");
}

#[tokio::test]
async fn one_tenants_admin_is_a_stranger_to_the_other() {
    let router = two_tenants(true);
    let reply = runs_of(
        &router,
        "/api/enterprise/idm-sync-log-entries?tenantId=b",
        "a",
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    let reply = send(
        &router,
        Method::GET,
        "/api/enterprise/users?tenantId=a",
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn metrics_are_a_tenants_and_liveness_is_the_process() {
    let router = two_tenants(false);
    let reply = send(&router, Method::GET, "/metrics?tenantId=b", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "idmsync_up 1\n");
    let reply = send(&router, Method::GET, "/health/live", None).await;
    assert_eq!(reply.json(), json!({"status": "up"}));
    let reply = send(&router, Method::GET, "/nope", None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn ready_only_when_every_tenant_is() {
    let reply = send(&two_tenants(true), Method::GET, "/health/ready", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({"status": "ready"}));

    let reply = send(&two_tenants(false), Method::GET, "/health/ready", None).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.json()["notReady"], json!(["b"]));
    assert!(!reply.body.contains("database down"), "{}", reply.body);
}

#[tokio::test]
async fn a_tenant_manager_uses_every_tenants_api_and_nobody_else_does() {
    let router = two_tenants(true);
    let boss = Some(HeaderValue::from_str(&basic("boss", CANARY)).expect("header"));
    for (tenant, runs) in [("a", 1), ("b", 2)] {
        let uri = format!("/api/enterprise/idm-sync-log-entries?tenantId={tenant}");
        let reply = send(&router, Method::GET, &uri, boss.clone()).await;
        assert_eq!(reply.status, StatusCode::OK, "{tenant}: {}", reply.body);
        assert_eq!(reply.json()["total"], runs);
    }
    let wrong = Some(HeaderValue::from_str(&basic("boss", "wrong")).expect("header"));
    let reply = send(
        &router,
        Method::GET,
        "/api/enterprise/idm-sync-log-entries?tenantId=b",
        wrong,
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = runs_of(
        &router,
        "/api/enterprise/idm-sync-log-entries?tenantId=b",
        "a",
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "a's admin is no manager"
    );
}
