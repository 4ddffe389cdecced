//! The LDAP protocol side, and the only module that talks to a server through ldap3 (`escape`
//! borrows only its escaping and filter parser): connecting (TLS, StartTLS),
//! binding (as the service account, or as a user to check a password), paged searches that
//! hand entries over one at a time, and base reads of one entry
//! (the root DSE, the further ranges of a group's members). Every ldap3 error becomes
//! a [`SourceError`] here, with the URL, the operation and the LDAP result code in its message.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use idmsync_tls::{ClientConfig, Verify};
use ldap3::adapters::PagedResults;
use ldap3::asn1::StructureTag;
use ldap3::controls::RawControl;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, LdapResult, Scope, SearchStream};

use idmsync_ports::SourceError;

use crate::config::{Checked, ConfigError, LdapConfig, Searches, Secret, Transport};
use crate::content_sync::{self, Mode, SyncDone, SyncInfo, SyncState};
use crate::escape;
use crate::raw::RawEntry;

/// LDAP result codes that say the server cannot answer now (busy, unavailable), as opposed to
/// refusing a bind.
const SERVER_DOWN_CODES: [u32; 2] = [51, 52];

/// The result of a search whose critical control the server does not offer there.
const UNAVAILABLE_CRITICAL_EXTENSION: u32 = 12;

/// The TLS configuration for `ldaps://` and StartTLS: the system roots or `ca_file`, and the
/// whole certificate verified, or nothing verified when `insecure`.
///
/// # Errors
/// The reason, when `ca_file` cannot be read or holds no PEM certificate.
fn tls_config(ca_file: Option<&Path>, insecure: bool) -> Result<Arc<ClientConfig>, String> {
    let verify = if insecure {
        Verify::Nothing
    } else {
        Verify::Full
    };
    idmsync_tls::client_config(ca_file, verify)
        .map(Arc::new)
        .map_err(|e| e.to_string())
}

/// How to reach and bind to the directory and page its searches; built once, used by every
/// run.
pub(crate) struct Endpoint {
    /// The server URL, for the connection and every message.
    pub(crate) url: String,
    /// Clear, StartTLS or LDAPS.
    transport: Transport,
    /// Present for StartTLS and LDAPS.
    tls: Option<Arc<ClientConfig>>,
    /// Who binds.
    pub(crate) bind_dn: String,
    /// With what.
    pub(crate) password: Secret,
    /// Limit on the TCP connection and TLS handshake.
    connect_timeout: Duration,
    /// Limit on each reply.
    timeout: Duration,
    /// Entries per page.
    page_size: i32,
}

impl Endpoint {
    /// The endpoint `config` describes, checked for `searches`: the one way from the
    /// configuration to a connection, so that the source and the binder refuse the same
    /// settings and connect alike. Reads the password and CA files; connects to nothing, so a
    /// down directory does not stop the service from starting.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the key: whatever [`LdapConfig::check`] refuses, and a
    /// `ca_file` that cannot be read or holds no certificate.
    pub(crate) fn new(config: &LdapConfig, searches: Searches) -> Result<Self, ConfigError> {
        let Checked {
            transport,
            password,
            page_size,
        } = config.check(escape::is_valid_filter, searches)?;
        let tls = match transport {
            Transport::Clear => None,
            Transport::StartTls | Transport::Ldaps => Some(
                tls_config(config.ca_file.as_deref(), config.insecure_skip_verify)
                    .map_err(|message| ConfigError::new("ca_file", message))?,
            ),
        };
        Ok(Self {
            url: config.url.clone(),
            transport,
            tls,
            bind_dn: config.bind_dn.clone(),
            password,
            connect_timeout: Duration::from_secs(config.connect_timeout_secs),
            timeout: Duration::from_secs(config.timeout_secs),
            page_size,
        })
    }

