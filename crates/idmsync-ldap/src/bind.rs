//! [`LdapBinder`]: checks a user's password with an LDAP simple bind (the `DirectoryBind` port),
//! over the source's own connection settings.
//!
//! # Whom it binds as
//! The directory is asked about the user's external id as synchronised (the value of
//! `user_id_attribute`), not the text typed at the login prompt: the local database has already
//! resolved the login (an e-mail address, another case) to exactly one active user.
//! - `active_directory_domain` set: `<id>@<domain>`, Active Directory's userPrincipalName form.
//! - `dn_pattern` set: the pattern with `{0}` replaced by the id escaped for a DN value
//!   (RFC 4514), so `jlennon,ou=x` or `a+cn=b` stay one attribute value that names nobody.
//! - neither: the service account searches `user_search_base` (subtree) with
//!   `(&<user_filter>(<user_id_attribute>=<id>))`, the id escaped for a filter (RFC 4515, so
//!   `*` or `*)(uid=*` match themselves only); exactly one entry must match, zero or several
//!   refuse the login. The user then binds as the DN found.
//!
//! The user binds on a connection of its own, never on the service account's (whose identity
//! a failed rebind would leave undefined), with the same TLS or StartTLS settings; a failed TLS
//! upgrade fails the check, it never binds in clear text. Referrals are not followed, neither
//! in the search nor in the bind. A blank password is refused before anything connects: a
//! simple bind with an empty password is an unauthenticated bind, which servers accept.

use async_trait::async_trait;
use idmsync_domain::Password;
use idmsync_ports::{AuthError, DirectoryBind, LoginRecord, SourceError};

use crate::client::Endpoint;
use crate::config::{ConfigError, LdapConfig, Searches};
use crate::{dn, escape};

/// Where the login goes in `dn_pattern`, as in the original product's `userDnPattern`.
const LOGIN_PLACEHOLDER: &str = "{0}";

/// The attribute list that asks for no attributes (RFC 4511): the search only needs DNs.
const NO_ATTRIBUTES: &str = "1.1";

/// What the binder needs: the connection settings and how to find the DN to bind as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapBindConfig {
    /// `[source.ldap]`, with `[auth.ldap]` merged over it: URL, TLS, timeouts, the service
    /// account and the user search of a search-then-bind.
    pub connection: LdapConfig,
    /// `auth.dn_pattern`: the user's DN with `{0}` for the id; empty to search for it.
    pub dn_pattern: String,
    /// `auth.active_directory_domain`: bind as `<id>@<domain>`; empty for a DN.
    pub active_directory_domain: String,
}

