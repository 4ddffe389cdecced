//! Directory entries to domain values: a pure function per entry kind, so that every mapping
//! rule is unit-tested on literal entries; OpenLDAP and Active Directory share them.

use std::fmt::Write as _;

use idmsync_domain::{
    ExternalId, MemberNames, MemberRef, SourceGroup, SourceId, SourcePassword, SourceUser,
};

use idmsync_mapping::Expression;

use crate::attributes::{AttributeMap, MemberKind};
use crate::dn;
use crate::raw::RawEntry;

/// Why an entry cannot become a user or group. The engine has no channel for entries a source
/// cannot even identify, so the adapter logs these and leaves the entry out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Skip {
    /// The attribute that identifies or names the entry is absent or empty.
    #[error("no value for '{0}'")]
    Missing(String),
    /// The login or group id is not UTF-8 text.
    #[error("the value of '{0}' is not UTF-8 text")]
    NotText(String),
}

/// Maps a user entry: identity from the unique id attribute, login id from the user id
/// attribute, the first value of each name and mail, the normalised DN as locator. Passwords
/// stay in the directory (`Unmanaged`). A user is enabled unless its account control attribute
/// (Active Directory mode) has the ACCOUNTDISABLE bit or a lock attribute locks it.
///
/// # Errors
/// [`Skip`] when the unique id or the user id is missing.
pub fn user(entry: &RawEntry, map: &AttributeMap) -> Result<SourceUser, Skip> {
    let computed = &map.computed;
    let (source_id, external_id) = identity(
        entry,
        &map.unique_id,
        (&map.user_id, computed.login.as_ref()),
    )?;
    Ok(SourceUser {
        source_id,
        external_id,
        locator: Some(dn::normalize_or_keep(&entry.dn)),
        first_name: field(entry, &map.first_name, computed.first_name.as_ref()).unwrap_or_default(),
        last_name: field(entry, &map.last_name, computed.last_name.as_ref()).unwrap_or_default(),
        email: field(entry, &map.email, computed.email.as_ref())
            .filter(|mail| !mail.trim().is_empty()),
        password: SourcePassword::Unmanaged,
        enabled: map
            .account_control
            .as_deref()
            .is_none_or(|name| !is_disabled(entry, name))
            && !map.locks.iter().any(|name| is_locked(entry, name)),
        match_value: computed
            .match_value
            .as_ref()
            .and_then(|e| e.eval(entry))
            .filter(|v| !v.trim().is_empty()),
    })
}

/// Whether the lock attribute `name` locks the account: any value does (ppolicy's
/// `pwdAccountLockedTime` is the time of the lock, or `000001010000Z` for good) except a
/// `false` (389 Directory Server writes `nsAccountLock: false` on an unlocked account).
fn is_locked(entry: &RawEntry, name: &str) -> bool {
    entry.values(name).iter().any(|value| {
        !String::from_utf8_lossy(value)
            .trim()
            .eq_ignore_ascii_case("false")
    })
}

/// `userAccountControl`'s ACCOUNTDISABLE flag.
const ACCOUNTDISABLE: i64 = 0x2;

/// Whether the account control attribute `name` has the ACCOUNTDISABLE bit. AD writes the
/// flags as a signed 32-bit decimal. An absent or unreadable value counts as enabled: the flag
/// is what disables, and guessing "disabled" would lock people out over a read problem.
fn is_disabled(entry: &RawEntry, name: &str) -> bool {
    entry
        .first_text(name)
        .and_then(|flags| flags.trim().parse::<i64>().ok())
        .is_some_and(|flags| flags & ACCOUNTDISABLE != 0)
}