    /// Connects and binds as the service account.
    ///
    /// # Errors
    /// `Unavailable` when the server cannot be reached, TLS or StartTLS fails (never retried
    /// in clear text), or the bind is refused.
    pub(crate) async fn connect(&self) -> Result<Connection<'_>, SourceError> {
        let mut ldap = self.open().await?;
        let bound = ldap
            .with_timeout(self.timeout)
            .simple_bind(&self.bind_dn, self.password.expose())
            .await
            .and_then(|result| result.success());
        if let Err(e) = bound {
            return Err(self.unavailable(format!("bind as {}", self.bind_dn), &e));
        }
        tracing::debug!(url = %self.url, bind_dn = %self.bind_dn, "bound to the directory");
        Ok(Connection {
            endpoint: self,
            ldap,
        })
    }

    /// Checks a user's password with a simple bind as `dn` on a connection of its own (the
    /// service account's connection is never rebound), then unbinds. The result code decides,
    /// not the transport: only `success` (0) accepts. The caller refuses blank passwords
    /// first: a simple bind with an empty password is an unauthenticated bind, which servers
    /// answer with success.
    ///
    /// # Errors
    /// `Unavailable` when the server cannot be reached, TLS or StartTLS fails (never retried
    /// in clear text), the reply times out, or the server answers busy or unavailable. Every
    /// other result (invalidCredentials, noSuchObject, a referral, which is not followed, ...)
    /// is `Ok(false)`.
    pub(crate) async fn bind_as(&self, dn: &str, password: &str) -> Result<bool, SourceError> {
        let mut ldap = self.open().await?;
        let bound = ldap
            .with_timeout(self.timeout)
            .simple_bind(dn, password)
            .await;
        if let Err(error) = ldap.unbind().await {
            tracing::debug!(url = %self.url, %error, "unbind failed");
        }
        // Should a server ever echo the password, it stays out of messages and logs.
        let mask = |text: String| text.replace(password, "***");
        match bound {
            Ok(result) if result.rc == 0 => Ok(true),
            Ok(result) if SERVER_DOWN_CODES.contains(&result.rc) => {
                Err(SourceError::Unavailable(mask(format!(
                    "{}: bind as {dn}: {}",
                    self.url,
                    describe_result(&result)
                ))))
            }
            Ok(result) => {
                tracing::debug!(
                    url = %self.url,
                    dn,
                    rc = result.rc,
                    text = %mask(result.text),
                    "the directory refused a user bind"
                );
                Ok(false)
            }
            Err(e) => Err(SourceError::Unavailable(mask(
                self.message(&format!("bind as {dn}"), &e),
            ))),
        }
    }

    /// Connects without binding: TLS or StartTLS as configured, never falling back to clear
    /// text.
    ///
    /// # Errors
    /// `Unavailable` when the server cannot be reached or TLS or StartTLS fails.
    async fn open(&self) -> Result<Ldap, SourceError> {
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(self.connect_timeout)
            .set_starttls(self.transport == Transport::StartTls);
        if let Some(tls) = &self.tls {
            settings = settings.set_config(Arc::clone(tls));
        }
        let how = match self.transport {
            Transport::StartTls => " with StartTLS",
            Transport::Clear | Transport::Ldaps => "",
        };
        let (conn, ldap) = LdapConnAsync::with_settings(settings, &self.url)
            .await
            .map_err(|e| self.unavailable(format!("connect{how}"), &e))?;
        let url = self.url.clone();
        tokio::spawn(async move {
            if let Err(error) = conn.drive().await {
                tracing::debug!(%url, %error, "LDAP connection ended with an error");
            }
        });
        Ok(ldap)
    }

    fn unavailable(&self, operation: String, error: &LdapError) -> SourceError {
        SourceError::Unavailable(self.message(&operation, error))
    }

    /// `<url>: <operation> failed: <error>`, with the password masked should a server ever
    /// echo it.
    fn message(&self, operation: &str, error: &LdapError) -> String {
        let text = format!("{}: {operation} failed: {}", self.url, describe(error));
        text.replace(self.password.expose(), "***")
    }
}

/// An ldap3 error in an operator's words: an LDAP result as its meaning and code
/// (`invalid credentials (49)`) with the server's diagnostic text if it sent one (Active
/// Directory's says why: `data 52e` a wrong password, `data 775` a locked account), rather
/// than ldap3's debug-like `rc=49 (invalidCredentials), dn: "", text: ""`.
fn describe(error: &LdapError) -> String {
    match error {
        LdapError::LdapResult { result } => describe_result(result),
        other => other.to_string(),
    }
}

