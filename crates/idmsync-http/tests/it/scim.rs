//! The SCIM endpoints (`/scim/v2`): bearer tokens, media type, the resource and discovery
//! routes and SCIM error bodies, over a small in-memory `Provisioning` kept here (the shared
//! test doubles get the real one with the provisioning service).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use idmsync_http::{scim_router, ScimState, ScimTokens};
use idmsync_ports::{Provisioning, ScimQuery, ScimWrite};
use idmsync_scim::{patch, Filter, ResourceType, ScimError};
use serde_json::{json, Value};

use crate::{exchange, Reply};

/// The token the tests' provider sends: a canary no answer may contain.
const TOKEN: &str = "scim-canary-7f3a9c";
/// A second configured token (a rotation in progress).
const OTHER_TOKEN: &str = "scim-second-token";
/// The SCIM root the state is configured with.
const BASE: &str = "http://idm.test:8080/scim/v2";
/// `filter.maxResults`.
const MAX: usize = 3;
const SCIM_JSON: &str = "application/scim+json";
const CHALLENGE: &str = r#"Bearer realm="idmsync""#;
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// Users and groups in a map, numbered in creation order; records every call.
#[derive(Default)]
struct FakeProvisioning {
    resources: Mutex<BTreeMap<(&'static str, u64), Value>>,
    next: Mutex<u64>,
    calls: Mutex<Vec<String>>,
    queries: Mutex<Vec<ScimQuery>>,
}

fn key(kind: ResourceType, id: &str) -> Result<(&'static str, u64), ScimError> {
    let n = id
        .parse()
        .map_err(|_| ScimError::not_found("no such resource"))?;
    Ok((kind.name(), n))
}

impl FakeProvisioning {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("lock").clone()
    }

    fn last_query(&self) -> ScimQuery {
        self.queries
            .lock()
            .expect("lock")
            .last()
            .cloned()
            .expect("a query")
    }

    /// `body` stored under `id`, with the `id` and `meta` the service sets.
    fn store(&self, kind: ResourceType, id: u64, mut body: Value) -> Result<Value, ScimError> {
        let map = body
            .as_object_mut()
            .ok_or_else(|| ScimError::invalid_syntax("not an object"))?;
        map.insert("id".into(), json!(id.to_string()));
        map.insert(
            "meta".into(),
            json!({"resourceType": kind.name(), "location": format!("{BASE}{}/{id}", kind.endpoint())}),
        );
        let name = if kind == ResourceType::User {
            "userName"
        } else {
            "displayName"
        };
        let mut resources = self.resources.lock().expect("lock");
        let clash = resources
            .iter()
            .any(|((k, n), r)| *k == kind.name() && *n != id && r[name] == body[name]);
        if clash {
            return Err(ScimError::uniqueness(format!("{name} is taken")));
        }
        resources.insert((kind.name(), id), body.clone());
        Ok(body)
    }
}

#[async_trait]
impl Provisioning for FakeProvisioning {
    async fn write(&self, write: ScimWrite) -> Result<Option<Value>, ScimError> {
        self.calls.lock().expect("lock").push(format!("{write:?}"));
        match write {
            ScimWrite::Create { kind, body } => {
                let id = {
                    let mut next = self.next.lock().expect("lock");
                    *next += 1;
                    *next
                };
                self.store(kind, id, body).map(Some)
            }
            ScimWrite::Replace { kind, id, body } => {
                let (_, n) = key(kind, &id)?;
                self.get(kind, &id).await?;
                self.store(kind, n, body).map(Some)
            }
            ScimWrite::Patch { kind, id, body } => {
                let (_, n) = key(kind, &id)?;
                let mut resource = self.get(kind, &id).await?;
                patch::apply(&mut resource, &patch::parse_request(&body)?, kind)?;
                self.store(kind, n, resource).map(Some)
            }
            ScimWrite::Delete { kind, id } => {
                let key = key(kind, &id)?;
                let removed = self.resources.lock().expect("lock").remove(&key);
                removed
                    .map(|_| None)
                    .ok_or_else(|| ScimError::not_found("no such resource"))
            }
        }
    }

