//! The attribute mapping: which LDAP attribute carries which domain field, and which attributes
//! a search requests. Shared by the OpenLDAP and Active Directory modes, which differ in
//! defaults and in two attributes only AD has: `userAccountControl` and ranged `member` reads.

use idmsync_mapping::Expression;
use serde::Deserialize;

use crate::range;

/// How a group's member attribute names its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    /// By DN (`member`, `uniqueMember`): members become locators.
    Dn,
    /// By login id (posixGroup's `memberUid`): members become external ids.
    UserId,
}

/// The attribute names of the mapping, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeMap {
    /// Stable identity of users and groups (`entryUUID`, `objectGUID`).
    pub unique_id: String,
    /// Login id (`uid`, `sAMAccountName`).
    pub user_id: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// E-mail address.
    pub email: String,
    /// Group id (`cn`).
    pub group_id: String,
    /// Group display name (`cn`).
    pub group_name: String,
    /// Group members (`member`, `memberUid`).
    pub group_member: String,
    /// Active Directory's account flags, whose ACCOUNTDISABLE bit disables a user; `None`
    /// outside AD mode, where every user found is enabled.
    pub account_control: Option<String>,
    /// Attributes whose presence locks the account (`pwdAccountLockedTime`, `nsAccountLock`);
    /// a locked user is inactive.
    pub locks: Vec<String>,
    /// Member values asked for per read (`member;range=0-1499`); `None` asks for the plain
    /// attribute (a server that answers in ranges anyway is still followed to the end).
    pub range_size: Option<u32>,
    /// Fields computed by `[source.ldap.mapping]` expressions instead of read from one
    /// attribute.
    pub computed: MappingConfig,
}

/// `[source.ldap.mapping]`: for each field, an expression over the entry's attributes
/// (`lower(sAMAccountName)`, `default(mail, userPrincipalName)`, `rdn(distinguishedName)`)
/// used instead of the field's attribute, whose first value it is otherwise. Each is parsed and
/// checked as the configuration is read (`idmsync-mapping`: no code, no files, bounded
/// regexes), a mistake naming its key. The login's and the group id's attributes above stay
/// what searches and binds look a login up by.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MappingConfig {
    /// The login id.
    pub login: Option<Expression>,
    /// The given name.
    pub first_name: Option<Expression>,
    /// The family name.
    pub last_name: Option<Expression>,
    /// The e-mail address.
    pub email: Option<Expression>,
    /// The group id.
    pub group_id: Option<Expression>,
    /// The group's display name.
    pub group_name: Option<Expression>,
    /// What a tenant of several sources matches people by with `sync.match_by = "mapping"`
    /// (an employee number: `"employeeNumber"`).
    #[serde(rename = "match")]
    pub match_value: Option<Expression>,
}

impl MappingConfig {
    /// The attributes the user expressions read.
    fn user_attributes(&self) -> Vec<String> {
        attributes_of([
            &self.login,
            &self.first_name,
            &self.last_name,
            &self.email,
            &self.match_value,
        ])
    }

    /// The attributes the group expressions read.
    fn group_attributes(&self) -> Vec<String> {
        attributes_of([&self.group_id, &self.group_name])
    }
}

fn attributes_of<const N: usize>(expressions: [&Option<Expression>; N]) -> Vec<String> {
    expressions
        .into_iter()
        .flatten()
        .flat_map(Expression::attributes)
        .map(str::to_owned)
        .collect()
}

impl AttributeMap {
    /// What the member attribute's values are. `memberUid` is the one attribute in common use
    /// that holds login ids rather than DNs.
    pub fn member_kind(&self) -> MemberKind {
        if self.group_member.eq_ignore_ascii_case("memberUid") {
            MemberKind::UserId
        } else {
            MemberKind::Dn
        }
    }

