//! The test directory of an AD domain, as LDIF for [`SambaDc::add`](crate::SambaDc::add):
//! a few hundred users in two OUs, some disabled, a computer, nested groups and a group larger
//! than a small member range.
//!
//! ```text
//! OU=Corp
//! ├── OU=Staff
//! │   ├── OU=London   users with odd numbers  (user001, user003, ...)
//! │   └── OU=Paris    users with even numbers (user002, ...)
//! ├── OU=Groups       all-staff (every user), london, paris, everyone (london + paris),
//! │                   engineering (user001-020 + platform), platform (user021-025 + sre),
//! │                   sre (user026-028), empty
//! └── CN=WS001        a computer: objectClass=user, which the AD user filter must leave out
//! ```
//!
//! Users have `givenName` `Given NNN`, `sn` `Family NNN`, mail and userPrincipalName
//! `userNNN@example.test`; every [`DISABLED_EVERY`]th user has ACCOUNTDISABLE set. No user has
//! a password (they are created with PASSWD_NOTREQD); give one with
//! [`SambaDc::set_password`](crate::SambaDc::set_password) where a test binds.

use std::fmt::Write as _;

/// The OU (under the domain's base DN) holding everything here.
pub const CORP: &str = "OU=Corp";
/// How many users the directory has.
pub const USER_COUNT: u32 = 300;
/// Every user whose number is a multiple of this is disabled.
pub const DISABLED_EVERY: u32 = 50;
/// The group every user is a member of.
pub const ALL_STAFF: &str = "all-staff";
/// The groups, by sAMAccountName, in the order [`directory`] writes them.
pub const GROUPS: [&str; 8] = [
    "sre",
    "platform",
    "engineering",
    "london",
    "paris",
    "everyone",
    ALL_STAFF,
    "empty",
];
/// `userAccountControl` of an enabled account without a password: NORMAL_ACCOUNT |
/// PASSWD_NOTREQD (AD creates accounts without a password disabled unless told so).
const ENABLED: u32 = 0x220;
/// The same with ACCOUNTDISABLE.
pub const DISABLED: u32 = ENABLED | 0x2;

/// The login (sAMAccountName) of user `n`: `user001`.
pub fn login(n: u32) -> String {
    format!("user{n:03}")
}

/// Whether user `n` is created disabled.
pub fn is_disabled(n: u32) -> bool {
    n.is_multiple_of(DISABLED_EVERY)
}

/// The OU user `n` lives in: `London` or `Paris`.
pub fn office(n: u32) -> &'static str {
    if n % 2 == 1 {
        "London"
    } else {
        "Paris"
    }
}

/// The DN of user `n` under `base` (`CN=User 001,OU=London,OU=Staff,OU=Corp,<base>`).
pub fn user_dn(base: &str, n: u32) -> String {
    format!("CN=User {n:03},OU={},OU=Staff,{CORP},{base}", office(n))
}

/// The DN of the group `name` under `base`.
pub fn group_dn(base: &str, name: &str) -> String {
    format!("CN={name},OU=Groups,{CORP},{base}")
}

/// The members of each group of [`GROUPS`]: user numbers and group names.
pub fn members(group: &str) -> (Vec<u32>, Vec<&'static str>) {
    let all = 1..=USER_COUNT;
    match group {
        "sre" => ((26..=28).collect(), vec![]),
        "platform" => ((21..=25).collect(), vec!["sre"]),
        "engineering" => ((1..=20).collect(), vec!["platform"]),
        "london" => (all.filter(|n| n % 2 == 1).collect(), vec![]),
        "paris" => (all.filter(|n| n % 2 == 0).collect(), vec![]),
        "everyone" => (vec![], vec!["london", "paris"]),
        ALL_STAFF => (all.collect(), vec![]),
        _ => (vec![], vec![]),
    }
}

/// The whole directory as LDIF, parents before children, for the domain `base`
/// (`DC=example,DC=test`).
pub fn directory(base: &str) -> String {
    let mut ldif = String::new();
    for ou in [
        format!("{CORP},{base}"),
        format!("OU=Staff,{CORP},{base}"),
        format!("OU=London,OU=Staff,{CORP},{base}"),
        format!("OU=Paris,OU=Staff,{CORP},{base}"),
        format!("OU=Groups,{CORP},{base}"),
    ] {
        let _ = writeln!(ldif, "dn: {ou}\nobjectClass: organizationalUnit\n");
    }
    let _ = writeln!(
        ldif,
        "dn: CN=WS001,{CORP},{base}\nobjectClass: computer\nsAMAccountName: WS001$\n\
         userAccountControl: 4096\n"
    );
    for n in 1..=USER_COUNT {
        let flags = if is_disabled(n) { DISABLED } else { ENABLED };
        let login = login(n);
        let _ = writeln!(
            ldif,
            "dn: {}\nobjectClass: user\nsAMAccountName: {login}\n\
             userPrincipalName: {login}@example.test\ngivenName: Given {n:03}\n\
             sn: Family {n:03}\nmail: {login}@example.test\nuserAccountControl: {flags}\n",
            user_dn(base, n)
        );
    }
    for group in GROUPS {
        let _ = writeln!(
            ldif,
            "dn: {}\nobjectClass: group\nsAMAccountName: {group}",
            group_dn(base, group)
        );
        let (users, groups) = members(group);
        for n in users {
            let _ = writeln!(ldif, "member: {}", user_dn(base, n));
        }
        for child in groups {
            let _ = writeln!(ldif, "member: {}", group_dn(base, child));
        }
        ldif.push('\n');
    }
    ldif
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_has_every_user_once_and_groups_after_their_children() {
        let ldif = directory("DC=example,DC=test");
        assert_eq!(
            ldif.matches("\nobjectClass: user\n").count() as u32,
            USER_COUNT
        );
        assert_eq!(
            ldif.matches("userAccountControl: 546").count() as u32,
            USER_COUNT / DISABLED_EVERY
        );
        let position = |dn: &str| ldif.find(&format!("dn: {dn}\n")).expect("entry present");
        let base = "DC=example,DC=test";
        assert!(position(&group_dn(base, "sre")) < position(&group_dn(base, "platform")));
        assert!(position(&group_dn(base, "london")) < position(&group_dn(base, "everyone")));
        assert_eq!(members(ALL_STAFF).0.len() as u32, USER_COUNT);
        assert_eq!(
            user_dn(base, 2),
            "CN=User 002,OU=Paris,OU=Staff,OU=Corp,DC=example,DC=test"
        );
    }
}
