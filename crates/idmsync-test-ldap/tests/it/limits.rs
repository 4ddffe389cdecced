//! `sync_size_limit`: non-paged searches are capped, paged ones are not.

use idmsync_test_ldap::{fixtures, Slapd};

use crate::{paged_dns, search, stdout};

/// ldapsearch's exit status for sizeLimitExceeded (result code 4).
const SIZE_LIMIT_EXCEEDED: i32 = 4;

#[test]
fn an_unpaged_search_hits_the_limit_and_a_paged_one_gets_everything() {
    let slapd = Slapd::builder()
        .ldif(fixtures::DIRECTORY)
        .sync_size_limit(5)
        .start();
    let filter = "(objectClass=inetOrgPerson)";
    let out = search(
        &slapd,
        &["-b", "ou=people,dc=example,dc=com", filter, "1.1"],
    );
    assert_eq!(out.status.code(), Some(SIZE_LIMIT_EXCEEDED), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Size limit exceeded"));
    assert_eq!(stdout(&out).matches("dn:").count(), 5);
    // Pages larger than the limit are fine too: only the non-paged total is capped.
    assert_eq!(
        paged_dns(&slapd, "ou=people,dc=example,dc=com", filter).len(),
        12
    );
    let small_pages = search(
        &slapd,
        &[
            "-E",
            "pr=2/noprompt",
            "-b",
            "ou=people,dc=example,dc=com",
            filter,
            "1.1",
        ],
    );
    assert!(small_pages.status.success(), "{small_pages:?}");
    assert_eq!(stdout(&small_pages).matches("dn:").count(), 12);
}

#[test]
fn without_a_limit_an_unpaged_search_gets_everything() {
    // 600 users: more than slapd's default limit of 500 for ordinary accounts.
    let slapd = Slapd::builder()
        .ldif(fixtures::generated(600, 1, 1, 1))
        .start();
    let out = search(
        &slapd,
        &[
            "-b",
            "ou=people,dc=example,dc=com",
            "(objectClass=inetOrgPerson)",
            "1.1",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out).matches("dn:").count(), 600);
}
