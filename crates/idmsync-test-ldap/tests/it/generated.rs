//! `fixtures::generated`: deterministic, and slapd accepts it.

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