    async fn get(&self, kind: ResourceType, id: &str) -> Result<Value, ScimError> {
        let key = key(kind, id)?;
        let found = self.resources.lock().expect("lock").get(&key).cloned();
        found.ok_or_else(|| ScimError::not_found("no such resource"))
    }

    async fn list(
        &self,
        kind: ResourceType,
        query: &ScimQuery,
    ) -> Result<(Vec<Value>, usize, usize), ScimError> {
        self.queries.lock().expect("lock").push(query.clone());
        let filter = query
            .filter
            .as_deref()
            .map(|f| Filter::parse_for(f, kind))
            .transpose()?;
        let matching: Vec<Value> = self
            .resources
            .lock()
            .expect("lock")
            .iter()
            .filter(|((k, _), r)| {
                *k == kind.name() && filter.as_ref().is_none_or(|f| f.matches(r, kind))
            })
            .map(|(_, r)| r.clone())
            .collect();
        let number = |v: &Option<String>| v.as_deref().and_then(|v| v.parse::<usize>().ok());
        let start = number(&query.start_index).unwrap_or(1);
        let count = number(&query.count).unwrap_or(usize::MAX);
        let page = matching
            .iter()
            .skip(start - 1)
            .take(count)
            .cloned()
            .collect();
        Ok((page, matching.len(), start))
    }
}

fn state(fake: &Arc<FakeProvisioning>) -> ScimState {
    ScimState {
        provisioning: fake.clone(),
        tokens: ScimTokens::new([TOKEN, OTHER_TOKEN]),
        base_url: BASE.to_string(),
        max_results: MAX,
    }
}

fn app() -> (Router, Arc<FakeProvisioning>) {
    let fake = Arc::new(FakeProvisioning::default());
    (scim_router(state(&fake)), fake)
}

impl Reply {
    /// Checks a SCIM error answer: status, media type, body schema and status string.
    fn assert_error(&self, status: StatusCode, scim_type: Option<&str>) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.header("content-type"), Some(SCIM_JSON));
        let body = self.json();
        assert_eq!(body["schemas"], json!([ERROR_SCHEMA]), "{}", self.body);
        assert_eq!(body["status"], status.as_str());
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{}",
            self.body
        );
        assert_eq!(body["scimType"].as_str(), scim_type, "{}", self.body);
    }
}

