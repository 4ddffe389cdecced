//! What a directory says about itself in its root DSE (RFC 4512 §5.1): which server it is and
//! which of the controls idmsync can use it supports, for `idmsync config check`.

use crate::raw::RawEntry;

/// The root DSE attributes read; operational ones (`supportedControl`) must be named.
pub(crate) const ROOT_DSE: [&str; 6] = [
    "vendorName",
    "vendorVersion",
    "objectClass",
    "supportedControl",
    "supportedExtension",
    "forestFunctionality",
];

/// The Sync Request control of RFC 4533 content synchronisation.
pub(crate) const SYNC_REQUEST_OID: &str = "1.3.6.1.4.1.4203.1.9.1.1";
/// Active Directory's DirSync control.
pub(crate) const DIRSYNC_OID: &str = "1.2.840.113556.1.4.841";

/// Controls and extensions by OID, in the words the report uses.
const FEATURES: [(&str, &str); 7] = [
    ("1.3.6.1.4.1.1466.20037", "StartTLS"),
    ("1.2.840.113556.1.4.319", "paged results"),
    (SYNC_REQUEST_OID, "content synchronisation (syncrepl)"),
    ("2.16.840.1.113730.3.4.3", "persistent search"),
    (DIRSYNC_OID, "DirSync"),
    ("1.2.840.113556.1.4.528", "change notification"),
    ("1.2.840.113556.1.4.417", "show deleted objects"),
];

/// Active Directory's forest functional levels (MS-ADTS 6.1.4.4), as Windows Server names them.
fn forest_level(level: &str) -> Option<&'static str> {
    Some(match level.trim() {
        "0" => "2000",
        "1" => "2003 interim",
        "2" => "2003",
        "3" => "2008",
        "4" => "2008 R2",
        "5" => "2012",
        "6" => "2012 R2",
        "7" => "2016",
        "10" => "2025",
        _ => return None,
    })
}

/// The server's kind and version where the root DSE says, and the features it offers.
pub(crate) fn describe(root: &RawEntry) -> (String, Vec<String>) {
    let vendor = [
        root.first_text("vendorName"),
        root.first_text("vendorVersion"),
    ]
    .into_iter()
    .flatten()
    .map(|text| text.trim().to_owned())
    .filter(|text| !text.is_empty())
    .collect::<Vec<_>>()
    .join(" ");
    let openldap = root
        .values("objectClass")
        .iter()
        .any(|class| class.eq_ignore_ascii_case(b"OpenLDAProotDSE"));
    let server = match root.first_text("forestFunctionality") {
        Some(level) => {
            let level = forest_level(&level).map_or_else(
                || format!("level {level}"),
                |name| format!("Windows Server {name}"),
            );
            let by = if vendor.is_empty() {
                String::new()
            } else {
                format!(", {vendor}")
            };
            format!("Active Directory (forest functional level {level}{by})")
        }
        None if !vendor.is_empty() => vendor,
        None if openldap => "OpenLDAP".to_owned(),
        None => "an LDAP server that does not name itself".to_owned(),
    };
    let features = FEATURES
        .iter()
        .filter(|(oid, _)| offers(root, oid))
        .map(|(_, name)| (*name).to_owned())
        .collect();
    (server, features)
}

/// Whether the root DSE lists `oid` among its supported controls or extensions.
pub(crate) fn offers(root: &RawEntry, oid: &str) -> bool {
    ["supportedControl", "supportedExtension"]
        .iter()
        .any(|name| root.values(name).iter().any(|v| v == oid.as_bytes()))
}

/// Whether the root DSE is 389 Directory Server's.
pub(crate) fn is_389ds(root: &RawEntry) -> bool {
    root.first_text("vendorName")
        .is_some_and(|vendor| vendor.contains("389"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openldap_is_known_by_its_root_dse_class() {
        let root = RawEntry::literal(
            "",
            &[
                ("objectClass", &["top", "OpenLDAProotDSE"]),
                (
                    "supportedControl",
                    &["1.2.840.113556.1.4.319", "1.3.6.1.4.1.4203.1.9.1.1"],
                ),
                ("supportedExtension", &["1.3.6.1.4.1.1466.20037"]),
            ],
        );
        let (server, features) = describe(&root);
        assert_eq!(server, "OpenLDAP");
        assert_eq!(
            features,
            [
                "StartTLS",
                "paged results",
                "content synchronisation (syncrepl)"
            ]
        );
    }

    #[test]
    fn a_vendor_says_its_name_and_active_directory_its_level() {
        let ds389 = RawEntry::literal(
            "",
            &[
                ("vendorName", &["389 Project"]),
                ("vendorVersion", &["389-Directory/2.3.4"]),
                ("supportedControl", &["2.16.840.1.113730.3.4.3"]),
            ],
        );
        let (server, features) = describe(&ds389);
        assert_eq!(server, "389 Project 389-Directory/2.3.4");
        assert_eq!(features, ["persistent search"]);
        assert!(is_389ds(&ds389) && offers(&ds389, "2.16.840.1.113730.3.4.3"));

        let ad = RawEntry::literal(
            "",
            &[
                ("forestFunctionality", &["4"]),
                ("supportedControl", &["1.2.840.113556.1.4.841"]),
            ],
        );
        let (server, features) = describe(&ad);
        assert_eq!(
            server,
            "Active Directory (forest functional level Windows Server 2008 R2)"
        );
        assert_eq!(features, ["DirSync"]);
        let (server, features) = describe(&RawEntry::literal("", &[]));
        assert_eq!(server, "an LDAP server that does not name itself");
        assert!(features.is_empty());
    }
}
