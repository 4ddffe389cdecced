//! The console's sessions: who signed in, their CSRF token, and when they were last seen.
//!
//! Sessions live in this process's memory: a restart signs everyone out, which an operator's
//! console can afford, and nothing about a session is ever written to disk or the database. The
//! cookie carries only a random id (256 bits from the operating system), `HttpOnly` (no script
//! reads it), `SameSite=Strict` (no other site's page sends it) and `Secure` under HTTPS. Every
//! state-changing request also carries the session's CSRF token in its form, compared in
//! constant time, so that even a same-site page cannot act for the operator.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::header::COOKIE;
use axum::http::HeaderMap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "idmsync_session";
/// The cookie of a sign-in form: its token must come back with the form, so that another site
/// cannot sign a browser in to an account of its choosing.
pub(crate) const SIGN_IN_COOKIE: &str = "idmsync_sign_in";

/// One signed-in administrator.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// Their login, as they typed it.
    pub(crate) login: String,
    /// The tenant they administer, which every page of the session shows.
    pub(crate) tenant: String,
    /// The token every form of the session carries.
    pub(crate) csrf: String,
    last_seen: Instant,
}

/// Every live session, by id.
#[derive(Debug, Clone)]
pub(crate) struct Sessions {
    live: Arc<Mutex<HashMap<String, Session>>>,
    idle: Duration,
}

impl Sessions {
    /// No session yet; each ends after `idle` without a request.
    pub(crate) fn new(idle: Duration) -> Self {
        Self {
            live: Arc::default(),
            idle,
        }
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a session for `login` of `tenant` and returns its id.
    pub(crate) fn open(&self, login: &str, tenant: &str) -> String {
        let id = random_token();
        let now = Instant::now();
        let mut live = self.live();
        live.retain(|_, s| now.duration_since(s.last_seen) < self.idle);
        live.insert(
            id.clone(),
            Session {
                login: login.to_string(),
                tenant: tenant.to_string(),
                csrf: random_token(),
                last_seen: now,
            },
        );
        id
    }

    /// The session of the request's cookie, if it is live; a request keeps it alive.
    pub(crate) fn find(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers, SESSION_COOKIE)?;
        let now = Instant::now();
        let mut live = self.live();
        let session = live.get_mut(&id)?;
        if now.duration_since(session.last_seen) >= self.idle {
            live.remove(&id);
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    /// Ends the request's session, if it has one.
    pub(crate) fn close(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers, SESSION_COOKIE) {
            self.live().remove(&id);
        }
    }
}

/// Tokens are compared as the SCIM bearer tokens are: as digests, in constant time.
pub(crate) use crate::secret::same as same_token;

/// 32 random bytes from the operating system, URL-safe base64.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // Without the system's randomness no session can be safe: better to stop than to guess.
    getrandom::fill(&mut bytes).expect("the operating system's random number generator");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

/// A `Set-Cookie` value for `name`: `HttpOnly`, `SameSite=Strict`, on every path, `Secure`
/// under HTTPS; `value: None` removes it.
pub(crate) fn set_cookie(name: &str, value: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match value {
        Some(value) => format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}"),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(value).expect("header"));
        headers
    }

    #[test]
    fn a_session_is_found_by_its_cookie_until_closed() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let id = sessions.open("admin", "default");
        let headers = with_cookie(&format!("other=1; {SESSION_COOKIE}={id}"));
        let session = sessions.find(&headers).expect("live");
        assert_eq!(session.login, "admin");
        assert_ne!(session.csrf, id);
        sessions.close(&headers);
        assert!(sessions.find(&headers).is_none());
        assert!(sessions
            .find(&with_cookie(&format!("{SESSION_COOKIE}=guess")))
            .is_none());
    }

    #[test]
    fn an_idle_session_ends() {
        let sessions = Sessions::new(Duration::ZERO);
        let id = sessions.open("admin", "default");
        assert!(sessions
            .find(&with_cookie(&format!("{SESSION_COOKIE}={id}")))
            .is_none());
    }

    #[test]
    fn tokens_are_random_and_compared_whole() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(same_token(&a, &a.clone()));
        assert!(!same_token(&a, &b));
        assert!(!same_token(&a[..42], &a));
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_under_https() {
        let plain = set_cookie(SESSION_COOKIE, Some("x"), false);
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
        assert!(!plain.contains("Secure"));
        assert!(set_cookie(SESSION_COOKIE, Some("x"), true).ends_with("; Secure"));
        assert!(set_cookie(SESSION_COOKIE, None, false).contains("Max-Age=0"));
    }
}
