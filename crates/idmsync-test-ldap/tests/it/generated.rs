//! `fixtures::generated` and `fixtures::Generated`: deterministic, and slapd accepts the
//! directory and the changes made to it.

use idmsync_test_ldap::fixtures::Generated;
use idmsync_test_ldap::{fixtures, Slapd};

use crate::{assert_success, paged_dns, search, stdout};

#[test]
fn generated_directories_are_deterministic() {
    let ldif = fixtures::generated(1000, 100, 5000, 1);
    assert_eq!(ldif, fixtures::generated(1000, 100, 5000, 1));
    assert_ne!(ldif, fixtures::generated(1000, 100, 5000, 2));
}

#[test]
fn a_generated_directory_loads() {
    let ldif = fixtures::generated(1000, 100, 5000, 1);
    let slapd = Slapd::builder().ldif(ldif).start();
    let people = "ou=people,dc=example,dc=com";
    assert_eq!(
        paged_dns(&slapd, people, "(objectClass=inetOrgPerson)").len(),
        1000
    );
    let groups = "ou=groups,dc=example,dc=com";
    assert_eq!(
        paged_dns(&slapd, groups, "(objectClass=groupOfNames)").len(),
        100
    );
    let out = search(
        &slapd,
        &[
            "-E",
            "pr=50/noprompt",
            "-b",
            groups,
            "(objectClass=groupOfNames)",
            "member",
        ],
    );
    assert_success(&out, "ldapsearch");
    let members = stdout(&out)
        .lines()
        .filter(|l| l.starts_with("member: "))
        .count();
    assert_eq!(members, 5000);
}

#[test]
fn changes_deletions_and_member_removals_apply_to_a_loaded_directory() {
    let mut directory = Generated::new(300, 30, 1500, 4);
    let changed = Slapd::builder().ldif(directory.ldif()).start();
    changed.modify(&directory.change(40, 10, 5));
    changed.modify(&directory.delete_users(30, 6));
    changed.modify(&directory.remove_members(60, 7));
    // A directory loaded with the model's final state must read the same as the one changed
    // through ldapmodify: the change records and the model agree.
    let fresh = Slapd::builder().ldif(directory.ldif()).start();
    let read = |slapd: &Slapd| {
        let out = search(
            slapd,
            &[
                "-b",
                "dc=example,dc=com",
                "(|(objectClass=groupOfNames)(objectClass=inetOrgPerson))",
            ],
        );
        assert_success(&out, "ldapsearch");
        let mut entries: Vec<Vec<String>> = stdout(&out)
            .split("\n\n")
            .filter(|entry| !entry.trim().is_empty())
            .map(|entry| {
                let mut lines: Vec<String> = entry.lines().map(str::to_string).collect();
                lines.sort();
                lines
            })
            .collect();
        entries.sort();
        entries
    };
    let entries = read(&changed);
    assert_eq!(entries.len(), 270 + 30, "users and groups");
    assert_eq!(entries, read(&fresh));
}
