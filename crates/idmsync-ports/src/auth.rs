//! Authentication: checking a login and password, and the store query it needs.
//!
//! The application's own database decides who may log in (the user must be synchronised and
//! active); an authenticator decides whether the password is right: by an LDAP bind (the
//! [`DirectoryBind`] port), by the stored argon2 hash, or both. The REST API's Basic auth and
//! `idmsync auth check` use the same port.

use async_trait::async_trait;
use idmsync_domain::{Password, PasswordHash, Tenant, UserStatus};

use crate::store::StoreError;

/// Who logged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user's external id.
    pub external_id: String,
    /// Whether the user is a tenant administrator.
    pub admin: bool,
}

/// Why a login failed. `Rejected` is deliberately one variant for every reason (unknown user,
/// inactive user, wrong password, locked out), so that no caller can tell them apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The credentials are not accepted.
    #[error("invalid credentials")]
    Rejected,
    /// The check could not be made (the database is down, or the directory is and nothing
    /// else could decide); says nothing about the password.
    #[error("authentication unavailable: {0}")]
    Unavailable(String),
}

/// Checks a login and password.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Authenticator: Send + Sync {
    /// The principal if `login` may log in with `password`.
    ///
    /// # Errors
    /// `Rejected` for every kind of refusal; `Unavailable` when nothing could be checked.
    async fn authenticate(
        &self,
        tenant: &Tenant,
        login: &str,
        password: &Password,
    ) -> Result<Principal, AuthError>;
}

/// Which column a login names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginField {
    /// The external id (`jlennon`).
    ExternalId,
    /// The e-mail address.
    Email,
}

/// What an authenticator needs to know about a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRecord {
    /// External id.
    pub external_id: String,
    /// The user's locator in the source (an LDAP DN), for binding without a search.
    pub locator: Option<String>,
    /// Active or not; inactive users never log in.
    pub status: UserStatus,
    /// Tenant administrator.
    pub admin: bool,
    /// Local password hash, for the database-password check.
    pub password_hash: Option<PasswordHash>,
}

/// Looks users up by login.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait LoginReader: Send + Sync {
    /// Every user of the tenant whose `field` equals `login` (ignoring case when
    /// `case_sensitive` is false). Several rows mean the login is ambiguous; callers fail closed.
    ///
    /// # Errors
    /// `Unavailable` or `Failed`.
    async fn find_login(
        &self,
        tenant: &Tenant,
        login: &str,
        field: LoginField,
        case_sensitive: bool,
    ) -> Result<Vec<LoginRecord>, StoreError>;
}

/// Checks a password against the directory the users come from, typically with an LDAP bind.
///
/// Only the password: whether the user may log in at all (synchronised, active, unambiguous) is
/// the local database's decision, made before this port is asked. Keeping the directory side
/// this narrow lets the login policy (throttling, fallback, equal answers) be tested without a
/// directory, and the LDAP adapter be tested without a database.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait DirectoryBind: Send + Sync {
    /// `Ok(true)` when the directory accepts `password` for `user`, `Ok(false)` when it refuses
    /// it (wrong password, no such entry, several candidate entries, a blank password).
    ///
    /// # Errors
    /// `Unavailable` when the directory could not be asked (unreachable, TLS or StartTLS
    /// failure, timeout, busy, the service account refused); MUST NOT be returned for a refused
    /// password. The message names the server and operation, never a password.
    async fn check(&self, user: &LoginRecord, password: &Password) -> Result<bool, AuthError>;
}