/// A configuration the binder refuses, naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindConfigError {
    /// A connection or search setting, as the source would report it.
    #[error(transparent)]
    Connection(#[from] ConfigError),
    /// An `[auth]` setting.
    #[error("auth.{key}: {message}")]
    Auth {
        /// The key, without the `auth.` prefix.
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

/// How the bind name is found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Identity {
    /// `<id>@<domain>`.
    Principal { domain: String },
    /// `dn_pattern` with the escaped id.
    Pattern(String),
    /// The one entry of `(&<filter>(<attribute>=<escaped id>))` under `base`.
    Search {
        base: String,
        filter: String,
        attribute: String,
    },
}

/// The [`DirectoryBind`] adapter over LDAP. Holds no connection: each check connects, binds
/// and disconnects.
pub struct LdapBinder {
    endpoint: Endpoint,
    identity: Identity,
}

impl LdapBinder {
    /// Validates `config` as the source does (URL, TLS, CA file, service account, filters) and
    /// the `[auth]` keys, without connecting.
    ///
    /// # Errors
    /// A [`BindConfigError`] naming the key: any connection setting the source refuses;
    /// `dn_pattern` without `{0}` or not a DN; `active_directory_domain` with an `@` or
    /// combined with `dn_pattern`.
    pub fn new(config: LdapBindConfig) -> Result<Self, BindConfigError> {
        let identity = identity(&config)?;
        let connection = &config.connection;
        let endpoint = Endpoint::new(connection, Searches::Users)?;
        let identity = identity.unwrap_or_else(|| Identity::Search {
            base: connection.user_search_base.clone(),
            filter: connection.user_filter().to_owned(),
            attribute: connection.attribute_map().user_id,
        });
        Ok(Self { endpoint, identity })
    }

    /// The name to bind as for `id`, or `None` when no single entry has it.
    async fn bind_name(&self, id: &str) -> Result<Option<String>, AuthError> {
        match &self.identity {
            Identity::Principal { domain } => Ok(Some(format!("{id}@{domain}"))),
            Identity::Pattern(pattern) => Ok(Some(
                pattern.replace(LOGIN_PLACEHOLDER, &escape::dn_value(id)),
            )),
            Identity::Search {
                base,
                filter,
                attribute,
            } => {
                let filter = format!("(&{filter}({attribute}={}))", escape::filter_value(id));
                let mut conn = self.endpoint.connect().await.map_err(unavailable)?;
                let mut found = Vec::new();
                let searched = conn
                    .search(base, &filter, &[NO_ATTRIBUTES.to_owned()], |entry| {
                        found.push(entry.dn);
                    })
                    .await;
                conn.close().await;
                searched.map_err(unavailable)?;
                if found.len() == 1 {
                    Ok(found.pop())
                } else {
                    tracing::debug!(
                        base = %base,
                        %filter,
                        count = found.len(),
                        "a login must match exactly one directory entry"
                    );
                    Ok(None)
                }
            }
        }
    }
}

/// The identity the `[auth]` keys ask for; `None` for a search.
fn identity(config: &LdapBindConfig) -> Result<Option<Identity>, BindConfigError> {
    let auth = |key, message: &str| BindConfigError::Auth {
        key,
        message: message.to_owned(),
    };
    let pattern = config.dn_pattern.trim();
    let domain = config.active_directory_domain.trim();
    match (pattern.is_empty(), domain.is_empty()) {
        (true, true) => Ok(None),
        (false, false) => Err(auth(
            "active_directory_domain",
            "cannot be combined with auth.dn_pattern: choose one way of naming the user",
        )),
        (true, false) if domain.contains(['@', ' ', ',', '=']) => Err(auth(
            "active_directory_domain",
            "must be a DNS domain such as corp.example.com (without '@')",
        )),
        (true, false) => Ok(Some(Identity::Principal {
            domain: domain.to_owned(),
        })),
        (false, true) if !pattern.contains(LOGIN_PLACEHOLDER) => Err(auth(
            "dn_pattern",
            "must contain {0}, which stands for the login (e.g. uid={0},ou=people,dc=example,dc=com)",
        )),
        (false, true) if dn::normalize(&pattern.replace(LOGIN_PLACEHOLDER, "x")).is_err() => Err(
            auth("dn_pattern", "is not a distinguished name (RFC 4514)"),
        ),
        (false, true) => Ok(Some(Identity::Pattern(pattern.to_owned()))),
    }
}

fn unavailable(error: SourceError) -> AuthError {
    AuthError::Unavailable(error.to_string())
}

#[async_trait]
impl DirectoryBind for LdapBinder {
    async fn check(&self, user: &LoginRecord, password: &Password) -> Result<bool, AuthError> {
        let id = user.external_id.as_str();
        if id.trim().is_empty() || password.expose().trim().is_empty() {
            return Ok(false);
        }
        let Some(name) = self.bind_name(id).await? else {
            return Ok(false);
        };
        self.endpoint
            .bind_as(&name, password.expose())
            .await
            .map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dn_pattern: &str, domain: &str) -> LdapBindConfig {
        LdapBindConfig {
            connection: LdapConfig::default(),
            dn_pattern: dn_pattern.into(),
            active_directory_domain: domain.into(),
        }
    }

    fn key(result: Result<Option<Identity>, BindConfigError>) -> &'static str {
        match result {
            Err(BindConfigError::Auth { key, .. }) => key,
            other => panic!("expected an [auth] error, got {other:?}"),
        }
    }

    #[test]
    fn the_auth_keys_choose_the_identity() {
        assert_eq!(identity(&config("", "")), Ok(None));
        assert_eq!(
            identity(&config("", " corp.example.com ")),
            Ok(Some(Identity::Principal {
                domain: "corp.example.com".into()
            }))
        );
        assert_eq!(
            identity(&config("uid={0},ou=people,dc=example,dc=com", "")),
            Ok(Some(Identity::Pattern(
                "uid={0},ou=people,dc=example,dc=com".into()
            )))
        );
    }

    #[test]
    fn bad_auth_keys_are_named() {
        assert_eq!(key(identity(&config("uid=x,dc=example", ""))), "dn_pattern");
        assert_eq!(key(identity(&config("{0}", ""))), "dn_pattern");
        assert_eq!(key(identity(&config("uid={0},,dc=x", ""))), "dn_pattern");
        assert_eq!(
            key(identity(&config("", "user@corp.example.com"))),
            "active_directory_domain"
        );
        assert_eq!(
            key(identity(&config("uid={0},dc=x", "corp.example.com"))),
            "active_directory_domain"
        );
    }
}
