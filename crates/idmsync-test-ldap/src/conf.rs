//! The generated `slapd.conf` and the base entries (suffix, service OU, sync account) that every
//! server starts with.

use std::fmt::Write as _;
use std::path::Path;

use crate::builder::SessionLog;
use crate::tls::TlsFiles;
use crate::tools::{MODULE_DIR, SCHEMA_DIR};

/// The schemas loaded, in dependency order: `nis` brings posixGroup/memberUid, `inetorgperson`
/// the user entries.
const SCHEMAS: [&str; 4] = ["core", "cosine", "nis", "inetorgperson"];

/// Everything `slapd.conf` depends on.
pub(crate) struct Conf<'a> {
    /// The server's directory; the database lives in `db/` below it.
    pub dir: &'a Path,
    pub suffix: &'a str,
    pub admin_dn: &'a str,
    pub admin_password: &'a str,
    pub sync_dn: &'a str,
    pub sync_size_limit: Option<u64>,
    pub tls: Option<&'a TlsFiles>,
    /// `(filter, attribute)` pairs the sync account may not read.
    pub hidden: &'a [(String, String)],
    /// The syncprov overlay and its session log, if any.
    pub syncprov: Option<SessionLog>,
}

impl Conf<'_> {
    /// The text of `slapd.conf`. Listen URLs are not in it (they are slapd's `-h` argument), so
    /// the same file serves `slapadd` and every restart.
    pub(crate) fn render(&self) -> String {
        for value in [self.suffix, self.sync_dn, self.admin_dn] {
            assert!(
                !value.contains(['"', '\n']),
                "DN {value:?} cannot be quoted in slapd.conf"
            );
        }
        let mut conf = String::new();
        for schema in SCHEMAS {
            writeln!(conf, "include {SCHEMA_DIR}/{schema}.schema").expect("writing to a String");
        }
        let dir = self.dir.display();
        let sync = self.sync_dn;
        // Non-rootdn searches are capped at 500 entries by default; idmsync's account must see
        // everything unless a test asks for a limit. With a limit, only non-paged searches hit
        // it: `size.prtotal=unlimited` lets a paged search return the whole directory, which
        // is how Active Directory's MaxPageSize behaves and why idmsync must page.
        let size = match self.sync_size_limit {
            None => "size=unlimited".to_string(),
            Some(n) => format!("size.soft={n} size.hard={n} size.prtotal=unlimited"),
        };
        write!(
            conf,
            r#"modulepath {MODULE_DIR}
moduleload back_mdb
moduleload ppolicy
moduleload syncprov
"#
        )
        .expect("writing to a String");
        if let Some(tls) = self.tls {
            write!(
                conf,
                "TLSCACertificateFile {}\nTLSCertificateFile {}\nTLSCertificateKeyFile {}\n",
                tls.ca.display(),
                tls.cert.display(),
                tls.key.display(),
            )
            .expect("writing to a String");
        }
        write!(
            conf,
            r#"
database mdb
suffix "{suffix}"
rootdn "{admin}"
rootpw {admin_password}
directory {dir}/db
# A sparse file: room for benchmark directories of a million memberships.
maxsize 4294967296
# A crashed *process* loses nothing (the data is in the page cache); only an OS crash would,
# and these databases do not outlive the test.
dbnosync
index objectClass eq
index uid,cn,mail eq
index member,memberUid eq
index entryUUID,entryCSN eq

limits dn.exact="{sync}" time=unlimited {size}

# The password policy overlay, for its account lock (pwdAccountLockedTime); no default policy,
# so binds behave as without it unless a test sets one.
overlay ppolicy
{syncprov}
# Users authenticate by binding; nobody reads password hashes, not even the sync account.
access to attrs=userPassword
    by anonymous auth
    by * none
{hidden}access to *
    by dn.exact="{sync}" read
    by self read
    by * none
"#,
            suffix = self.suffix,
            admin = self.admin_dn,
            admin_password = self.admin_password,
            syncprov = match self.syncprov {
                None => String::new(),
                // A checkpoint after every write, so that a restart finds the contextCSN.
                Some(log) => format!(
                    "\n# RFC 4533 content synchronisation.\noverlay syncprov\nsyncprov-checkpoint 1 1\n{}",
                    match log {
                        SessionLog::None => String::new(),
                        SessionLog::Operations(n) => format!("syncprov-sessionlog {n}\n"),
                    }
                ),
            },
            hidden = self
                .hidden
                .iter()
                .map(|(filter, attribute)| {
                    format!("access to filter={filter} attrs={attribute}\n    by * none\n")
                })
                .collect::<String>(),
        )
        .expect("writing to a String");
        conf
    }
}