/// Maps a group entry: identity and group id as for users, the display name (the group id
/// when absent), and every value of the member attribute as an unresolved reference. Blank
/// member values, which some directories keep as placeholders in `groupOfNames`, are dropped.
/// The member values are taken out of the entry: each becomes its reference's string in place
/// (a large directory has a million of them, and a copy of each was a tenth of the mapping),
/// and every reference to one name shares its string from `names`.
///
/// # Errors
/// [`Skip`] when the unique id or the group id is missing.
pub fn group(
    entry: &mut RawEntry,
    map: &AttributeMap,
    names: &mut MemberNames,
) -> Result<SourceGroup, Skip> {
    let computed = &map.computed;
    let (source_id, external_id) = identity(
        entry,
        &map.unique_id,
        (&map.group_id, computed.group_id.as_ref()),
    )?;
    let kind = map.member_kind();
    let members = entry
        .take_values(&map.group_member)
        .into_iter()
        // Invalid UTF-8 (never seen in a DN or a login) still gets the lossy text.
        .map(|v| {
            String::from_utf8(v)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
        })
        .filter(|v| !v.trim().is_empty())
        .map(|v| match kind {
            MemberKind::Dn => {
                MemberRef::Locator(names.intern(&dn::normalize_owned(dn::without_uid(v))))
            }
            MemberKind::UserId => MemberRef::ExternalId(names.intern(&v)),
        })
        .collect();
    Ok(SourceGroup {
        source_id,
        name: field(entry, &map.group_name, computed.group_name.as_ref())
            .unwrap_or_else(|| external_id.to_string()),
        external_id,
        locator: Some(dn::normalize_or_keep(&entry.dn)),
        members,
    })
}

/// A field's value: its mapping expression's, when one is configured, else the first value of
/// its attribute.
fn field(entry: &RawEntry, attribute: &str, computed: Option<&Expression>) -> Option<String> {
    match computed {
        Some(expression) => expression.eval(entry),
        None => entry.first_text(attribute),
    }
}

/// The stable identity and the id people use (its attribute, or the expression computing it),
/// or why the entry has none.
fn identity(
    entry: &RawEntry,
    unique_id: &str,
    (id, computed): (&str, Option<&Expression>),
) -> Result<(SourceId, ExternalId), Skip> {
    let source_id = entry
        .values(unique_id)
        .first()
        .and_then(|v| SourceId::new(unique_id_text(unique_id, v)).ok())
        .ok_or_else(|| Skip::Missing(unique_id.to_owned()))?;
    let text = match computed {
        Some(expression) => expression
            .eval(entry)
            .ok_or_else(|| Skip::Missing(expression.to_string()))?,
        None => {
            let raw = entry
                .values(id)
                .first()
                .ok_or_else(|| Skip::Missing(id.to_owned()))?;
            std::str::from_utf8(raw)
                .map_err(|_| Skip::NotText(id.to_owned()))?
                .to_owned()
        }
    };
    let missing = || Skip::Missing(computed.map_or_else(|| id.to_owned(), ToString::to_string));
    let external_id = ExternalId::new(&text).map_err(|_| missing())?;
    Ok((source_id, external_id))
}

/// The text form of a value of the unique id attribute `name`: Active Directory's `objectGUID`
/// in the GUID form Windows shows (whatever its bytes happen to decode to), anything else by
/// [`source_id_text`].
fn unique_id_text(name: &str, value: &[u8]) -> String {
    match <&[u8; 16]>::try_from(value) {
        Ok(guid) if name.eq_ignore_ascii_case("objectGUID") => guid_text(guid),
        _ => source_id_text(value),
    }
}

/// A GUID in Microsoft's text form (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lowercase): the
/// first three groups are little-endian integers, the last two plain bytes, so the text
/// matches what `Get-ADUser` and the AD tools show.
pub fn guid_text(guid: &[u8; 16]) -> String {
    let order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
    let mut text = String::with_capacity(36);
    for (i, &at) in order.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        // Writing to a String cannot fail.
        let _ = write!(text, "{:02x}", guid[at]);
    }
    text
}