    /// The attributes a user search requests. Operational attributes such as `entryUUID` are
    /// returned only when asked for by name, which this list does.
    pub fn user_attributes(&self) -> Vec<String> {
        let mut names = distinct([
            &self.unique_id,
            &self.user_id,
            &self.first_name,
            &self.last_name,
            &self.email,
        ]);
        names.extend(self.account_control.iter().cloned());
        names.extend(self.locks.iter().cloned());
        add_distinct(&mut names, self.computed.user_attributes());
        names
    }

    /// The attributes a group search requests.
    /// The member attribute is asked for by its first range when ranges are configured.
    pub fn group_attributes(&self) -> Vec<String> {
        let mut names = self.group_identity_attributes();
        names.push(range::request(&self.group_member, 0, self.range_size));
        names
    }

    /// The attributes that identify and name a group, without its members: enough to tell
    /// whether a group entry can be read, which is what `config check` counts.
    pub fn group_identity_attributes(&self) -> Vec<String> {
        let mut names = distinct([&self.unique_id, &self.group_id, &self.group_name]);
        add_distinct(&mut names, self.computed.group_attributes());
        names
    }
}

/// `names` with each of `more` it does not have yet (without case).
fn add_distinct(names: &mut Vec<String>, more: Vec<String>) {
    for name in more {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
            names.push(name);
        }
    }
}

/// The names without case-insensitive repeats (`cn` as both group id and name), in order.
fn distinct<const N: usize>(names: [&String; N]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(N);
    for name in names {
        if !out.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            out.push(name.clone());
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The OpenLDAP defaults of the configuration.
    pub(crate) fn openldap() -> AttributeMap {
        AttributeMap {
            unique_id: "entryUUID".into(),
            user_id: "uid".into(),
            first_name: "givenName".into(),
            last_name: "sn".into(),
            email: "mail".into(),
            group_id: "cn".into(),
            group_name: "cn".into(),
            group_member: "member".into(),
            account_control: None,
            locks: vec!["pwdAccountLockedTime".into(), "nsAccountLock".into()],
            range_size: None,
            computed: MappingConfig::default(),
        }
    }

    /// The Active Directory defaults of the configuration, with a range size of 10.
    pub(crate) fn active_directory() -> AttributeMap {
        AttributeMap {
            unique_id: "objectGUID".into(),
            user_id: "sAMAccountName".into(),
            group_id: "sAMAccountName".into(),
            account_control: Some("userAccountControl".into()),
            locks: Vec::new(),
            range_size: Some(10),
            ..openldap()
        }
    }

    #[test]
    fn requested_attributes_are_the_mapped_ones_once() {
        let map = openldap();
        assert_eq!(
            map.user_attributes(),
            [
                "entryUUID",
                "uid",
                "givenName",
                "sn",
                "mail",
                "pwdAccountLockedTime",
                "nsAccountLock"
            ]
        );
        assert_eq!(map.group_attributes(), ["entryUUID", "cn", "member"]);
        let odd = AttributeMap {
            group_name: "CN".into(),
            ..openldap()
        };
        assert_eq!(odd.group_attributes(), ["entryUUID", "cn", "member"]);
        let ad = active_directory();
        assert_eq!(
            ad.user_attributes(),
            [
                "objectGUID",
                "sAMAccountName",
                "givenName",
                "sn",
                "mail",
                "userAccountControl"
            ]
        );
        assert_eq!(
            ad.group_attributes(),
            ["objectGUID", "sAMAccountName", "cn", "member;range=0-9"]
        );
    }

    #[test]
    fn member_uid_names_members_by_login_id() {
        assert_eq!(openldap().member_kind(), MemberKind::Dn);
        for name in ["memberUid", "memberuid", "MEMBERUID"] {
            let map = AttributeMap {
                group_member: name.into(),
                ..openldap()
            };
            assert_eq!(map.member_kind(), MemberKind::UserId);
        }
        let unique = AttributeMap {
            group_member: "uniqueMember".into(),
            ..openldap()
        };
        assert_eq!(unique.member_kind(), MemberKind::Dn);
    }
}
