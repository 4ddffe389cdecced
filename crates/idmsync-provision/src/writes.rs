//! One SCIM write applied to a batch's draft: the checks an identity provider is answered
//! with (unknown id, taken name, unknown member) and the entries the write changes.
//!
//! A write either changes the draft completely or not at all: every check is made before the
//! first entry is put.

use chrono::{DateTime, SecondsFormat, Utc};
use idmsync_domain::{Password, Reactivate};
use idmsync_ports::ScimWrite;
use idmsync_scim::{patch, ResourceType, ScimError};
use serde_json::{json, Value};

use crate::guard::WindowGuard;
use crate::resource;
use crate::view::{Draft, Entry, View};

/// What a batch collects besides the draft: the passwords its writes set (for the hasher, never
/// for the view) and the entries its writes deleted.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    pub(crate) passwords: Vec<(String, Password)>,
    pub(crate) deleted: Vec<(ResourceType, String)>,
}

/// What a write answers once its batch is committed: the resource it wrote, or nothing (a
/// delete).
pub(crate) type Written = Option<(ResourceType, String)>;

/// The context a write is checked in.
pub(crate) struct Writer<'a> {
    pub(crate) view: &'a View,
    pub(crate) draft: &'a mut Draft,
    pub(crate) collected: &'a mut Collected,
    pub(crate) now: DateTime<Utc>,
    pub(crate) reactivate: Reactivate,
    /// The SCIM guard, asked before each deactivation, with the batch's clock reading.
    pub(crate) guard: &'a mut WindowGuard,
    pub(crate) instant: tokio::time::Instant,
    /// Active users when the batch began.
    pub(crate) active: u64,
    /// Deactivations the batch holds so far.
    pub(crate) deactivations: u64,
}

/// Whether a user resource is active (SCIM's default).
fn is_active(resource: &Value) -> bool {
    resource.get("active") != Some(&Value::Bool(false))
}

fn not_found(kind: ResourceType, id: &str) -> ScimError {
    ScimError::not_found(format!("No {} has the id `{id}`.", kind.name()))
}