/// See [`describe`].
fn describe_result(result: &LdapResult) -> String {
    let meaning = match result.rc {
        1 => "operations error",
        2 => "protocol error",
        3 => "time limit exceeded",
        4 => "size limit exceeded",
        7 => "authentication method not supported",
        8 => "stronger authentication required",
        10 => "referral to another server (not followed)",
        11 => "administrative limit exceeded",
        12 => "unavailable critical extension",
        13 => "confidentiality required (use TLS)",
        16 => "no such attribute",
        17 => "undefined attribute type",
        32 => "no such object",
        34 => "invalid DN syntax",
        48 => "inappropriate authentication",
        49 => "invalid credentials",
        50 => "insufficient access rights",
        51 => "server busy",
        52 => "server unavailable",
        53 => "server unwilling to perform",
        80 => "other server error",
        87 => "filter error",
        _ => "LDAP error",
    };
    let text = result.text.trim();
    let mut said = if text.is_empty() {
        format!("{meaning} ({})", result.rc)
    } else {
        format!("{meaning} ({}): {text}", result.rc)
    };
    if let Some(hint) = hint(result.rc) {
        said.push_str("; ");
        said.push_str(hint);
    }
    said
}

/// What usually causes a result a search meets on a directory that works, and what to change;
/// the server's own words rarely say.
fn hint(rc: u32) -> Option<&'static str> {
    Some(match rc {
        4 => {
            "each page must stay below the server's size limit for the sync account: lower \
             source.ldap.page_size or raise the limit (389-ds: nsSizeLimit on the account or \
             nsslapd-sizelimit; OpenLDAP: `limits` with size.prtotal=unlimited)"
        }
        11 => {
            "the server's look-through or paged-search limits stop the search before the end: \
             on 389-ds give the sync account nsPagedSizeLimit: -1 and \
             nsPagedLookThroughLimit: -1 (or raise nsslapd-lookthroughlimit); on Active \
             Directory raise MaxPageSize or lower source.ldap.page_size"
        }
        50 => "the sync account may not read this: check the directory's ACLs or ACIs for it",
        _ => return None,
    })
}

/// One item of a search with a request control.
pub(crate) enum Item {
    /// An entry and the controls that came with it.
    Entry(RawEntry, Vec<RawControl>),
    /// An intermediate response.
    Intermediate(StructureTag),
}

/// How a search with a request control ended.
pub(crate) struct Ended {
    /// Success (0) or one of the accepted result codes.
    pub(crate) rc: u32,
    /// The response controls of the result.
    pub(crate) controls: Vec<RawControl>,
}

/// The value of the control `oid` among `controls`.
pub(crate) fn value_of<'c>(controls: &'c [RawControl], oid: &str) -> Option<&'c [u8]> {
    controls
        .iter()
        .find(|c| c.ctype == oid)
        .and_then(|c| c.val.as_deref())
}

/// One message of a synchronisation search.
pub(crate) enum SyncMessage {
    /// An entry (with its attributes when added or changed, its DN alone otherwise).
    Entry(SyncState, RawEntry),
    /// A new cookie, the end of a phase, or a set of UUIDs present or deleted.
    Info(SyncInfo),
}

/// How a synchronisation refresh ended.
pub(crate) enum SyncEnd {
    /// With the final cookie and phase.
    Done(SyncDone),
    /// `e-syncRefreshRequired`: the server no longer knows the cookie.
    RefreshRequired,
    /// `unavailableCriticalExtension`: no provider for this base (OpenLDAP lists the control
    /// once the syncprov module is loaded, whichever databases have the overlay).
    Unsupported,
}

/// A bound connection, for the operations of one run.
pub(crate) struct Connection<'e> {
    endpoint: &'e Endpoint,
    ldap: Ldap,
}

