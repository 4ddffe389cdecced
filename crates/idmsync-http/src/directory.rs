//! `users` and `groups`: the synchronised directory as the local database holds it.

use axum::extract::State;
use axum::Json;
use idmsync_domain::UserStatus;
use idmsync_ports::{GroupView, Page, Totals, UserFilter, UserView};
use serde::Serialize;

use crate::error::ApiError;
use crate::params::Params;
use crate::wire::{time_stamp, ResultList};
use crate::ApiState;

/// A user as the API shows it; `id` is the external id, as in the original.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct User {
    id: String,
    external_id: String,
    first_name: String,
    last_name: String,
    email: Option<String>,
    status: &'static str,
    tenant_id: String,
    admin: bool,
    last_sync_time: Option<String>,
}

impl From<UserView> for User {
    fn from(user: UserView) -> Self {
        Self {
            id: user.external_id.clone(),
            external_id: user.external_id,
            first_name: user.first_name,
            last_name: user.last_name,
            email: user.email,
            status: user.status.as_str(),
            tenant_id: user.tenant,
            admin: user.admin,
            last_sync_time: user.last_sync_at.map(time_stamp),
        }
    }
}

/// A group as the API shows it, with the external ids of its direct active members.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Group {
    id: String,
    external_id: String,
    name: String,
    status: &'static str,
    tenant_id: String,
    members: Vec<String>,
    child_groups: Vec<String>,
}

impl From<GroupView> for Group {
    fn from(group: GroupView) -> Self {
        Self {
            id: group.external_id.clone(),
            external_id: group.external_id,
            name: group.name,
            status: group.status.as_str(),
            tenant_id: group.tenant,
            members: group.members,
            child_groups: group.child_groups,
        }
    }
}

/// The filter both lists take: `filter` (text, case-insensitive), `externalId` (exact) and
/// `status`; `tenantId` is checked like everywhere else.
fn filter(state: &ApiState, params: &Params) -> Result<UserFilter, ApiError> {
    params.check_tenant(&state.tenant)?;
    Ok(UserFilter {
        status: params.parse("status", UserStatus::parse, "must be active or inactive")?,
        external_id: params.text("externalId").map(str::to_string),
        text: params.text("filter").map(str::to_string),
    })
}

/// The number of rows a list would have unpaged. Exact from the store's counts by status when
/// nothing but `status` filters; with a text or external id filter, known only when this page
/// (of `rows` rows) reached the end of the list, since the directory port counts no filtered
/// list. `counts` picks the active and inactive counts of users or of groups.
async fn total(
    state: &ApiState,
    filter: &UserFilter,
    page: Page,
    rows: usize,
    counts: fn(&Totals) -> [u64; 2],
) -> Result<Option<u64>, ApiError> {
    let rows = u64::try_from(rows).unwrap_or(u64::MAX);
    if filter.text.is_none() && filter.external_id.is_none() {
        let [active, inactive] = counts(&state.directory.totals(&state.tenant).await?);
        return Ok(Some(match filter.status {
            Some(UserStatus::Active) => active,
            Some(UserStatus::Inactive) => inactive,
            None => active + inactive,
        }));
    }
    let reached_end = rows < page.size && (rows > 0 || page.start == 0);
    Ok(reached_end.then_some(page.start + rows))
}

/// `GET users?filter=&externalId=&status=&start=&size=`, sorted by external id.
pub(crate) async fn users(
    State(state): State<ApiState>,
    params: Params,
) -> Result<Json<ResultList<User>>, ApiError> {
    let filter = filter(&state, &params)?;
    let page = params.page()?;
    let users = state
        .directory
        .users(&state.tenant, &filter, Some(page))
        .await?;
    let total = total(&state, &filter, page, users.len(), |t| {
        [t.users_active, t.users_inactive]
    })
    .await?;
    let data = users.into_iter().map(User::from).collect();
    Ok(Json(ResultList::new(page, total, data)))
}

/// `GET groups?filter=&externalId=&status=&start=&size=`, sorted by external id.
pub(crate) async fn groups(
    State(state): State<ApiState>,
    params: Params,
) -> Result<Json<ResultList<Group>>, ApiError> {
    let filter = filter(&state, &params)?;
    let page = params.page()?;
    let groups = state
        .directory
        .groups(&state.tenant, &filter, Some(page))
        .await?;
    let total = total(&state, &filter, page, groups.len(), |t| {
        [t.groups_active, t.groups_inactive]
    })
    .await?;
    let data = groups.into_iter().map(Group::from).collect();
    Ok(Json(ResultList::new(page, total, data)))
}
