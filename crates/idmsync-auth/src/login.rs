//! [`LoginService`]: the login policy behind the `Authenticator` port. The local database says
//! who may log in; the directory (an LDAP bind) or the local argon2 hash says whether the
//! password is right; a throttle slows guessing down.

use std::sync::Arc;

use async_trait::async_trait;
use idmsync_domain::{Password, PasswordHash, PasswordHasher, Tenant, UserStatus};
use idmsync_ports::{
    AuthError, Authenticator, Clock, DirectoryBind, LoginField, LoginReader, LoginRecord,
    Principal, SystemClock,
};

use crate::throttle::{Throttle, ThrottleOptions};
use crate::verify::Verifier;

/// How a login is looked up and throttled (`auth.login`, `auth.case_sensitive`,
/// `auth.max_failures`, `auth.lockout_secs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginOptions {
    /// Whether people log in with their external id or their e-mail address.
    pub field: LoginField,
    /// Whether `JLennon` is a different login from `jlennon`.
    pub case_sensitive: bool,
    /// When repeated failures lock a login.
    pub throttle: ThrottleOptions,
}

impl Default for LoginOptions {
    /// The external id, compared exactly, with the default throttle.
    fn default() -> Self {
        Self {
            field: LoginField::ExternalId,
            case_sensitive: true,
            throttle: ThrottleOptions::default(),
        }
    }
}

/// What decides whether a password is right (`auth.ldap`, `auth.database_fallback`).
#[derive(Clone)]
pub enum PasswordCheck {
    /// The argon2 hash in the local database (file source, service accounts).
    Database,
    /// The directory, by a bind.
    Directory {
        /// The directory adapter.
        bind: Arc<dyn DirectoryBind>,
        /// Also accept the local hash, for users that have one, when the directory refuses
        /// the password or cannot be reached.
        database_fallback: bool,
    },
}

/// The policy, in order: a blank login or password fails before anything is touched; a locked
/// login fails fast; the login must name exactly one active user in the local database; then
/// the directory and/or the local hash decide. Every refusal is the same
/// [`AuthError::Rejected`], and every attempt that reaches the user lookup verifies exactly one
/// argon2 hash (the user's or a dummy), so neither the answer nor the time tells whether a
/// login exists. Rejections count towards the throttle; a success resets it.
///
/// Concurrent attempts for one login are counted before they are checked (see the throttle),
/// so no amount of parallel guessing gets more than `max_failures` wrong passwords to the
/// directory or the hash. Argon2 runs on tokio's blocking pool, one verification per core at a
/// time, so that a flood of logins does not stall the other requests of the runtime;
/// [`authenticate`](Authenticator::authenticate) therefore needs a tokio runtime.
pub struct LoginService {
    logins: Arc<dyn LoginReader>,
    verifier: Verifier,
    check: PasswordCheck,
    options: LoginOptions,
    throttle: Throttle,
    dummy: Option<PasswordHash>,
}

/// What the password check concluded about a user that may log in.
enum Verdict {
    Accepted,
    Refused,
    /// The directory could not be asked and nothing else decided (logged where it happened).
    DirectoryDown,
}

impl LoginService {
    /// A login service over the store's login query; computes the dummy hash once.
    pub fn new(
        logins: Arc<dyn LoginReader>,
        hasher: Arc<dyn PasswordHasher>,
        check: PasswordCheck,
        options: LoginOptions,
    ) -> Self {
        let dummy = hasher.hash(&Password::new("idmsync-dummy-password-for-equal-timing"));
        Self {
            logins,
            verifier: Verifier::new(hasher),
            check,
            options,
            throttle: Throttle::new(options.throttle, Arc::new(SystemClock)),
            dummy,
        }
    }

    /// Replaces the clock of the throttle; lets tests move time.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.throttle = Throttle::new(self.options.throttle, clock);
        self
    }

    /// The throttle's key: the login as the database compares it.
    fn key(&self, login: &str) -> String {
        if self.options.case_sensitive {
            login.to_owned()
        } else {
            login.to_lowercase()
        }
    }

    /// The one active user `login` names, or `None` (unknown, ambiguous, inactive).
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
        if found.len() > 1 {
            tracing::warn!(
                login,
                count = found.len(),
                "several users have this login; refusing it"
            );
        }
        Ok(if found.len() == 1 { found.pop() } else { None }
            .filter(|u| u.status == UserStatus::Active))
    }

    /// Verifies `password` against `hash`, or against the dummy hash when there is none, so
    /// that every path costs one argon2 verification.
    async fn verify(&self, password: &Password, hash: Option<&PasswordHash>) -> bool {
        match hash.or(self.dummy.as_ref()) {
            Some(h) => self.verifier.verify(password, h).await && hash.is_some(),
            None => false,
        }
    }

    /// Whether the password is right for `user`, who may log in.
    async fn check_password(&self, user: &LoginRecord, password: &Password) -> Verdict {
        let local = user.password_hash.as_ref();
        let (bind, fallback) = match &self.check {
            PasswordCheck::Database => {
                return verdict(self.verify(password, local).await);
            }
            PasswordCheck::Directory {
                bind,
                database_fallback,
            } => (bind, *database_fallback),
        };
        let fallback_hash = local.filter(|_| fallback);
        match bind.check(user, password).await {
            Ok(true) => Verdict::Accepted,
            Ok(false) | Err(AuthError::Rejected) => {
                tracing::debug!(user = %user.external_id, "the directory refused the password");
                verdict(self.verify(password, fallback_hash).await)
            }
            Err(AuthError::Unavailable(reason)) => {
                tracing::warn!(%reason, "the directory could not check a password");
                let accepted = self.verify(password, fallback_hash).await;
                if fallback_hash.is_some() {
                    verdict(accepted)
                } else {
                    Verdict::DirectoryDown
                }
            }
        }
    }
}

fn verdict(accepted: bool) -> Verdict {
    if accepted {
        Verdict::Accepted
    } else {
        Verdict::Refused
    }
}

#[async_trait]
impl Authenticator for LoginService {
    /// A directory outage is answered with `Rejected`, not `Unavailable`: only logins of active
    /// users ever reach the directory, so a different answer during an outage would tell which
    /// logins exist. The outage is logged as a warning instead and does not count towards the
    /// throttle. `Unavailable` remains for a database outage, which hits every login alike.
    async fn authenticate(
        &self,
        tenant: &Tenant,
        login: &str,
        password: &Password,
    ) -> Result<Principal, AuthError> {
        if login.trim().is_empty() || password.expose().trim().is_empty() {
            return Err(AuthError::Rejected);
        }
        // The slot is taken before anything is checked and settled below; dropped unsettled
        // (the caller gave up mid-check), it counts as a failure.
        let Some(attempt) = self.throttle.begin(&self.key(login)).await else {
            return Err(AuthError::Rejected);
        };
        let user = match self.user(tenant, login).await {
            Ok(user) => user,
            Err(unavailable) => {
                attempt.uncounted();
                return Err(unavailable);
            }
        };
        let Some(user) = user else {
            self.verify(password, None).await;
            attempt.failed();
            return Err(AuthError::Rejected);
        };
        match self.check_password(&user, password).await {
            Verdict::Accepted => {
                attempt.succeeded();
                Ok(Principal {
                    external_id: user.external_id,
                    admin: user.admin,
                })
            }
            Verdict::Refused => {
                attempt.failed();
                Err(AuthError::Rejected)
            }
            Verdict::DirectoryDown => {
                attempt.uncounted();
                Err(AuthError::Rejected)
            }
        }
    }
}
