//! Whole provisioning sessions shaped like Microsoft Entra ID's and Okta's (their request
//! shapes, their order, several requests in flight so that batches form), 1,000 users and 50
//! groups each, against the real `idmsync serve` on SQLite; then what operators see
//! (`users list`, `groups list`, `log list`, `log show`) is checked against a model of what the
//! session did.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::scim::{scim, TOKEN};
use crate::serve::Server;
use crate::support::Sandbox;

const USERS: usize = 1_000;
const GROUPS: usize = 50;
/// Requests in flight at once, as a provider's provisioning job sends them.
const WORKERS: usize = 8;

const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A SCIM tenant whose administrator is `admin` and whose guard lets a session's
/// deactivations through.
fn sandbox(admin: &str) -> Sandbox {
    let s = Sandbox::with_config(&format!(
        "[database]\nurl = \"sqlite://{{dir}}/data/idmsync.db\"\n\n\
         [sync]\nadmins = [\"{admin}\"]\nmax_deactivations = {USERS}\n\n\
         [source]\ntype = \"scim\"\n\n[source.scim]\ntoken_file = \"{{dir}}/scim-tokens\"\n\n\
         [auth]\npassword_key_file = \"{{dir}}/data/password.key\"\n\n\
         [http]\nlisten = \"127.0.0.1:0\"\nshutdown_grace_secs = 1\n"
    ));
    s.write("scim-tokens", &format!("{TOKEN}\n"));
    s
}

/// Runs `work` on every item from `WORKERS` threads; the answers in the items' order. The first
/// item is done alone, before the others start: a session's first user is the tenant's
/// administrator, and a batch committed before they exist rightly warns that
/// `sync.admins` matches nobody (under load, one of the others could otherwise come first).
fn parallel<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(1);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    if let Some(first) = items.first() {
        let result = work(first);
        results.lock().expect("results")[0] = Some(result);
    }
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let result = work(item);
                results.lock().expect("results")[i] = Some(result);
            });
        }
    });
    results
        .into_inner()
        .expect("results")
        .into_iter()
        .map(|r| r.expect("every item done"))
        .collect()
}

/// `attribute eq "value"` as a query parameter, percent-encoded as providers send it.
fn eq_filter(attribute: &str, value: &str) -> String {
    let mut encoded = String::new();
    for b in format!("{attribute} eq \"{value}\"").bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("filter={encoded}")
}

/// A `PatchOp` message with `operations`.
fn patch(operations: Value) -> Option<Value> {
    Some(json!({"schemas": [PATCH_URN], "Operations": operations}))
}

/// A write every provider treats as done: 200 with the resource or 204.
#[track_caller]
fn assert_done(what: &str, (status, body): (StatusCode, Value)) {
    assert!(
        status == StatusCode::OK || status == StatusCode::NO_CONTENT,
        "{what}: {status} {body}"
    );
}

/// A random-looking GUID, as Entra's connection test queries.
fn guid() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let hex = format!("{:032x}", nanos ^ (u128::from(std::process::id()) << 64));
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// What the session should leave: users by index, groups by index.
#[derive(Default)]
struct Model {
    users: Vec<ModelUser>,
    groups: Vec<ModelGroup>,
    /// The changes the session made, by the name `log list` gives their count.
    counts: BTreeMap<&'static str, u64>,
    /// Write requests sent (POST, PUT, PATCH, DELETE).
    writes: usize,
}

#[derive(Clone)]
struct ModelUser {
    id: String,
    login: String,
    first: String,
    last: String,
    email: String,
    active: bool,
}

struct ModelGroup {
    id: String,
    name: String,
    active: bool,
    members: BTreeSet<usize>,
}

impl Model {
    /// Takes in the users the session created (the first of them the administrator) with what
    /// their creation counts, and returns their ids.
    fn created(&mut self, users: Vec<ModelUser>) -> Vec<String> {
        self.users = users;
        self.count("users_created", USERS);
        self.count("admins_granted", 1);
        self.writes += USERS;
        self.ids()
    }

    fn count(&mut self, what: &'static str, n: usize) {
        *self.counts.entry(what).or_default() += n as u64;
    }

    /// A deleted user leaves its groups.
    fn delete_user(&mut self, i: usize) {
        self.users[i].active = false;
        let mut left = 0;
        for g in &mut self.groups {
            left += usize::from(g.members.remove(&i));
        }
        self.count("users_deactivated", 1);
        self.count("memberships_removed", left);
    }