/// A request with an optional `authorization` header, `content_type` and body. Every answer of
/// every test passes through here, which checks that the token never comes back.
async fn send_raw(
    router: &Router,
    method: Method,
    uri: &str,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(value) = authorization {
        request = request.header(AUTHORIZATION, value);
    }
    if let Some(value) = content_type {
        request = request.header(CONTENT_TYPE, value);
    }
    exchange(
        router,
        request.body(Body::from(body)).expect("request"),
        &[TOKEN, OTHER_TOKEN],
    )
    .await
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

/// An authenticated request, with a `application/scim+json` body when there is one.
async fn send(router: &Router, method: Method, uri: &str, body: Option<Value>) -> Reply {
    let (content_type, bytes) = match body {
        Some(b) => (Some(SCIM_JSON), b.to_string().into_bytes()),
        None => (None, Vec::new()),
    };
    send_raw(router, method, uri, Some(&bearer()), content_type, bytes).await
}

async fn get(router: &Router, uri: &str) -> Reply {
    send(router, Method::GET, uri, None).await
}

fn user(name: &str) -> Value {
    json!({"schemas": [USER_URN], "userName": name, "name": {"givenName": "Barbara", "familyName": "Jensen"}, "active": true})
}

/// Creates a user and answers its id.
async fn create_user(router: &Router, name: &str) -> String {
    let reply = send(router, Method::POST, "/scim/v2/Users", Some(user(name))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.json()["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn without_a_valid_bearer_token_everything_is_401_with_the_challenge() {
    let (app, fake) = app();
    let wrong = format!("Bearer {TOKEN}x");
    let prefix = format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]);
    let basic = format!("Basic {TOKEN}");
    let cases: [Option<&str>; 6] = [
        None,
        Some(&wrong),
        Some(&prefix),
        Some(&basic),
        Some(TOKEN),
        Some("Bearer "),
    ];
    for authorization in cases {
        for (method, uri) in [
            (Method::GET, "/scim/v2/Users"),
            (Method::POST, "/scim/v2/Users"),
            (Method::GET, "/scim/v2/Groups/1"),
            (Method::DELETE, "/scim/v2/Users/1"),
            (Method::GET, "/scim/v2/ServiceProviderConfig"),
            (Method::GET, "/scim/v2/Schemas"),
            (Method::GET, "/scim/v2/ResourceTypes/User"),
            (Method::GET, "/scim/v2/nope"),
            (Method::DELETE, "/scim/v2/Users"),
        ] {
            let reply = send_raw(
                &app,
                method.clone(),
                uri,
                authorization,
                Some(SCIM_JSON),
                user("bjensen").to_string().into_bytes(),
            )
            .await;
            reply.assert_error(StatusCode::UNAUTHORIZED, None);
            assert_eq!(
                reply.header("www-authenticate"),
                Some(CHALLENGE),
                "{authorization:?} {method} {uri}"
            );
        }
    }
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
    assert!(fake.queries.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn every_configured_token_is_accepted_and_the_scheme_is_case_insensitive() {
    let (app, _) = app();
    for authorization in [
        format!("Bearer {TOKEN}"),
        format!("Bearer {OTHER_TOKEN}"),
        format!("bearer {TOKEN}"),
    ] {
        let reply = send_raw(
            &app,
            Method::GET,
            "/scim/v2/Users",
            Some(&authorization),
            None,
            Vec::new(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
}

#[tokio::test]
async fn post_creates_with_201_location_and_the_scim_media_type() {
    let (app, fake) = app();
    let reply = send(&app, Method::POST, "/scim/v2/Users", Some(user("bjensen"))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some(SCIM_JSON));
    let body = reply.json();
    assert_eq!(body["userName"], "bjensen");
    let location = format!("{BASE}/Users/{}", body["id"].as_str().expect("id"));
    assert_eq!(reply.header("location"), Some(location.as_str()));
    assert_eq!(body["meta"]["location"], location.as_str());
    assert_eq!(
        fake.calls(),
        [format!(
            "{:?}",
            ScimWrite::Create {
                kind: ResourceType::User,
                body: user("bjensen")
            }
        )]
    );
}

#[tokio::test]
async fn bodies_are_accepted_as_scim_json_plain_json_or_without_a_media_type() {
    let (app, _) = app();
    for (i, content_type) in [
        Some("application/scim+json"),
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("Application/SCIM+JSON;charset=UTF-8"),
        None,
    ]
    .into_iter()
    .enumerate()
    {
        let reply = send_raw(
            &app,
            Method::POST,
            "/scim/v2/Users",
            Some(&bearer()),
            content_type,
            user(&format!("u{i}")).to_string().into_bytes(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{content_type:?}");
    }
    let reply = send_raw(
        &app,
        Method::POST,
        "/scim/v2/Users",
        Some(&bearer()),
        Some("text/plain"),
        user("x").to_string().into_bytes(),
    )
    .await;
    reply.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, None);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_400_invalid_syntax_and_writes_nothing() {
    let (app, fake) = app();
    for body in [
        &b"{\"userName\": "[..],
        b"not json",
        b"",
        b"  \n",
        b"\xff\xfe",
    ] {
        for (method, uri) in [
            (Method::POST, "/scim/v2/Users"),
            (Method::PUT, "/scim/v2/Users/1"),
            (Method::PATCH, "/scim/v2/Groups/1"),
            (Method::POST, "/scim/v2/Users/.search"),
        ] {
            let reply = send_raw(
                &app,
                method,
                uri,
                Some(&bearer()),
                Some(SCIM_JSON),
                body.to_vec(),
            )
            .await;
            reply.assert_error(StatusCode::BAD_REQUEST, Some("invalidSyntax"));
            assert!(
                !reply.body.contains("not json"),
                "body echoed: {}",
                reply.body
            );
        }
    }
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let (app, fake) = app();
    let mut big = user("big");
    big["title"] = json!("x".repeat(1024 * 1024));
    let reply = send(&app, Method::POST, "/scim/v2/Users", Some(big)).await;
    reply.assert_error(StatusCode::PAYLOAD_TOO_LARGE, None);
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn get_projects_attributes() {
    let (app, _) = app();
    let id = create_user(&app, "bjensen").await;
    let reply = get(&app, &format!("/scim/v2/Users/{id}?attributes=userName")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some(SCIM_JSON));
    assert_eq!(
        reply.json(),
        json!({"schemas": [USER_URN], "id": id, "userName": "bjensen"})
    );

    let full = get(&app, &format!("/scim/v2/Users/{id}")).await.json();
    assert_eq!(full["name"]["givenName"], "Barbara");
    assert_eq!(full["active"], true);
}

#[tokio::test]
async fn a_malformed_attribute_list_is_refused_before_the_write() {
    let (app, fake) = app();
    let reply = send(
        &app,
        Method::POST,
        "/scim/v2/Users?attributes=user%20Name",
        Some(user("bjensen")),
    )
    .await;
    reply.assert_error(StatusCode::BAD_REQUEST, Some("invalidPath"));
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn lists_page_with_start_index_and_count_and_cut_count_to_max_results() {
    let (app, fake) = app();
    let mut ids = Vec::new();
    for name in ["a", "b", "c", "d", "e"] {
        ids.push(create_user(&app, name).await);
    }
    let reply = get(&app, "/scim/v2/Users?startIndex=2&count=2").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some(SCIM_JSON));
    let body = reply.json();
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
    assert_eq!(body["totalResults"], 5);
    assert_eq!(body["startIndex"], 2);
    assert_eq!(body["itemsPerPage"], 2);
    let got: Vec<&str> = body["Resources"]
        .as_array()
        .expect("Resources")
        .iter()
        .map(|r| r["userName"].as_str().expect("userName"))
        .collect();
    assert_eq!(got, ["b", "c"]);
    assert_eq!(
        fake.last_query(),
        ScimQuery {
            filter: None,
            start_index: Some("2".into()),
            count: Some("2".into())
        }
    );

    // No count, or one above maxResults: maxResults.
    for uri in ["/scim/v2/Users", "/scim/v2/Users?count=1000"] {
        let body = get(&app, uri).await.json();
        assert_eq!(body["itemsPerPage"], MAX, "{uri}");
        assert_eq!(body["totalResults"], 5);
        assert_eq!(fake.last_query().count.as_deref(), Some("3"));
    }

    let reply = get(&app, "/scim/v2/Users?count=many").await;
    reply.assert_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
}

#[tokio::test]
async fn filters_and_projections_apply_to_lists() {
    let (app, fake) = app();
    create_user(&app, "bjensen").await;
    create_user(&app, "jsmith").await;
    let reply = get(
        &app,
        "/scim/v2/Users?filter=userName%20eq%20%22BJENSEN%22&attributes=userName",
    )
    .await;
    let body = reply.json();
    assert_eq!(body["totalResults"], 1, "{}", reply.body);
    assert_eq!(body["Resources"][0]["userName"], "bjensen");
    assert!(body["Resources"][0].get("name").is_none());
    assert_eq!(
        fake.last_query().filter.as_deref(),
        Some(r#"userName eq "BJENSEN""#)
    );

    let reply = get(&app, "/scim/v2/Users?filter=userName%20zz").await;
    reply.assert_error(StatusCode::BAD_REQUEST, Some("invalidFilter"));
}

#[tokio::test]
async fn groups_without_members_on_request() {
    let (app, _) = app();
    let member = create_user(&app, "bjensen").await;
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Admins",
        "members": [{"value": member}]
    });
    let reply = send(&app, Method::POST, "/scim/v2/Groups", Some(group)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let id = reply.json()["id"].as_str().expect("id").to_string();
    assert_eq!(reply.json()["members"][0]["value"], member.as_str());

    let one = get(
        &app,
        &format!("/scim/v2/Groups/{id}?excludedAttributes=members"),
    )
    .await
    .json();
    assert_eq!(one["displayName"], "Admins");
    assert_eq!(one["id"], id.as_str());
    assert!(one.get("members").is_none(), "{one}");

    let list = get(&app, "/scim/v2/Groups?excludedAttributes=members")
        .await
        .json();
    assert_eq!(list["totalResults"], 1);
    assert_eq!(list["Resources"][0]["displayName"], "Admins");
    assert!(list["Resources"][0].get("members").is_none(), "{list}");

    let list = get(&app, "/scim/v2/Groups").await.json();
    assert_eq!(list["Resources"][0]["members"][0]["value"], member.as_str());
}

#[tokio::test]
async fn put_and_patch_answer_200_with_the_resource_and_delete_204() {
    let (app, fake) = app();
    let id = create_user(&app, "bjensen").await;
    let uri = format!("/scim/v2/Users/{id}");

    let mut replaced = user("bjensen");
    replaced["active"] = json!(false);
    let reply = send(&app, Method::PUT, &uri, Some(replaced)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some(SCIM_JSON));
    assert_eq!(reply.json()["active"], false);

    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "userName", "value": "barbara"}]
    });
    let reply = send(
        &app,
        Method::PATCH,
        &format!("{uri}?attributes=userName"),
        Some(patch),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!({"schemas": [USER_URN], "id": id, "userName": "barbara"})
    );

    let reply = send(&app, Method::DELETE, &uri, None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(reply.body.is_empty());
    get(&app, &uri)
        .await
        .assert_error(StatusCode::NOT_FOUND, None);
    send(&app, Method::DELETE, &uri, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, None);
    let kinds: Vec<String> = fake
        .calls()
        .iter()
        .map(|c| c.split_whitespace().next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(kinds, ["Create", "Replace", "Patch", "Delete", "Delete"]);
}

#[tokio::test]
async fn service_errors_keep_their_status_and_scim_type() {
    let (app, _) = app();
    create_user(&app, "bjensen").await;
    let reply = send(&app, Method::POST, "/scim/v2/Users", Some(user("bjensen"))).await;
    reply.assert_error(StatusCode::CONFLICT, Some("uniqueness"));
    let reply = send(&app, Method::POST, "/scim/v2/Users", Some(json!([1, 2]))).await;
    reply.assert_error(StatusCode::BAD_REQUEST, Some("invalidSyntax"));
}

#[tokio::test]
async fn search_takes_its_parameters_from_the_body() {
    let (app, fake) = app();
    for name in ["a", "b", "c"] {
        create_user(&app, name).await;
    }
    let search = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "userName ne \"a\"",
        "startIndex": 1,
        "count": 1,
        "attributes": ["userName"]
    });
    let reply = send(&app, Method::POST, "/scim/v2/Users/.search", Some(search)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["totalResults"], 2);
    assert_eq!(body["itemsPerPage"], 1);
    assert_eq!(body["Resources"][0]["userName"], "b");
    assert!(body["Resources"][0].get("active").is_none());
    assert_eq!(
        fake.last_query(),
        ScimQuery {
            filter: Some("userName ne \"a\"".into()),
            start_index: Some("1".into()),
            count: Some("1".into())
        }
    );
    let reply = send(
        &app,
        Method::POST,
        "/scim/v2/Groups/.search",
        Some(json!({"filter": 3})),
    )
    .await;
    reply.assert_error(StatusCode::BAD_REQUEST, Some("invalidSyntax"));
}

#[tokio::test]
async fn unknown_paths_are_scim_404_and_wrong_methods_scim_405() {
    let (app, fake) = app();
    for uri in [
        "/scim/v2/nope",
        "/scim/v2",
        "/scim/v2/Users/1/extra",
        "/scim/v2/Users/42",
        "/scim/v2/Groups/not-a-number",
        "/scim/v2/ResourceTypes/Nope",
        "/scim/v2/Schemas/urn:nope",
    ] {
        get(&app, uri)
            .await
            .assert_error(StatusCode::NOT_FOUND, None);
    }
    for (method, uri) in [
        (Method::DELETE, "/scim/v2/Users"),
        (Method::PUT, "/scim/v2/Groups"),
        (Method::POST, "/scim/v2/Users/1"),
        (Method::POST, "/scim/v2/Schemas"),
        (Method::DELETE, "/scim/v2/ServiceProviderConfig"),
        (Method::GET, "/scim/v2/Users/.search"),
    ] {
        let reply = send(&app, method, uri, None).await;
        reply.assert_error(StatusCode::METHOD_NOT_ALLOWED, None);
        assert!(reply.header("allow").is_some(), "{uri}: no Allow header");
    }
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn discovery_documents_are_served() {
    let (app, _) = app();
    let config = get(&app, "/scim/v2/ServiceProviderConfig").await;
    assert_eq!(config.status, StatusCode::OK);
    assert_eq!(config.header("content-type"), Some(SCIM_JSON));
    let config = config.json();
    assert_eq!(config["filter"]["maxResults"], MAX);
    assert_eq!(config["patch"]["supported"], true);
    assert_eq!(config["etag"]["supported"], false);
    assert_eq!(
        config["meta"]["location"],
        format!("{BASE}/ServiceProviderConfig")
    );

    let types = get(&app, "/scim/v2/ResourceTypes").await.json();
    assert_eq!(types["totalResults"], 2);
    assert_eq!(types["Resources"][0]["endpoint"], "/Users");
    assert_eq!(types["Resources"][1]["endpoint"], "/Groups");
    let group = get(&app, "/scim/v2/ResourceTypes/Group").await.json();
    assert_eq!(
        group["meta"]["location"],
        format!("{BASE}/ResourceTypes/Group")
    );

    let schemas = get(&app, "/scim/v2/Schemas").await.json();
    assert_eq!(schemas["totalResults"], 2);
    assert_eq!(schemas["Resources"][0]["id"], USER_URN);
    let one = get(&app, &format!("/scim/v2/Schemas/{USER_URN}")).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_eq!(one.json()["id"], USER_URN);
    assert_eq!(
        one.json()["meta"]["location"],
        format!("{BASE}/Schemas/{USER_URN}")
    );
}

#[tokio::test]
async fn the_scim_router_merges_into_the_app_router() {
    let fake = Arc::new(FakeProvisioning::default());
    let api = Arc::new(crate::Fake::default());
    let app = idmsync_http::app_router(crate::state(&api)).merge(scim_router(state(&fake)));
    assert_eq!(get(&app, "/scim/v2/Users").await.status, StatusCode::OK);
    get(&app, "/scim/v2/nope")
        .await
        .assert_error(StatusCode::NOT_FOUND, None);
    // The SCIM token opens nothing of the REST API, and its 404s stay the API's own.
    let reply = get(&app, "/api/enterprise/users").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.header("www-authenticate"),
        Some(r#"Basic realm="idmsync""#)
    );
    let reply = get(&app, "/nope").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.header("content-type"), Some("application/json"));
}

#[test]
fn the_token_list_debugs_as_a_count() {
    assert_eq!(
        format!("{:?}", ScimTokens::new([TOKEN, OTHER_TOKEN])),
        "ScimTokens { count: 2 }"
    );
}