impl Writer<'_> {
    /// Applies `write` to the draft, or leaves it as it was and says why not.
    pub(crate) fn apply(&mut self, write: ScimWrite) -> Result<Written, ScimError> {
        match write {
            ScimWrite::Create { kind, body } => self.create(kind, &body),
            ScimWrite::Replace { kind, id, body } => {
                let current = self.live(kind, &id)?;
                let body = patch::normalize(&body, kind)?;
                self.put(kind, id, body, current.get("meta").cloned())
            }
            ScimWrite::Patch { kind, id, body } => {
                let mut resource = self.live(kind, &id)?;
                let operations = patch::parse_request(&body)?;
                patch::apply(&mut resource, &operations, kind)?;
                let meta = resource.get("meta").cloned();
                self.put(kind, id, resource, meta)
            }
            ScimWrite::Delete { kind, id } => {
                let resource = self.live(kind, &id)?;
                let deactivates = kind == ResourceType::User && is_active(&resource);
                if deactivates {
                    self.guard_allows()?;
                }
                self.delete(kind, &id, resource);
                self.deactivations += u64::from(deactivates);
                Ok(None)
            }
        }
    }

    /// The guard's verdict on one more deactivation: a 503 that says why, and who can lift it.
    fn guard_allows(&mut self) -> Result<(), ScimError> {
        self.guard
            .allows(self.instant, self.active, self.deactivations)
            .map_err(|reason| ScimError::new(503, None, reason))
    }

    /// The resource `id` if it exists and was not deleted.
    fn live(&self, kind: ResourceType, id: &str) -> Result<Value, ScimError> {
        match self.draft.get(self.view, kind, id) {
            Some(Entry {
                resource,
                deleted: false,
            }) => Ok(resource.clone()),
            _ => Err(not_found(kind, id)),
        }
    }

    fn create(&mut self, kind: ResourceType, body: &Value) -> Result<Written, ScimError> {
        let body = patch::normalize(body, kind)?;
        let name = unique_name(kind, &body)?;
        // A name a deleted resource held comes back with that resource (its memberships in the
        // application, its history) when `sync.reactivate` lets a sync bring it back.
        let id = match self.draft.holder(self.view, kind, &name) {
            Some(holder)
                if self.reactivate != Reactivate::None
                    && self
                        .draft
                        .get(self.view, kind, &holder)
                        .is_some_and(|e| e.deleted) =>
            {
                holder
            }
            Some(_) => return Err(taken(kind, &name)),
            None => uuid::Uuid::new_v4().to_string(),
        };
        self.put(kind, id, body, None)
    }

    /// Writes `body` as the whole resource `id` (its `meta` from before, if any).
    fn put(
        &mut self,
        kind: ResourceType,
        id: String,
        body: Value,
        meta: Option<Value>,
    ) -> Result<Written, ScimError> {
        let mut resource = resource::with_identity(body, kind, &id);
        let password = resource::take_password(&mut resource)?;
        let name = unique_name(kind, &resource)?;
        if let Some(holder) = self.draft.holder(self.view, kind, &name) {
            if holder != id {
                return Err(taken(kind, &name));
            }
        }
        if kind == ResourceType::Group {
            self.check_members(&mut resource, &id)?;
        }
        let was_active = self
            .draft
            .get(self.view, kind, &id)
            .is_some_and(|e| !e.deleted && is_active(&e.resource));
        let deactivates = kind == ResourceType::User && was_active && !is_active(&resource);
        if deactivates {
            self.guard_allows()?;
        }
        let now = self.now.to_rfc3339_opts(SecondsFormat::Millis, true);
        let created = meta
            .as_ref()
            .and_then(|m| m.get("created"))
            .cloned()
            .unwrap_or_else(|| Value::String(now.clone()));
        resource["meta"] =
            json!({"resourceType": kind.name(), "created": created, "lastModified": now});
        // The planner's checks, made now so that a value no store keeps fails this write only.
        match kind {
            ResourceType::User => resource::source_user(&resource, password.as_ref()).map(drop)?,
            ResourceType::Group => resource::source_group(&resource).map(drop)?,
        }
        if let Some(password) = password {
            self.collected.passwords.push((id.clone(), password));
        }
        self.deactivations += u64::from(deactivates);
        self.draft.put(
            kind,
            id.clone(),
            Entry {
                resource,
                deleted: false,
            },
        );
        Ok(Some((kind, id)))
    }

    /// Every member must be a user or group that exists; each gets its `type`, duplicates go.
    fn check_members(&self, resource: &mut Value, own: &str) -> Result<(), ScimError> {
        let Some(members) = resource.get_mut("members").and_then(Value::as_array_mut) else {
            return Ok(());
        };
        let mut seen = std::collections::HashSet::new();
        let mut checked = Vec::new();
        for member in members.drain(..) {
            let Some(id) = member.get("value").and_then(Value::as_str) else {
                return Err(ScimError::invalid_value(
                    "members: every member needs a `value`.",
                ));
            };
            let group = if self.is_live(ResourceType::User, id) {
                false
            } else if self.is_live(ResourceType::Group, id) && id != own {
                true
            } else {
                return Err(ScimError::invalid_value(format!(
                    "members: no user or group has the id `{id}`."
                )));
            };
            if seen.insert(id.to_string()) {
                let mut kept = resource::member(id, group);
                // The provider's label for the member, shown back as it sent it.
                if let Some(display) = member.get("display").filter(|d| d.is_string()) {
                    kept["display"] = display.clone();
                }
                checked.push(kept);
            }
        }
        *members = checked;
        Ok(())
    }

    fn is_live(&self, kind: ResourceType, id: &str) -> bool {
        self.draft
            .get(self.view, kind, id)
            .is_some_and(|e| !e.deleted)
    }

    /// Marks `id` deleted and takes it out of every group's members, as the planner takes its
    /// edges away.
    fn delete(&mut self, kind: ResourceType, id: &str, resource: Value) {
        for group in self.draft.groups_with(self.view, id) {
            if let Some(entry) = self.draft.get(self.view, ResourceType::Group, &group) {
                let mut entry = entry.clone();
                if let Some(members) = entry
                    .resource
                    .get_mut("members")
                    .and_then(Value::as_array_mut)
                {
                    members.retain(|m| m.get("value").and_then(Value::as_str) != Some(id));
                }
                self.draft.put(ResourceType::Group, group, entry);
            }
        }
        self.draft.put(
            kind,
            id.to_string(),
            Entry {
                resource,
                deleted: true,
            },
        );
        self.collected.deleted.push((kind, id.to_string()));
    }
}

/// The unique name of a resource (`userName`, a group's `displayName`), which RFC 7643 makes
/// required.
fn unique_name(kind: ResourceType, resource: &Value) -> Result<String, ScimError> {
    let name = match kind {
        ResourceType::User => resource::user_name(resource),
        ResourceType::Group => resource::display_name(resource),
    };
    match name.map(str::trim) {
        Some(name) if !name.is_empty() => Ok(name.to_string()),
        _ => Err(ScimError::invalid_value(match kind {
            ResourceType::User => "userName is required.",
            ResourceType::Group => "displayName is required.",
        })),
    }
}

fn taken(kind: ResourceType, name: &str) -> ScimError {
    let attribute = match kind {
        ResourceType::User => "userName",
        ResourceType::Group => "displayName",
    };
    ScimError::uniqueness(format!(
        "Another {} already has the {attribute} `{name}`.",
        kind.name()
    ))
}