    fn expected_users(&self) -> Vec<Value> {
        self.users
            .iter()
            .enumerate()
            .map(|(i, u)| {
                json!({"external_id": u.login, "first_name": u.first, "last_name": u.last,
                       "email": u.email, "status": if u.active { "active" } else { "inactive" },
                       "admin": i == 0})
            })
            .collect()
    }

    fn expected_groups(&self) -> Vec<Value> {
        let mut groups: Vec<Value> = self
            .groups
            .iter()
            .map(|g| {
                // `groups list` shows the active members; inactive ones stay members.
                let mut members: Vec<&str> = g
                    .members
                    .iter()
                    .filter(|&&i| self.users[i].active)
                    .map(|&i| self.users[i].login.as_str())
                    .collect();
                members.sort_unstable();
                json!({"external_id": g.name, "name": g.name,
                       "status": if g.active { "active" } else { "inactive" },
                       "members": members, "child_groups": []})
            })
            .collect();
        groups.sort_by(|a, b| a["external_id"].as_str().cmp(&b["external_id"].as_str()));
        groups
    }

    /// Every user's SCIM `id`, by index.
    fn ids(&self) -> Vec<String> {
        self.users.iter().map(|u| u.id.clone()).collect()
    }
}

/// The listed fields of `users list --format json`, sorted by login.
fn listed_users(s: &Sandbox) -> Vec<Value> {
    let mut users: Vec<Value> = s
        .users()
        .as_array()
        .expect("users")
        .iter()
        .map(|u| {
            json!({"external_id": u["external_id"], "first_name": u["first_name"],
                   "last_name": u["last_name"], "email": u["email"], "status": u["status"],
                   "admin": u["admin"]})
        })
        .collect();
    users.sort_by(|a, b| a["external_id"].as_str().cmp(&b["external_id"].as_str()));
    users
}