/// The text form of a unique id value: UTF-8 as is (OpenLDAP's entryUUID is a string), other
/// bytes in lowercase hex (a binary identity other than objectGUID).
pub fn source_id_text(value: &[u8]) -> String {
    match std::str::from_utf8(value) {
        Ok(text) => text.to_owned(),
        Err(_) => crate::raw::hex(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attributes::tests::{active_directory, openldap};
    use idmsync_domain::ArcStr;

    const UUID: &str = "8f1d6a0e-4f5b-103d-9b1a-2b1c3a5e7d01";

    fn entry(dn: &str, attributes: &[(&str, &[&str])]) -> RawEntry {
        RawEntry::literal(dn, attributes)
    }

    fn id(value: &str) -> SourceId {
        SourceId::new(value).expect("valid id")
    }

    fn ext(value: &str) -> ExternalId {
        ExternalId::new(value).expect("valid id")
    }

    #[test]
    fn user_takes_first_values_and_normalised_dn() {
        let e = entry(
            "UID=jlennon, OU=People,DC=example,DC=com",
            &[
                ("entryUUID", &[UUID]),
                ("uid", &["jlennon"]),
                ("givenName", &["John", "Johnny"]),
                ("sn", &["Lennon"]),
                ("mail", &["john@example.com", "jl@example.com"]),
            ],
        );
        assert_eq!(
            user(&e, &openldap()),
            Ok(SourceUser {
                source_id: id(UUID),
                external_id: ext("jlennon"),
                locator: Some("uid=jlennon,ou=people,dc=example,dc=com".into()),
                first_name: "John".into(),
                last_name: "Lennon".into(),
                email: Some("john@example.com".into()),
                password: SourcePassword::Unmanaged,
                enabled: true,
                match_value: None,
            })
        );
    }

    #[test]
    fn object_guids_render_as_windows_shows_them() {
        // objectGUID:: MBbJZ2SL/kq9AdIpWMe/fg== as Samba returned it.
        let bytes = [
            0x30, 0x16, 0xc9, 0x67, 0x64, 0x8b, 0xfe, 0x4a, 0xbd, 0x01, 0xd2, 0x29, 0x58, 0xc7,
            0xbf, 0x7e,
        ];
        assert_eq!(guid_text(&bytes), "67c91630-8b64-4afe-bd01-d22958c7bf7e");
        // Sixteen bytes that happen to be UTF-8 are still a GUID.
        let ascii = *b"0123456789abcdef";
        assert_eq!(
            unique_id_text("objectguid", &ascii),
            "33323130-3534-3736-3839-616263646566"
        );
        assert_eq!(unique_id_text("entryUUID", &ascii), "0123456789abcdef");
        assert_eq!(unique_id_text("objectGUID", &[0xff, 0x00]), "ff00");
        let e = RawEntry {
            dn: "CN=John Lennon,OU=Corp,DC=example,DC=test".into(),
            attributes: vec![
                ("objectGUID".into(), vec![bytes.to_vec()]),
                ("sAMAccountName".into(), vec![b"jlennon".to_vec()]),
                ("userAccountControl".into(), vec![b"512".to_vec()]),
            ],
        };
        let u = user(&e, &active_directory()).expect("mapped");
        assert_eq!(u.source_id, id("67c91630-8b64-4afe-bd01-d22958c7bf7e"));
        assert_eq!(u.external_id, ext("jlennon"));
        assert!(u.enabled);
    }

    fn expression(text: &str) -> Option<Expression> {
        Some(Expression::parse(text).expect("a valid expression"))
    }

    #[test]
    fn mapping_expressions_compute_fields_and_search_their_attributes() {
        let map = AttributeMap {
            computed: crate::attributes::MappingConfig {
                login: expression("lower(uid)"),
                email: expression("default(mail, userPrincipalName)"),
                first_name: expression("rdn(manager)"),
                group_name: expression(r#"regex_replace(cn, "^grp-", "")"#),
                match_value: expression("employeeNumber"),
                ..Default::default()
            },
            ..openldap()
        };
        let e = entry(
            "uid=JDoe,dc=example",
            &[
                ("entryUUID", &[UUID]),
                ("UID", &["JDoe"]),
                ("userPrincipalName", &["jdoe@example.com"]),
                ("manager", &[r"cn=Boss\, Big,ou=People,dc=example"]),
                ("employeeNumber", &["4711"]),
            ],
        );
        let u = user(&e, &map).expect("mapped");
        assert_eq!(u.match_value.as_deref(), Some("4711"));
        assert_eq!(u.external_id, ext("jdoe"));
        assert_eq!(u.email.as_deref(), Some("jdoe@example.com"));
        assert_eq!(u.first_name, "Boss, Big");
        assert_eq!(u.last_name, "", "no expression: the attribute, absent here");
        let attributes = map.user_attributes();
        for name in [
            "uid",
            "mail",
            "userPrincipalName",
            "manager",
            "employeeNumber",
        ] {
            assert!(
                attributes.iter().any(|a| a == name),
                "{name} in {attributes:?}"
            );
        }
        let mut g = entry(
            "cn=grp-staff,dc=example",
            &[("entryUUID", &[UUID]), ("cn", &["grp-staff"])],
        );
        let group = group(&mut g, &map, &mut MemberNames::default()).expect("mapped");
        assert_eq!(group.name, "staff");
        assert_eq!(group.external_id, ext("grp-staff"));
        let none = entry("uid=x,dc=example", &[("entryUUID", &[UUID])]);
        assert_eq!(user(&none, &map), Err(Skip::Missing("lower(uid)".into())));
    }

    #[test]
    fn a_lock_attribute_locks_unless_it_says_false() {
        let map = openldap();
        let with = |attribute: &str, value: &str| {
            entry(
                "uid=x,dc=example",
                &[
                    ("entryUUID", &[UUID]),
                    ("uid", &["x"]),
                    (attribute, &[value]),
                ],
            )
        };
        for (attribute, value, enabled) in [
            ("pwdAccountLockedTime", "000001010000Z", false),
            ("pwdAccountLockedTime", "20261128120000Z", false),
            ("nsAccountLock", "TRUE", false),
            ("nsAccountLock", "true", false),
            ("nsAccountLock", "false", true),
            ("description", "locked", true),
        ] {
            assert_eq!(
                user(&with(attribute, value), &map).map(|u| u.enabled),
                Ok(enabled),
                "{attribute}: {value}"
            );
        }
        let unlocked = AttributeMap {
            locks: Vec::new(),
            ..openldap()
        };
        assert_eq!(
            user(&with("nsAccountLock", "TRUE"), &unlocked).map(|u| u.enabled),
            Ok(true),
            "no lock attribute configured"
        );
    }

    #[test]
    fn the_accountdisable_bit_disables_in_active_directory_mode_only() {
        let ad = active_directory();
        let with_flags = |flags: &str| {
            entry(
                "CN=x,DC=example",
                &[
                    ("objectGUID", &[UUID]),
                    ("sAMAccountName", &["x"]),
                    ("userAccountControl", &[flags]),
                ],
            )
        };
        for (flags, enabled) in [
            ("512", true),
            ("544", true),
            ("514", false),
            ("546", false),
            ("66050", false),
            ("-2147483646", false),
            ("not a number", true),
        ] {
            assert_eq!(
                user(&with_flags(flags), &ad).map(|u| u.enabled),
                Ok(enabled),
                "{flags}"
            );
        }
        let none = entry(
            "CN=x,DC=example",
            &[("objectGUID", &[UUID]), ("sAMAccountName", &["x"])],
        );
        assert_eq!(user(&none, &ad).map(|u| u.enabled), Ok(true));
        let openldap_map = AttributeMap {
            user_id: "sAMAccountName".into(),
            unique_id: "objectGUID".into(),
            ..openldap()
        };
        assert_eq!(
            user(&with_flags("514"), &openldap_map).map(|u| u.enabled),
            Ok(true)
        );
    }

    #[test]
    fn attribute_names_match_in_any_case() {
        let e = entry(
            "uid=x,dc=example",
            &[("entryuuid", &[UUID]), ("UID", &["x"]), ("SN", &["Ex"])],
        );
        let u = user(&e, &openldap()).expect("mapped");
        assert_eq!((u.external_id, u.last_name), (ext("x"), "Ex".to_owned()));
    }

    #[test]
    fn missing_names_are_empty_and_blank_mail_is_none() {
        let e = entry(
            "uid=rstarr,dc=example",
            &[
                ("entryUUID", &[UUID]),
                ("uid", &["rstarr"]),
                ("mail", &[" "]),
            ],
        );
        let u = user(&e, &openldap()).expect("mapped");
        assert_eq!((u.first_name.as_str(), u.last_name.as_str()), ("", ""));
        assert_eq!(u.email, None);
        let no_mail = entry(
            "uid=rstarr,dc=example",
            &[("entryUUID", &[UUID]), ("uid", &["rstarr"])],
        );
        assert_eq!(user(&no_mail, &openldap()).map(|u| u.email), Ok(None));
    }

    #[test]
    fn entries_without_identity_are_skipped() {
        let map = openldap();
        let no_uuid = entry("uid=a,dc=x", &[("uid", &["a"])]);
        assert_eq!(user(&no_uuid, &map), Err(Skip::Missing("entryUUID".into())));
        let no_uid = entry("uid=a,dc=x", &[("entryUUID", &[UUID])]);
        assert_eq!(user(&no_uid, &map), Err(Skip::Missing("uid".into())));
        let blank_uid = entry("uid=a,dc=x", &[("entryUUID", &[UUID]), ("uid", &[" "])]);
        assert_eq!(user(&blank_uid, &map), Err(Skip::Missing("uid".into())));
        let mut no_cn = entry("cn=g,dc=x", &[("entryUUID", &[UUID])]);
        assert_eq!(
            group(&mut no_cn, &map, &mut MemberNames::default()),
            Err(Skip::Missing("cn".into()))
        );
        let binary_uid = RawEntry {
            dn: "uid=a,dc=x".into(),
            attributes: vec![
                ("entryUUID".into(), vec![UUID.as_bytes().to_vec()]),
                ("uid".into(), vec![vec![0xff, 0xfe]]),
            ],
        };
        assert_eq!(user(&binary_uid, &map), Err(Skip::NotText("uid".into())));
    }

    #[test]
    fn dn_members_become_normalised_locators() {
        let mut e = entry(
            "cn=Beatles,ou=Groups,dc=example",
            &[
                ("entryUUID", &[UUID]),
                ("cn", &["beatles", "fab four"]),
                (
                    "member",
                    &[
                        "UID=jlennon, OU=People,dc=example",
                        "cn=Smith\\2C John,ou=people,dc=example",
                        "",
                        "not a dn",
                    ],
                ),
            ],
        );
        assert_eq!(
            group(&mut e, &openldap(), &mut MemberNames::default()),
            Ok(SourceGroup {
                source_id: id(UUID),
                external_id: ext("beatles"),
                locator: Some("cn=beatles,ou=groups,dc=example".into()),
                name: "beatles".into(),
                members: vec![
                    MemberRef::Locator("uid=jlennon,ou=people,dc=example".into()),
                    MemberRef::Locator("cn=smith\\, john,ou=people,dc=example".into()),
                    MemberRef::Locator("not a dn".into()),
                ],
            })
        );
    }

    #[test]
    fn groups_read_together_share_their_members_names() {
        let mut names = MemberNames::default();
        let mut member_of = |cn: &str, dn: &str| {
            let mut e = entry(
                &format!("cn={cn},ou=groups,dc=example"),
                &[("entryUUID", &[UUID]), ("cn", &[cn]), ("member", &[dn])],
            );
            let g = group(&mut e, &openldap(), &mut names).expect("mapped");
            g.members[0].name().clone()
        };
        let a = member_of("beatles", "UID=jlennon,ou=people,dc=example");
        let b = member_of("wings", "uid=jlennon, ou=People,dc=example");
        assert_eq!(a, "uid=jlennon,ou=people,dc=example");
        assert!(ArcStr::ptr_eq(&a, &b), "one string for one normalised DN");
    }

    #[test]
    fn member_uid_values_are_login_ids_as_written() {
        let map = AttributeMap {
            group_member: "memberUid".into(),
            group_name: "description".into(),
            ..openldap()
        };
        let mut e = entry(
            "cn=staff,ou=groups,dc=example",
            &[
                ("entryUUID", &[UUID]),
                ("cn", &["staff"]),
                ("description", &["All staff"]),
                ("memberUid", &["jlennon", "PMcCartney"]),
            ],
        );
        let g = group(&mut e, &map, &mut MemberNames::default()).expect("mapped");
        assert_eq!(g.name, "All staff");
        assert_eq!(
            g.members,
            [
                MemberRef::ExternalId("jlennon".into()),
                MemberRef::ExternalId("PMcCartney".into()),
            ]
        );
    }

    #[test]
    fn group_without_name_or_members() {
        let map = AttributeMap {
            group_name: "description".into(),
            ..openldap()
        };
        let mut e = entry(
            "cn=empty,dc=example",
            &[("entryUUID", &[UUID]), ("cn", &["empty"])],
        );
        let g = group(&mut e, &map, &mut MemberNames::default()).expect("mapped");
        assert_eq!((g.name.as_str(), g.members.len()), ("empty", 0));
    }

    #[test]
    fn binary_identities_are_hex() {
        assert_eq!(source_id_text(UUID.as_bytes()), UUID);
        let guid = [0x8f, 0x1d, 0x00, 0xff, 0x10];
        assert_eq!(source_id_text(&guid), "8f1d00ff10");
    }
}