/// LDIF for the entries every server has: the suffix itself, `ou=services` and the sync account
/// (a simpleSecurityObject, so it has a password but is not a person and no user search finds
/// it).
pub(crate) fn base_entries(suffix: &str, sync_dn: &str, sync_password: &str) -> String {
    format!(
        "{}\ndn: ou=services,{suffix}\nobjectClass: organizationalUnit\nou: services\n\n\
         dn: {sync_dn}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n\
         cn: sync\ndescription: The service account idmsync binds as.\n\
         userPassword: {sync_password}\n",
        suffix_entry(suffix)
    )
}

/// The entry for the suffix itself, whose object classes depend on its first RDN.
fn suffix_entry(suffix: &str) -> String {
    let first_rdn = suffix.split(',').next().unwrap_or_default();
    let (attr, value) = first_rdn
        .split_once('=')
        .unwrap_or_else(|| panic!("suffix {suffix:?} does not start with attr=value"));
    assert!(
        !first_rdn.contains(['\\', '+']),
        "suffix {suffix:?}: escaped or multi-valued first RDNs are not supported"
    );
    let attr = attr.trim().to_ascii_lowercase();
    let value = value.trim();
    let classes = match attr.as_str() {
        "dc" => {
            format!("objectClass: dcObject\nobjectClass: organization\ndc: {value}\no: {value}")
        }
        "o" => format!("objectClass: organization\no: {value}"),
        "ou" => format!("objectClass: organizationalUnit\nou: {value}"),
        other => panic!("suffix {suffix:?}: first RDN must be dc=, o= or ou=, not {other}="),
    };
    format!("dn: {suffix}\n{classes}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_entries_follow_the_first_rdn() {
        let check = |suffix: &str, expected: &str| assert_eq!(suffix_entry(suffix), expected);
        check(
            "dc=example,dc=com",
            "dn: dc=example,dc=com\nobjectClass: dcObject\nobjectClass: organization\n\
             dc: example\no: example\n",
        );
        check("o=acme", "dn: o=acme\nobjectClass: organization\no: acme\n");
        check(
            "ou=tests,o=acme",
            "dn: ou=tests,o=acme\nobjectClass: organizationalUnit\nou: tests\n",
        );
    }

    #[test]
    #[should_panic(expected = "first RDN must be dc=, o= or ou=")]
    fn an_unsupported_suffix_is_refused_up_front() {
        suffix_entry("cn=config");
    }

    #[test]
    fn a_size_limit_spares_paged_searches() {
        let conf = Conf {
            dir: Path::new("/tmp/x"),
            suffix: "dc=example,dc=com",
            admin_dn: "cn=admin,dc=example,dc=com",
            admin_password: "a",
            sync_dn: "cn=sync,ou=services,dc=example,dc=com",
            sync_size_limit: Some(100),
            tls: None,
            hidden: &[],
            syncprov: None,
        };
        assert!(conf.render().contains(
            "limits dn.exact=\"cn=sync,ou=services,dc=example,dc=com\" time=unlimited \
             size.soft=100 size.hard=100 size.prtotal=unlimited\n"
        ));
    }
}
