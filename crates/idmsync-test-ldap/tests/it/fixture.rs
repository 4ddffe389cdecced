//! The fixture directory loads and looks the way `fixtures/directory.ldif` says.

use idmsync_test_ldap::{fixtures, Slapd};

use crate::{assert_success, can_bind, paged_dns, search, stdout};

#[test]
fn the_sync_account_sees_every_user_under_people() {
    let slapd = Slapd::builder().ldif(fixtures::DIRECTORY).start();
    let users = paged_dns(
        &slapd,
        "ou=people,dc=example,dc=com",
        "(objectClass=inetOrgPerson)",
    );
    assert_eq!(users.len(), 12, "{users:#?}");
    for dn in [
        // slapd prints the escaped comma in its normalised hex form.
        "dn: cn=Smith\\2C John,ou=london,ou=people,dc=example,dc=com",
        "dn: cn=Ringo Starr+uid=rstarr,ou=liverpool,ou=people,dc=example,dc=com",
        // Base64 of "cn=Björk Guðmundsdóttir,ou=people,dc=example,dc=com".
        "dn:: Y249QmrDtnJrIEd1w7BtdW5kc2TDs3R0aXIsb3U9cGVvcGxlLGRjPWV4YW1wbGUsZGM9Y29t",
    ] {
        assert!(
            users.iter().any(|user| user == dn),
            "{dn} not in {users:#?}"
        );
    }
    let everyone = paged_dns(&slapd, slapd.suffix(), "(objectClass=inetOrgPerson)");
    assert_eq!(everyone.len(), 13, "12 under ou=people plus uid=outsider");
}

#[test]
fn member_dns_are_stored_as_written() {
    let slapd = Slapd::builder().ldif(fixtures::DIRECTORY).start();
    let out = search(
        &slapd,
        &[
            "-b",
            "cn=mixed-case,ou=groups,dc=example,dc=com",
            "-s",
            "base",
            "(objectClass=*)",
            "member",
        ],
    );
    assert_success(&out, "ldapsearch");
    assert!(
        stdout(&out).contains("member: UID=jlennon, OU=Liverpool,ou=People,DC=example,DC=com\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn users_bind_with_their_passwords_and_nobody_reads_them() {
    let slapd = Slapd::builder().ldif(fixtures::DIRECTORY).start();
    let url = slapd.url();
    let jlennon = "uid=jlennon,ou=liverpool,ou=people,dc=example,dc=com";
    assert!(
        can_bind(&url, jlennon, "jlennon-secret"),
        "{{SSHA}} password"
    );
    assert!(!can_bind(&url, jlennon, "wrong"));
    let jsmith = "cn=Smith\\, John,ou=london,ou=people,dc=example,dc=com";
    assert!(can_bind(&url, jsmith, "jsmith-secret"), "escaped DN");
    let out = search(
        &slapd,
        &[
            "-b",
            jlennon,
            "-s",
            "base",
            "(objectClass=*)",
            "userPassword",
            "mail",
        ],
    );
    assert_success(&out, "ldapsearch");
    assert!(stdout(&out).contains("mail: john.lennon@example.com"));
    assert!(!stdout(&out).contains("userPassword"), "{}", stdout(&out));
}

#[test]
fn a_custom_suffix_gets_its_base_entries() {
    let slapd = Slapd::builder().suffix("o=acme").start();
    assert_eq!(slapd.admin_dn(), "cn=admin,o=acme");
    assert_eq!(slapd.sync_dn(), "cn=sync,ou=services,o=acme");
    assert!(can_bind(
        &slapd.url(),
        &slapd.admin_dn(),
        slapd.admin_password()
    ));
    assert_eq!(paged_dns(&slapd, "o=acme", "(objectClass=*)").len(), 3);
}

#[test]
#[should_panic(expected = "requires attribute 'sn'")]
fn a_bad_entry_fails_the_start_with_slapadds_message() {
    Slapd::builder()
        .ldif("dn: uid=x,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: x\ncn: x\n")
        .start();
}