impl Connection<'_> {
    /// A paged subtree search under `base`, handing each entry to `on_entry` as it arrives.
    /// Referrals and search references are not followed: the adapter reads one server.
    ///
    /// # Errors
    /// `Failed` when any page fails, the server ends the search with a result other than
    /// success (`sizeLimitExceeded`, `timeLimitExceeded`, ...), a reply times out, the
    /// connection drops, or an entry is malformed. Entries already handed over are then
    /// incomplete and the caller must discard them.
    pub(crate) async fn search(
        &mut self,
        base: &str,
        filter: &str,
        attributes: &[String],
        mut on_entry: impl FnMut(RawEntry) + Send,
    ) -> Result<(), SourceError> {
        let operation = format!("search under {base} with filter {filter}");
        let failed = |e: LdapError| SourceError::Failed(self.endpoint.message(&operation, &e));
        let mut stream = self
            .ldap
            .with_timeout(self.endpoint.timeout)
            .streaming_search_with(
                PagedResults::new(self.endpoint.page_size),
                base,
                Scope::Subtree,
                filter,
                attributes.to_vec(),
            )
            .await
            .map_err(failed)?;
        let at = format!("{}: {operation}", self.endpoint.url);
        drain(&mut stream, (failed, &at), |item| {
            if let Item::Entry(entry, _) = item {
                on_entry(entry);
            }
            Ok(())
        })
        .await?;
        stream.finish().await.success().map_err(failed)?;
        Ok(())
    }

    /// A search (`what`, for messages) under `base` (`scope_base`: the base entry alone) with
    /// one request `control`,
    /// not paged, handing each entry (with its response controls) and each intermediate
    /// message to `on_item` as it arrives; `on_item` may stop the search with an error.
    /// `timeout` bounds each reply (a search that stays open, such as a persistent one, has
    /// none). Ends with the result code and the response controls when the result is success
    /// or one of `accepted`.
    ///
    /// # Errors
    /// `Failed` as [`Connection::search`], for any other result, and whatever `on_item`
    /// returns.
    pub(crate) async fn controlled_search(
        &mut self,
        what: &str,
        (base, scope_base, filter): (&str, bool, &str),
        attributes: &[String],
        (control, timeout): (RawControl, bool),
        accepted: &[u32],
        on_item: impl FnMut(Item) -> Result<(), SourceError> + Send,
    ) -> Result<Ended, SourceError> {
        let operation = format!("{what} under {base} with filter {filter}");
        let failed = |e: LdapError| SourceError::Failed(self.endpoint.message(&operation, &e));
        let scope = if scope_base {
            Scope::Base
        } else {
            Scope::Subtree
        };
        let ldap = self.ldap.with_controls(control);
        if timeout {
            ldap.with_timeout(self.endpoint.timeout);
        }
        let mut stream = ldap
            .streaming_search(base, scope, filter, attributes.to_vec())
            .await
            .map_err(failed)?;
        let at = format!("{}: {operation}", self.endpoint.url);
        drain(&mut stream, (failed, &at), on_item).await?;
        let result = stream.finish().await;
        let result = if accepted.contains(&result.rc) {
            result
        } else {
            result.success().map_err(failed)?
        };
        Ok(Ended {
            rc: result.rc,
            controls: result.ctrls.into_iter().map(|c| c.1).collect(),
        })
    }

    /// An RFC 4533 synchronisation search under `base` (`scope_base` searches the base entry
    /// alone), resuming from `cookie`, handing each entry and Sync Info message to `on_message`
    /// as it arrives. Not paged: content synchronisation does not combine with paging, so the
    /// sync account needs unlimited size and time limits. A refresh ends with the search; with
    /// [`Mode::RefreshAndPersist`] the search stays open (no reply timeout) until the
    /// connection drops.
    ///
    /// # Errors
    /// `Failed` as [`Connection::controlled_search`], for a malformed Sync State, Sync Info or
    /// Sync Done (never a panic), and for a result other than success, `e-syncRefreshRequired`
    /// or `unavailableCriticalExtension`.
    pub(crate) async fn sync_search(
        &mut self,
        (base, scope_base, filter): (&str, bool, &str),
        attributes: &[String],
        (mode, cookie): (Mode, Option<&[u8]>),
        mut on_message: impl FnMut(SyncMessage) + Send,
    ) -> Result<SyncEnd, SourceError> {
        let url = self.endpoint.url.clone();
        let malformed = |what: &str| {
            SourceError::Failed(format!(
                "{url}: content synchronisation under {base}: the server sent a malformed {what}"
            ))
        };
        let ended = self
            .controlled_search(
                "content synchronisation",
                (base, scope_base, filter),
                attributes,
                (
                    content_sync::request(mode, cookie),
                    mode == Mode::RefreshOnly,
                ),
                &[
                    content_sync::REFRESH_REQUIRED,
                    UNAVAILABLE_CRITICAL_EXTENSION,
                ],
                |item| {
                    let message = match item {
                        Item::Intermediate(tag) => SyncMessage::Info(
                            content_sync::sync_info(tag)
                                .ok_or_else(|| malformed("Sync Info message"))?,
                        ),
                        Item::Entry(entry, controls) => {
                            let state = value_of(&controls, content_sync::SYNC_STATE_OID)
                                .and_then(content_sync::sync_state)
                                .ok_or_else(|| malformed("or missing Sync State control"))?;
                            SyncMessage::Entry(state, entry)
                        }
                    };
                    on_message(message);
                    Ok(())
                },
            )
            .await?;
        match ended.rc {
            content_sync::REFRESH_REQUIRED => Ok(SyncEnd::RefreshRequired),
            UNAVAILABLE_CRITICAL_EXTENSION => Ok(SyncEnd::Unsupported),
            _ => value_of(&ended.controls, content_sync::SYNC_DONE_OID)
                .and_then(content_sync::sync_done)
                .map(SyncEnd::Done)
                .ok_or_else(|| malformed("or missing Sync Done control")),
        }
    }

    /// Reads the entry `dn` (the root DSE for `""`) with `attributes`: a base search, not paged.
    /// `None` when the entry exists but the search returned nothing (an access control that
    /// hides it).
    ///
    /// # Errors
    /// `Failed` when the search fails (`noSuchObject` included: a caller reading an entry it
    /// just found must not take its disappearance for an empty answer), times out or returns a
    /// malformed entry.
    pub(crate) async fn read(
        &mut self,
        dn: &str,
        attributes: &[String],
    ) -> Result<Option<RawEntry>, SourceError> {
        let operation = format!("read of '{dn}' ({})", attributes.join(", "));
        let failed = |e: LdapError| SourceError::Failed(self.endpoint.message(&operation, &e));
        let (entries, _) = self
            .ldap
            .with_timeout(self.endpoint.timeout)
            .search(dn, Scope::Base, "(objectClass=*)", attributes.to_vec())
            .await
            .and_then(|result| result.success())
            .map_err(failed)?;
        match entries.into_iter().next() {
            None => Ok(None),
            Some(entry) => raw_entry(entry.0).map(Some).ok_or_else(|| {
                SourceError::Failed(format!(
                    "{}: {operation}: the server sent a malformed entry",
                    self.endpoint.url
                ))
            }),
        }
    }

    /// The URL, for messages of the callers.
    pub(crate) fn url(&self) -> &str {
        &self.endpoint.url
    }

    /// Unbinds; a failure only means the connection is already gone.
    pub(crate) async fn close(mut self) {
        if let Err(error) = self.ldap.unbind().await {
            tracing::debug!(url = %self.endpoint.url, %error, "unbind failed");
        }
    }
}

