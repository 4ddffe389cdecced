//! [`SlapdBuilder`]: what a test server should contain and how it should listen.

use crate::server::Slapd;
use crate::DEFAULT_SUFFIX;

/// Configures a [`Slapd`] before [`start`](SlapdBuilder::start); made by [`Slapd::builder`].
///
/// Every option is something the LDAP adapter must cope with in production (a size limit, TLS,
/// a particular directory), so each one is a switch here rather than a separate fixture server.
#[derive(Debug, Clone)]
pub struct SlapdBuilder {
    pub(crate) suffix: String,
    pub(crate) ldif: Vec<String>,
    pub(crate) tls: bool,
    pub(crate) sync_size_limit: Option<u64>,
    pub(crate) port: Option<u16>,
    pub(crate) hidden: Vec<(String, String)>,
    pub(crate) syncprov: Option<SessionLog>,
}

/// How many write operations the syncprov overlay remembers, so that a refresh from a cookie can
/// name the deleted entries (the delete phase) instead of naming every entry still there (the
/// present phase).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionLog {
    /// No session log: every refresh from a cookie has a present phase.
    None,
    /// A session log of this many operations (in memory: a restart forgets it).
    Operations(u32),
}

impl SlapdBuilder {
    pub(crate) fn new() -> Self {
        SlapdBuilder {
            suffix: DEFAULT_SUFFIX.to_string(),
            ldif: Vec::new(),
            tls: false,
            sync_size_limit: None,
            port: None,
            hidden: Vec::new(),
            syncprov: None,
        }
    }

    /// Loads the syncprov overlay on the database, so that the server offers RFC 4533 content
    /// synchronisation (its root DSE lists the Sync Request control) with `session_log`.
    pub fn syncprov(mut self, session_log: SessionLog) -> Self {
        self.syncprov = Some(session_log);
        self
    }

    /// Serves `suffix` instead of `dc=example,dc=com`. Its first RDN must be `dc=`, `o=` or
    /// `ou=` (the suffix entry is made to match). [`fixtures`](crate::fixtures) are written for
    /// the default suffix.
    pub fn suffix(mut self, suffix: &str) -> Self {
        self.suffix = suffix.to_string();
        self
    }

    /// Adds entries, loaded with `slapadd` before the server starts: offline loading is fast
    /// even for benchmark-sized directories, and a malformed entry fails the start with
    /// slapadd's message. May be called several times; the texts are loaded in order, after the
    /// base entries (the suffix, `ou=services` and the sync account), so they must not repeat
    /// those, must list parents before children and must not contain a `version:` line.
    pub fn ldif(mut self, ldif: impl Into<String>) -> Self {
        self.ldif.push(ldif.into());
        self
    }

    /// Also serves `ldaps://` on a second port and StartTLS on the plain port, with a server
    /// certificate for `127.0.0.1` and `localhost` signed by a fresh test CA
    /// ([`Slapd::ca_file`]). Clients should connect to `127.0.0.1`: libldap checks the name it
    /// canonicalised `localhost` to, which need not be `localhost`.
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Caps what the sync account gets from a *non-paged* search at `limit` entries (the
    /// search ends with `sizeLimitExceeded`), while paged searches still return everything:
    /// real servers (Active Directory's MaxPageSize, OpenLDAP's `limits`) do this, and idmsync
    /// must page to see a whole directory. Without it the sync account has no size limit.
    pub fn sync_size_limit(mut self, limit: u64) -> Self {
        self.sync_size_limit = Some(limit);
        self
    }

    /// Hides `attribute` of the entries matching the LDAP `filter` from the sync account, as a
    /// directory's access rules do when a service account may not read what identifies some
    /// entries. A filter on a value a test can change (`(description=hidden)`) hides entries
    /// while the server runs.
    pub fn hide(mut self, filter: &str, attribute: &str) -> Self {
        self.hidden
            .push((filter.to_string(), attribute.to_string()));
        self
    }

    /// Listens on this fixed port (and, with [`tls`](Self::tls), on `port + 1` for `ldaps://`)
    /// instead of free ones, so a configuration file can point at it (`cargo xtask ldap`).
    /// Tests should not use it: fixed ports collide when tests run in parallel.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Creates the directory, loads the entries, starts slapd and returns once it answers a
    /// bind as the sync account.
    ///
    /// # Panics
    /// If slapd or ldap-utils are not installed (the message says how to install them), if
    /// slapadd rejects an entry, or if slapd does not come up (with the tail of its log).
    pub fn start(self) -> Slapd {
        Slapd::launch(self)
    }
}
