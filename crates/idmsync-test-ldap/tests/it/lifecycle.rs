//! Changing the directory, killing the server and bringing it back.

use std::net::TcpListener;

use idmsync_test_ldap::{fixtures, Slapd};

use crate::{assert_success, can_bind, search, stdout};

const JLENNON: &str = "uid=jlennon,ou=liverpool,ou=people,dc=example,dc=com";

fn mail_of(slapd: &Slapd, dn: &str) -> String {
    let out = search(slapd, &["-b", dn, "-s", "base", "(objectClass=*)", "mail"]);
    assert_success(&out, "ldapsearch");
    stdout(&out)
}

#[test]
fn modify_and_add_change_the_running_directory() {
    let slapd = Slapd::builder().ldif(fixtures::DIRECTORY).start();
    slapd.modify(&format!(
        "dn: {JLENNON}\nchangetype: modify\nreplace: mail\nmail: john@example.org\n"
    ));
    assert!(mail_of(&slapd, JLENNON).contains("mail: john@example.org"));
    slapd.add(
        "dn: uid=yono,ou=london,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\n\
         uid: yono\ncn: Yoko Ono\nsn: Ono\nmail: yoko@example.com\n",
    );
    assert!(
        mail_of(&slapd, "uid=yono,ou=london,ou=people,dc=example,dc=com")
            .contains("mail: yoko@example.com")
    );
}

#[test]
#[should_panic(expected = "No such object")]
fn a_failed_modify_panics_with_ldapmodifys_message() {
    let slapd = Slapd::builder().start();
    slapd.modify("dn: uid=nobody,dc=example,dc=com\nchangetype: delete\n");
}

#[test]
fn a_killed_server_comes_back_with_its_data() {
    let mut slapd = Slapd::builder().ldif(fixtures::DIRECTORY).start();
    slapd.modify(&format!(
        "dn: {JLENNON}\nchangetype: modify\nreplace: mail\nmail: before-the-crash@example.com\n"
    ));
    let url = slapd.url();
    let killer = slapd.killer();
    std::thread::spawn(move || killer.kill())
        .join()
        .expect("the killing thread");
    assert!(!can_bind(&url, &slapd.sync_dn(), slapd.sync_password()));
    slapd.killer().kill(); // idempotent

    slapd.start_again();
    assert_eq!(slapd.url(), url, "same port after a restart");
    assert!(mail_of(&slapd, JLENNON).contains("mail: before-the-crash@example.com"));

    // The killer follows the server across restarts.
    let killer = slapd.killer();
    slapd.stop();
    assert!(!can_bind(&url, &slapd.sync_dn(), slapd.sync_password()));
    slapd.start_again();
    killer.kill();
    assert!(!can_bind(&url, &slapd.sync_dn(), slapd.sync_password()));
}

#[test]
fn a_fixed_port_is_used() {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("binding a free port")
        .local_addr()
        .expect("reading the port")
        .port();
    let slapd = Slapd::builder().port(port).start();
    assert_eq!(slapd.url(), format!("ldap://127.0.0.1:{port}"));
    assert!(can_bind(
        &slapd.url(),
        &slapd.sync_dn(),
        slapd.sync_password()
    ));
}