/// Hands each item of `stream` to `on_item`: entries decoded (with their response controls),
/// intermediate messages as they are; search references are skipped (the adapter reads one
/// server). `failed` makes the error of a broken stream; `at` (`<url>: <operation>`) names a
/// malformed entry.
///
/// # Errors
/// `Failed` when the stream breaks (a timeout, a dropped connection) or an entry is malformed;
/// whatever `on_item` returns.
async fn drain(
    stream: &mut SearchStream<'_, String, Vec<String>>,
    (failed, at): (impl Fn(LdapError) -> SourceError, &str),
    mut on_item: impl FnMut(Item) -> Result<(), SourceError> + Send,
) -> Result<(), SourceError> {
    while let Some(item) = stream.next().await.map_err(&failed)? {
        if item.is_ref() {
            tracing::debug!(at, "ignored a search reference");
            continue;
        }
        if item.is_intermediate() {
            on_item(Item::Intermediate(item.0))?;
            continue;
        }
        let controls = item.1.into_iter().map(|c| c.1).collect();
        let entry = raw_entry(item.0).ok_or_else(|| {
            SourceError::Failed(format!("{at}: the server sent a malformed entry"))
        })?;
        on_item(Item::Entry(entry, controls))?;
    }
    Ok(())
}

/// Decodes a SearchResultEntry (`[APPLICATION 4] { objectName, attributes }`) without the
/// panics of ldap3's `SearchEntry::construct`; `None` when it is malformed.
fn raw_entry(tag: StructureTag) -> Option<RawEntry> {
    let mut parts = tag.match_id(4)?.expect_constructed()?.into_iter();
    let dn = String::from_utf8(parts.next()?.expect_primitive()?).ok()?;
    let attributes = parts
        .next()?
        .expect_constructed()?
        .into_iter()
        .map(|attribute| {
            let mut attribute = attribute.expect_constructed()?.into_iter();
            let name = String::from_utf8(attribute.next()?.expect_primitive()?).ok()?;
            let values = attribute
                .next()?
                .expect_constructed()?
                .into_iter()
                .map(StructureTag::expect_primitive)
                .collect::<Option<Vec<_>>>()?;
            Some((name, values))
        })
        .collect::<Option<Vec<_>>>()?;
    Some(RawEntry { dn, attributes })
}

