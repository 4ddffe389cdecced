//! [`DatabaseAuthenticator`]: a login checked against the argon2 hash in the application's own
//! database, for sources that manage local passwords (the file source) and for service accounts.

use std::sync::Arc;

use async_trait::async_trait;
use idmsync_domain::{Password, PasswordHash, PasswordHasher, Tenant, UserStatus};
use idmsync_ports::{AuthError, Authenticator, LoginField, LoginReader, LoginRecord, Principal};

/// How a login is looked up (`auth.login`, `auth.case_sensitive`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginOptions {
    /// Whether people log in with their external id or their e-mail address.
    pub field: LoginField,
    /// Whether `JLennon` is a different login from `jlennon`.
    pub case_sensitive: bool,
}

impl Default for LoginOptions {
    fn default() -> Self {
        Self {
            field: LoginField::ExternalId,
            case_sensitive: true,
        }
    }
}

/// Accepts a login when exactly one active user of the tenant has it and the password verifies
/// against that user's stored hash. Every refusal looks the same and costs about the same: an
/// unknown, inactive or hash-less user is verified against a dummy hash, so timing does not tell
/// which logins exist.
pub struct DatabaseAuthenticator {
    logins: Arc<dyn LoginReader>,
    hasher: Arc<dyn PasswordHasher>,
    options: LoginOptions,
    dummy: Option<PasswordHash>,
}

impl DatabaseAuthenticator {
    /// An authenticator over the store's login query; computes the dummy hash once.
    pub fn new(
        logins: Arc<dyn LoginReader>,
        hasher: Arc<dyn PasswordHasher>,
        options: LoginOptions,
    ) -> Self {
        let dummy = hasher.hash(&Password::new("idmsync-dummy-password-for-equal-timing"));
        Self {
            logins,
            hasher,
            options,
            dummy,
        }
    }

    /// Finds the one user `login` names, or `None` (unknown, ambiguous).
    async fn user(&self, tenant: &Tenant, login: &str) -> Result<Option<LoginRecord>, AuthError> {
        let mut found = self
            .logins
            .find_login(
                tenant,
                login,
                self.options.field,
                self.options.case_sensitive,
            )
            .await
            .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        Ok(if found.len() == 1 { found.pop() } else { None })
    }
}

#[async_trait]
impl Authenticator for DatabaseAuthenticator {
    async fn authenticate(
        &self,
        tenant: &Tenant,
        login: &str,
        password: &Password,
    ) -> Result<Principal, AuthError> {
        if login.trim().is_empty() || password.expose().trim().is_empty() {
            return Err(AuthError::Rejected);
        }
        let user = self.user(tenant, login).await?;
        let candidate = user
            .as_ref()
            .filter(|u| u.status == UserStatus::Active)
            .and_then(|u| u.password_hash.as_ref().map(|h| (u, h)));
        match candidate {
            Some((user, hash)) if self.hasher.verify(password, hash) => Ok(Principal {
                external_id: user.external_id.clone(),
                admin: user.admin,
            }),
            Some(_) => Err(AuthError::Rejected),
            None => {
                if let Some(dummy) = &self.dummy {
                    self.hasher.verify(password, dummy);
                }
                Err(AuthError::Rejected)
            }
        }
    }
}