/// What operators see after the session, with the service stopped, against `model`.
fn assert_operators_see(s: &Sandbox, model: &Model) {
    let mut expected = model.expected_users();
    expected.sort_by(|a, b| a["external_id"].as_str().cmp(&b["external_id"].as_str()));
    let users = listed_users(s);
    assert_eq!(users.len(), expected.len());
    for (got, want) in users.iter().zip(&expected) {
        assert_eq!(got, want);
    }

    let mut groups = s.groups().as_array().expect("groups").clone();
    groups.sort_by(|a, b| a["external_id"].as_str().cmp(&b["external_id"].as_str()));
    for g in &mut groups {
        if let Some(members) = g["members"].as_array_mut() {
            members.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
    }
    let expected = model.expected_groups();
    assert_eq!(groups.len(), expected.len(), "{groups:#?}");
    for (got, want) in groups.iter().zip(&expected) {
        assert_eq!(got, want);
    }

    // Every run: `log list` shows the newest 50 unless told.
    let runs: Value = serde_json::from_str(
        &s.idmsync(&["log", "list", "--format", "json", "--limit", "1000000"])
            .ok(),
    )
    .expect("runs json");
    let runs = runs.as_array().expect("runs");
    let mut sum: BTreeMap<String, u64> = BTreeMap::new();
    for run in runs {
        assert_eq!(run["type"], "scim", "{run}");
        assert_eq!(run["trigger"], "scim", "{run}");
        assert_eq!(run["outcome"], "succeeded", "{run}");
        for (name, n) in run["counts"].as_object().expect("counts") {
            *sum.entry(name.clone()).or_default() += n.as_u64().expect("a count");
        }
    }
    for (name, n) in &sum {
        let want = model.counts.get(name.as_str()).copied().unwrap_or(0);
        assert_eq!(
            *n, want,
            "{name} over all runs: {sum:?}, expected {:?}",
            model.counts
        );
    }
    for name in model.counts.keys() {
        assert!(sum.contains_key(*name), "{name} in {sum:?}");
    }
    // Requests shared batches: fewer runs than writes.
    eprintln!("{} runs for {} writes", runs.len(), model.writes);
    assert!(
        runs.len() < model.writes,
        "{} runs for {} writes",
        runs.len(),
        model.writes
    );

    // One log line per change, of the kind counted: the runs that made the most of each kind
    // of change.
    let mut shown = BTreeSet::new();
    for (count, _) in LINES {
        let busiest = runs
            .iter()
            .max_by_key(|r| r["counts"][count].as_u64())
            .expect("a run");
        if busiest["counts"][count].as_u64() > Some(0) {
            shown.insert(busiest["id"].as_i64().expect("run id"));
        }
    }
    assert!(shown.len() >= 2, "{shown:?}");
    for id in shown {
        let run = runs.iter().find(|r| r["id"] == id).expect("the run");
        let lines = s.log(id);
        let changes: u64 = run["counts"]
            .as_object()
            .expect("counts")
            .values()
            .filter_map(Value::as_u64)
            .sum();
        assert_eq!(lines.len() as u64, changes, "{run}: {lines:#?}");
        for (count, event) in LINES {
            let logged = lines
                .iter()
                .filter(|l| l.starts_with(&format!("{event}: ")))
                .count() as u64;
            assert_eq!(
                Some(logged),
                run["counts"][count].as_u64(),
                "{count} in {run}"
            );
        }
        for line in lines.iter().filter(|l| l.starts_with("created-user: ")) {
            let login = line["created-user: ".len()..]
                .split(' ')
                .next()
                .expect("login");
            assert!(
                model.users.iter().any(|u| u.login == login),
                "{line} names a pushed user"
            );
        }
    }
}

/// The counts of `log list` and the event of the `log show` lines each counts.
const LINES: [(&str, &str); 11] = [
    ("users_created", "created-user"),
    ("users_updated", "updated-user"),
    ("users_deactivated", "deactivated-user"),
    ("users_reactivated", "reactivated-user"),
    ("groups_created", "created-group"),
    ("groups_updated", "updated-group"),
    ("groups_deactivated", "deactivated-group"),
    ("memberships_added", "added-user-to-group"),
    ("memberships_removed", "removed-user-from-group"),
    ("admins_granted", "added-capability"),
    ("admins_revoked", "removed-capability"),
];

/// Every active group's members as SCIM shows them (inactive users included) are the model's.
fn assert_scim_members(server: &Server, model: &Model) {
    let groups: Vec<&ModelGroup> = model.groups.iter().filter(|g| g.active).collect();
    parallel(&groups, |g| {
        let (status, group) = scim(server, Method::GET, &format!("/Groups/{}", g.id), None);
        assert_eq!(status, StatusCode::OK, "{group}");
        assert_eq!(group["displayName"], g.name.as_str());
        let members: BTreeSet<&str> = group["members"]
            .as_array()
            .expect("members")
            .iter()
            .map(|m| m["value"].as_str().expect("a member's id"))
            .collect();
        let want: BTreeSet<&str> = g
            .members
            .iter()
            .map(|&i| model.users[i].id.as_str())
            .collect();
        assert_eq!(members, want, "{}", g.name);
    });
}

/// The SCIM view of `login`: its resources when filtered by `userName`.
fn find_user(server: &Server, login: &str, okta: bool) -> Value {
    let paging = if okta { "&startIndex=1&count=100" } else { "" };
    let (status, body) = scim(
        server,
        Method::GET,
        &format!("/Users?{}{paging}", eq_filter("userName", login)),
        None,
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[test]
fn an_entra_id_provisioning_session_of_1000_users_and_50_groups() {
    let started = Instant::now();
    let s = sandbox("user0000@contoso.com");
    let server = Server::start(&s);
    server.wait_ready();
    let mut model = Model::default();

    // "Test Connection": a random userName.
    let found = find_user(&server, &guid(), false);
    assert_eq!(found["totalResults"], 0, "{found}");

    // Users: a query by userName, then the create, Entra's body.
    let indexes: Vec<usize> = (0..USERS).collect();
    let users = parallel(&indexes, |&i| {
        let login = format!("user{i:04}@contoso.com");
        let found = find_user(&server, &login, false);
        assert_eq!(found["totalResults"], 0, "{login}: {found}");
        let (first, last) = (format!("Given{i:04}"), format!("Family{i:04}"));
        let email = format!("given{i:04}.family@mail.contoso.com");
        let (status, created) = scim(
            &server,
            Method::POST,
            "/Users",
            Some(json!({
                "schemas": [USER_URN, ENTERPRISE_URN],
                "externalId": format!("user{i:04}"),
                "userName": login,
                "active": true,
                "displayName": format!("{first} {last}"),
                "emails": [{"primary": true, "type": "work", "value": email}],
                "meta": {"resourceType": "User"},
                "name": {"formatted": format!("{first} {last}"), "familyName": last,
                         "givenName": first},
                "roles": [],
                ENTERPRISE_URN: {"department": format!("Department {}", i % 7),
                                 "employeeNumber": format!("{}", 10_000 + i)},
            })),
        );
        assert_eq!(status, StatusCode::CREATED, "{login}: {created}");
        assert_eq!(created["userName"], login.as_str());
        assert_eq!(created["active"], true);
        ModelUser {
            id: created["id"].as_str().expect("id").to_string(),
            login,
            first,
            last,
            email,
            active: true,
        }
    });
    let ids = model.created(users);

    // Groups: a query by displayName without members, the create without members, then the
    // members in PATCHes of 10.
    let groups: Vec<usize> = (0..GROUPS).collect();
    let gids = parallel(&groups, |&g| {
        let name = format!("Entra Group {g:02}");
        let (status, found) = scim(
            &server,
            Method::GET,
            &format!(
                "/Groups?{}&excludedAttributes=members",
                eq_filter("displayName", &name)
            ),
            None,
        );
        assert_eq!(
            (status, &found["totalResults"]),
            (StatusCode::OK, &json!(0))
        );
        let (status, created) = scim(
            &server,
            Method::POST,
            "/Groups",
            Some(json!({
                "schemas": [GROUP_URN],
                "externalId": format!("8d5f{g:04}-0000-4000-8000-00000000e17a"),
                "displayName": name,
                "meta": {"resourceType": "Group"},
            })),
        );
        assert_eq!(status, StatusCode::CREATED, "{name}: {created}");
        created["id"].as_str().expect("id").to_string()
    });
    model.writes += GROUPS;
    model.count("groups_created", GROUPS);
    for (g, id) in gids.iter().enumerate() {
        model.groups.push(ModelGroup {
            id: id.clone(),
            name: format!("Entra Group {g:02}"),
            active: true,
            members: BTreeSet::new(),
        });
    }
    // Group g gets the users i with i % 50 == g.
    let additions: Vec<(usize, Vec<usize>)> = (0..GROUPS)
        .flat_map(|g| {
            let members: Vec<usize> = (g..USERS).step_by(GROUPS).collect();
            members
                .chunks(10)
                .map(|c| (g, c.to_vec()))
                .collect::<Vec<_>>()
        })
        .collect();
    parallel(&additions, |(g, members)| {
        let value: Vec<Value> = members.iter().map(|&i| json!({"value": ids[i]})).collect();
        let answer = scim(
            &server,
            Method::PATCH,
            &format!("/Groups/{}", gids[*g]),
            patch(json!([{"op": "Add", "path": "members", "value": value}])),
        );
        assert_done("adding members", answer);
    });
    model.writes += additions.len();
    for (g, members) in &additions {
        model.groups[*g].members.extend(members);
        model.count("memberships_added", members.len());
    }

    // Updates: a path, and path-less with dotted keys plus the work e-mail by value path
    // (with the value path as a key instead: `entra_path_less_replace_with_a_value_path_key`).
    let updated: Vec<usize> = (0..USERS).filter(|i| matches!(i % 10, 1 | 2)).collect();
    parallel(&updated, |&i| {
        let operations = if i % 10 == 1 {
            json!([
                {"op": "Replace", "path": "name.givenName", "value": format!("Renamed{i:04}")},
                {"op": "Replace", "path": "displayName", "value": format!("Renamed{i:04} Family{i:04}")},
            ])
        } else {
            json!([
                {"op": "Replace", "value": {"name.familyName": format!("Moved{i:04}"),
                                            "displayName": format!("Given{i:04} Moved{i:04}")}},
                {"op": "Replace", "path": "emails[type eq \"work\"].value",
                 "value": format!("moved{i:04}@mail.contoso.com")},
            ])
        };
        let answer = scim(
            &server,
            Method::PATCH,
            &format!("/Users/{}", ids[i]),
            patch(operations),
        );
        assert_done("updating a user", answer);
    });
    model.writes += updated.len();
    for &i in &updated {
        if i % 10 == 1 {
            model.users[i].first = format!("Renamed{i:04}");
        } else {
            model.users[i].last = format!("Moved{i:04}");
            model.users[i].email = format!("moved{i:04}@mail.contoso.com");
        }
    }
    model.count("users_updated", updated.len());

    // Deactivation with a string, Entra's way.
    let deactivated: Vec<usize> = (0..USERS).filter(|i| i % 10 == 3).collect();
    parallel(&deactivated, |&i| {
        let answer = scim(
            &server,
            Method::PATCH,
            &format!("/Users/{}", ids[i]),
            patch(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        );
        assert_done("deactivating a user", answer);
    });
    model.writes += deactivated.len();
    for &i in &deactivated {
        model.users[i].active = false;
    }
    model.count("users_deactivated", deactivated.len());

    // Member removal: group g loses user g + 50.
    parallel(&groups, |&g| {
        let answer = scim(
            &server,
            Method::PATCH,
            &format!("/Groups/{}", gids[g]),
            patch(json!([{"op": "Remove", "path": "members",
                          "value": [{"value": ids[g + GROUPS]}]}])),
        );
        assert_done("removing a member", answer);
    });
    model.writes += GROUPS;
    for g in 0..GROUPS {
        assert!(model.groups[g].members.remove(&(g + GROUPS)));
    }
    model.count("memberships_removed", GROUPS);

    // Hard deletion of users.
    let deleted: Vec<usize> = (0..USERS).filter(|i| i % 20 == 5).collect();
    parallel(&deleted, |&i| {
        let (status, body) = scim(&server, Method::DELETE, &format!("/Users/{}", ids[i]), None);
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    });
    model.writes += deleted.len();
    for &i in &deleted {
        model.delete_user(i);
    }

    // The SCIM view: a deleted user is gone, a deactivated one is there, inactive.
    let gone = find_user(&server, &model.users[5].login, false);
    assert_eq!(gone["totalResults"], 0, "{gone}");
    let (status, _) = scim(&server, Method::GET, &format!("/Users/{}", ids[5]), None);
    assert_eq!(status, StatusCode::NOT_FOUND);
    let inactive = find_user(&server, &model.users[3].login, false);
    assert_eq!(inactive["totalResults"], 1, "{inactive}");
    assert_eq!(inactive["Resources"][0]["active"], false, "{inactive}");
    assert_eq!(inactive["Resources"][0]["id"], ids[3].as_str());
    let session = started.elapsed();
    assert_scim_members(&server, &model);
    server.stop();
    assert_operators_see(&s, &model);
    eprintln!(
        "Entra-shaped session: {session:?} of requests, {:?} in all",
        started.elapsed()
    );
}

#[test]
fn an_okta_provisioning_session_of_1000_users_and_50_groups() {
    let started = Instant::now();
    let s = sandbox("user0000@example.com");
    let server = Server::start(&s);
    server.wait_ready();
    let mut model = Model::default();

    // "Test Connector Configuration".
    let (status, config) = scim(&server, Method::GET, "/ServiceProviderConfig", None);
    assert_eq!(status, StatusCode::OK, "{config}");
    let (status, page) = scim(&server, Method::GET, "/Users?startIndex=1&count=2", None);
    assert_eq!((status, &page["totalResults"]), (StatusCode::OK, &json!(0)));

    // Users: a paged query by userName, then the create with Okta's body; every tenth user
    // (and user 21) with a password.
    let indexes: Vec<usize> = (0..USERS).collect();
    let users = parallel(&indexes, |&i| {
        let login = format!("user{i:04}@example.com");
        let found = find_user(&server, &login, true);
        assert_eq!(found["totalResults"], 0, "{login}: {found}");
        let (first, last) = (format!("First{i:04}"), format!("Last{i:04}"));
        let email = format!("first{i:04}.last@example.com");
        let mut body = json!({
            "schemas": [USER_URN],
            "userName": login,
            "name": {"givenName": first, "familyName": last},
            "emails": [{"primary": true, "value": email, "type": "work"}],
            "displayName": format!("{first} {last}"),
            "locale": "en-US",
            "externalId": format!("00u{i:04}abcdEFGH5d7"),
            "groups": [],
            "active": true,
        });
        if i % 10 == 0 || i == 21 {
            body["password"] = json!(format!("okta-pushed-{i:04}"));
        }
        let (status, created) = scim(&server, Method::POST, "/Users", Some(body));
        assert_eq!(status, StatusCode::CREATED, "{login}: {created}");
        assert!(created.get("password").is_none(), "{created}");
        ModelUser {
            id: created["id"].as_str().expect("id").to_string(),
            login,
            first,
            last,
            email,
            active: true,
        }
    });
    let ids = model.created(users);

    // Profile updates: the whole resource with PUT.
    let updated: Vec<usize> = (0..USERS).filter(|i| i % 10 == 1).collect();
    let snapshot = model.users.clone();
    parallel(&updated, |&i| {
        let u = &snapshot[i];
        let (status, body) = scim(
            &server,
            Method::PUT,
            &format!("/Users/{}", u.id),
            Some(json!({
                "schemas": [USER_URN],
                "id": u.id,
                "userName": u.login,
                "name": {"givenName": u.first, "familyName": format!("Married{i:04}")},
                "emails": [{"primary": true, "value": format!("married{i:04}@example.com"),
                            "type": "work"}],
                "displayName": format!("{} Married{i:04}", u.first),
                "locale": "en-US",
                "externalId": format!("00u{i:04}abcdEFGH5d7"),
                "groups": [],
                "active": true,
            })),
        );
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["name"]["familyName"], format!("Married{i:04}"));
    });
    model.writes += updated.len();
    for &i in &updated {
        model.users[i].last = format!("Married{i:04}");
        model.users[i].email = format!("married{i:04}@example.com");
    }
    model.count("users_updated", updated.len());

    // Push groups: created with their members (users i % 50 == g).
    let groups: Vec<usize> = (0..GROUPS).collect();
    let gids = parallel(&groups, |&g| {
        let name = format!("Okta Group {g:02}");
        let members: Vec<Value> = (g..USERS)
            .step_by(GROUPS)
            .map(|i| json!({"value": ids[i], "display": snapshot[i].login}))
            .collect();
        let (status, created) = scim(
            &server,
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP_URN], "displayName": name, "members": members})),
        );
        assert_eq!(status, StatusCode::CREATED, "{name}: {created}");
        created["id"].as_str().expect("id").to_string()
    });
    model.writes += GROUPS;
    model.count("groups_created", GROUPS);
    for (g, id) in gids.iter().enumerate() {
        let members: BTreeSet<usize> = (g..USERS).step_by(GROUPS).collect();
        model.count("memberships_added", members.len());
        model.groups.push(ModelGroup {
            id: id.clone(),
            name: format!("Okta Group {g:02}"),
            active: true,
            members,
        });
    }

    // Membership changes: group g loses user g + 50 by a value-path remove and gains user
    // 950 + (g + 1) % 50 by an add.
    parallel(&groups, |&g| {
        let gone = &ids[g + GROUPS];
        let answer = scim(
            &server,
            Method::PATCH,
            &format!("/Groups/{}", gids[g]),
            patch(json!([{"op": "remove", "path": format!("members[value eq \"{gone}\"]")}])),
        );
        assert_done("removing a member", answer);
        let new = 950 + (g + 1) % GROUPS;
        let answer = scim(
            &server,
            Method::PATCH,
            &format!("/Groups/{}", gids[g]),
            patch(json!([{"op": "add", "path": "members",
                          "value": [{"value": ids[new], "display": snapshot[new].login}]}])),
        );
        assert_done("adding a member", answer);
    });
    model.writes += 2 * GROUPS;
    for g in 0..GROUPS {
        assert!(model.groups[g].members.remove(&(g + GROUPS)));
        assert!(model.groups[g].members.insert(950 + (g + 1) % GROUPS));
    }
    model.count("memberships_removed", GROUPS);
    model.count("memberships_added", GROUPS);

    // Renames, Okta repeating the id in the value; then a group deleted.
    let renamed: Vec<usize> = (0..GROUPS).filter(|g| g % 10 == 0).collect();
    parallel(&renamed, |&g| {
        let answer = scim(
            &server,
            Method::PATCH,
            &format!("/Groups/{}", gids[g]),
            patch(json!([{"op": "replace",
                          "value": {"id": gids[g], "displayName": format!("Okta Renamed {g:02}")}}])),
        );
        assert_done("renaming a group", answer);
    });
    model.writes += renamed.len();
    for &g in &renamed {
        model.groups[g].name = format!("Okta Renamed {g:02}");
    }
    model.count("groups_updated", renamed.len());
    let doomed = GROUPS - 1;
    let (status, body) = scim(
        &server,
        Method::DELETE,
        &format!("/Groups/{}", gids[doomed]),
        None,
    );
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    model.writes += 1;
    // A deleted group becomes inactive and loses its members.
    model.groups[doomed].active = false;
    let left = std::mem::take(&mut model.groups[doomed].members).len();
    model.count("memberships_removed", left);
    model.count("groups_deactivated", 1);

    // Deactivation: a path-less replace of `active`.
    let deactivated: Vec<usize> = (0..USERS).filter(|i| i % 10 == 3).collect();
    parallel(&deactivated, |&i| {
        let answer = scim(
            &server,
            Method::PATCH,
            &format!("/Users/{}", ids[i]),
            patch(json!([{"op": "replace", "value": {"active": false}}])),
        );
        assert_done("deactivating a user", answer);
    });
    model.writes += deactivated.len();
    for &i in &deactivated {
        model.users[i].active = false;
    }
    model.count("users_deactivated", deactivated.len());

    // The SCIM view: the deactivated user with active false, the renamed group, the deleted
    // group gone, a group's members.
    let inactive = find_user(&server, &model.users[13].login, true);
    assert_eq!(inactive["totalResults"], 1, "{inactive}");
    assert_eq!(inactive["Resources"][0]["active"], false, "{inactive}");
    let (status, group) = scim(&server, Method::GET, &format!("/Groups/{}", gids[10]), None);
    assert_eq!(status, StatusCode::OK, "{group}");
    assert_eq!(group["displayName"], "Okta Renamed 10");
    let mut members: Vec<&str> = group["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["value"].as_str())
        .collect();
    members.sort_unstable();
    let mut want: Vec<&str> = model.groups[10]
        .members
        .iter()
        .map(|&i| ids[i].as_str())
        .collect();
    want.sort_unstable();
    assert_eq!(members, want);
    let (status, _) = scim(
        &server,
        Method::GET,
        &format!("/Groups/{}", gids[doomed]),
        None,
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_scim_members(&server, &model);
    let session = started.elapsed();
    server.stop();

    assert_operators_see(&s, &model);
    // Pushed passwords log in, also after a PUT without one (user 21's profile update).
    for (login, password) in [
        ("user0000@example.com", "okta-pushed-0000"),
        ("user0021@example.com", "okta-pushed-0021"),
    ] {
        let check = s.idmsync_with_input(&["auth", "check", login], &format!("{password}\n"));
        assert_eq!(check.code, 0, "{login}: {}", check.stderr);
    }
    eprintln!(
        "Okta-shaped session: {session:?} of requests, {:?} in all",
        started.elapsed()
    );
}

/// Entra also sends the work e-mail's value path as a key of a path-less replace, next to dotted
/// keys; the e-mail must change (or the request be refused), not be answered 200 and dropped.
#[test]
fn entra_path_less_replace_with_a_value_path_key() {
    let s = sandbox("admin@contoso.com");
    let server = Server::start(&s);
    server.wait_ready();
    let mut ids = Vec::new();
    for login in ["admin@contoso.com", "bjensen@contoso.com"] {
        let (status, created) = scim(
            &server,
            Method::POST,
            "/Users",
            Some(json!({
                "schemas": [USER_URN, ENTERPRISE_URN],
                "externalId": login.split('@').next(),
                "userName": login,
                "active": true,
                "displayName": "Barbara Jensen",
                "emails": [{"primary": true, "type": "work", "value": "bjensen@old.contoso.com"}],
                "meta": {"resourceType": "User"},
                "name": {"formatted": "Barbara Jensen", "familyName": "Jensen",
                         "givenName": "Barbara"},
                "roles": [],
                ENTERPRISE_URN: {"department": "Tour Operations"},
            })),
        );
        assert_eq!(status, StatusCode::CREATED, "{created}");
        ids.push(created["id"].as_str().expect("id").to_string());
    }
    let (status, patched) = scim(
        &server,
        Method::PATCH,
        &format!("/Users/{}", ids[1]),
        patch(json!([{"op": "Replace", "value": {
            "name.familyName": "Jensen-Smith",
            "emails[type eq \"work\"].value": "bjensen@new.contoso.com",
        }}])),
    );
    assert_eq!(status, StatusCode::OK, "{patched}");
    let (status, user) = scim(&server, Method::GET, &format!("/Users/{}", ids[1]), None);
    assert_eq!(status, StatusCode::OK, "{user}");
    server.stop();
    let users = listed_users(&s);
    assert_eq!(users[1]["last_name"], "Jensen-Smith", "{users:?}");
    assert_eq!(
        (&user["emails"][0]["value"], &users[1]["email"]),
        (
            &json!("bjensen@new.contoso.com"),
            &json!("bjensen@new.contoso.com")
        ),
        "PATCH answered {patched}"
    );
}