#[cfg(test)]
mod tests {
    use ldap3::LdapResult;

    use ldap3::asn1::{TagClass, PL};

    use super::*;

    fn primitive(id: u64, bytes: &[u8]) -> StructureTag {
        StructureTag {
            class: TagClass::Universal,
            id,
            payload: PL::P(bytes.to_vec()),
        }
    }

    fn constructed(class: TagClass, id: u64, inner: Vec<StructureTag>) -> StructureTag {
        StructureTag {
            class,
            id,
            payload: PL::C(inner),
        }
    }

    fn sequence(inner: Vec<StructureTag>) -> StructureTag {
        constructed(TagClass::Universal, 16, inner)
    }

    #[test]
    fn entries_decode_without_panicking() {
        let attribute = sequence(vec![
            primitive(4, b"cn"),
            constructed(
                TagClass::Universal,
                17,
                vec![primitive(4, b"a"), primitive(4, b"b")],
            ),
        ]);
        let entry = constructed(
            TagClass::Application,
            4,
            vec![primitive(4, b"cn=a,dc=x"), sequence(vec![attribute])],
        );
        assert_eq!(
            raw_entry(entry),
            Some(RawEntry {
                dn: "cn=a,dc=x".into(),
                attributes: vec![("cn".into(), vec![b"a".to_vec(), b"b".to_vec()])],
            })
        );
        let no_attributes = constructed(TagClass::Application, 4, vec![primitive(4, b"cn=a")]);
        assert_eq!(raw_entry(no_attributes), None);
        let wrong_id = constructed(TagClass::Application, 5, vec![]);
        assert_eq!(raw_entry(wrong_id), None);
        let bad_dn = constructed(
            TagClass::Application,
            4,
            vec![primitive(4, &[0xff]), sequence(vec![])],
        );
        assert_eq!(raw_entry(bad_dn), None);
    }

    fn result(rc: u32, text: &str) -> LdapResult {
        LdapResult {
            rc,
            matched: String::new(),
            text: text.into(),
            refs: Vec::new(),
            ctrls: Vec::new(),
        }
    }

    #[test]
    fn results_read_as_words_with_a_hint_where_the_cause_is_known() {
        assert_eq!(describe_result(&result(49, "")), "invalid credentials (49)");
        assert_eq!(
            describe_result(&result(32, "  ")),
            "no such object (32)",
            "blank server text is left out"
        );
        let size = describe_result(&result(4, ""));
        assert!(size.starts_with("size limit exceeded (4); "), "{size}");
        assert!(size.contains("source.ldap.page_size"), "{size}");
        let admin = describe_result(&result(11, "Administrative limit exceeded"));
        assert!(
            admin
                .starts_with("administrative limit exceeded (11): Administrative limit exceeded; "),
            "{admin}"
        );
        assert!(admin.contains("nsPagedLookThroughLimit: -1"), "{admin}");
        assert!(describe_result(&result(50, "")).contains("ACIs"));
    }
}
