//! `users` and `groups`: the synchronised directory as the local database holds it.

use axum::extract::State;
use axum::Json;
use idmsync_domain::UserStatus;
use idmsync_ports::{GroupView, UserFilter, UserView};
use serde::Serialize;

use crate::error::ApiError;
use crate::params::Params;
use crate::runs::iso;
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
            last_sync_time: user.last_sync_at.map(iso),
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

/// `GET users?filter=&externalId=&status=&start=&size=`, sorted by external id.
pub(crate) async fn users(
    State(state): State<ApiState>,
    params: Params,
) -> Result<Json<Vec<User>>, ApiError> {
    let filter = filter(&state, &params)?;
    let users = state
        .directory
        .users(&state.tenant, &filter, Some(params.page()?))
        .await?;
    Ok(Json(users.into_iter().map(User::from).collect()))
}

/// `GET groups?filter=&externalId=&status=&start=&size=`, sorted by external id.
pub(crate) async fn groups(
    State(state): State<ApiState>,
    params: Params,
) -> Result<Json<Vec<Group>>, ApiError> {
    let filter = filter(&state, &params)?;
    let groups = state
        .directory
        .groups(&state.tenant, &filter, Some(params.page()?))
        .await?;
    Ok(Json(groups.into_iter().map(Group::from).collect()))
}
