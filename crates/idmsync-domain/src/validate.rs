//! The one check of every value a source returns, before anything is planned: lengths every
//! backend stores, and characters that no identity, name or log line should hold.
//!
//! Why here: a value the store refuses (a 600-character id on MariaDB, a NUL on PostgreSQL)
//! would fail the apply with a database error naming no entry, and fail every later run the same
//! way; a value it accepts but people cannot see (a byte order mark before a login id) creates a
//! second user beside the real one, and deactivates the real one. So each source calls
//! [`user`] and [`group`] where it still knows the entry's place (file and line, DN) and refuses
//! the whole run on the first violation; the engine calls them again for sources that do not.
//!
//! The limits (characters, not bytes):
//! - ids (source id, login or group id): at most [`ID_MAX`], no control character (U+0000 to
//!   U+001F, U+007F to U+009F) and no invisible format character (Unicode's `Cf`: the byte order
//!   mark, zero-width spaces and joiners, direction marks …);
//! - names and e-mail addresses: at most [`TEXT_MAX`], no control character;
//! - locators (DNs) and member references: at most [`LOCATOR_MAX`], no control character;
//! - passwords: at most [`PASSWORD_MAX`] bytes, no NUL.
//!
//! [`ID_MAX`] is what the MariaDB schema's indexed `VARCHAR(512)` holds; [`TEXT_MAX`] keeps a
//! run-log line that quotes several names well inside MariaDB's 64 KiB `TEXT`.

use crate::model::{SourceGroup, SourcePassword, SourceUser};

/// Characters an id may have.
pub const ID_MAX: usize = 512;
/// Characters a name or an e-mail address may have.
pub const TEXT_MAX: usize = 1024;
/// Characters a locator (a DN) or a member reference may have.
pub const LOCATOR_MAX: usize = 4096;
/// Bytes a password may have: argon2 hashes any length, at a cost that grows with it.
pub const PASSWORD_MAX: usize = 4096;

/// A value that breaks one of the rules: which field, and what is wrong with it. The value
/// itself is never quoted whole (it may be a password, or 50 MB long).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct Violation {
    /// The field, named as the configuration and the docs name it (`id`, `firstName`, `email`,
    /// `members`).
    pub field: &'static str,
    /// What is wrong, in words.
    pub problem: String,
}

/// What a field may hold.
#[derive(Clone, Copy)]
enum Kind {
    Id,
    Text,
    Locator,
}

impl Kind {
    fn max(self) -> usize {
        match self {
            Kind::Id => ID_MAX,
            Kind::Text => TEXT_MAX,
            Kind::Locator => LOCATOR_MAX,
        }
    }
}

/// Checks one value of `field`.
fn check(field: &'static str, value: &str, kind: Kind) -> Result<(), Violation> {
    let violation = |problem: String| Violation { field, problem };
    let max = kind.max();
    if value.len() > max && value.chars().nth(max).is_some() {
        return Err(violation(format!(
            "{} characters, more than the {max} allowed",
            value.chars().count()
        )));
    }
    for (at, ch) in value.chars().enumerate() {
        let what = if ch.is_control() {
            "the control character"
        } else if matches!(kind, Kind::Id) && is_format(ch) {
            "the invisible character"
        } else {
            continue;
        };
        return Err(violation(format!(
            "{what} U+{:04X} at character {}",
            u32::from(ch),
            at + 1
        )));
    }
    Ok(())
}

/// Unicode's format characters (general category `Cf`, Unicode 15): invisible, so two ids
/// that differ only by one look the same to every person who reads them.
fn is_format(ch: char) -> bool {
    matches!(u32::from(ch),
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
        | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
}

/// Checks every value of a user. `fields` names them as the source does; the file source's
/// names are the default ([`Fields::FILE`]).
///
/// # Errors
/// The first [`Violation`].
pub fn user(user: &SourceUser, fields: &Fields) -> Result<(), Violation> {
    check(fields.id, user.external_id.as_str(), Kind::Id)?;
    check(fields.source_id, user.source_id.as_str(), Kind::Id)?;
    if let Some(locator) = &user.locator {
        check(fields.locator, locator, Kind::Locator)?;
    }
    check(fields.first_name, &user.first_name, Kind::Text)?;
    check(fields.last_name, &user.last_name, Kind::Text)?;
    if let Some(value) = &user.match_value {
        check("mapping.match", value, Kind::Text)?;
    }
    if let Some(email) = &user.email {
        check(fields.email, email, Kind::Text)?;
    }
    if let SourcePassword::Clear(password) = &user.password {
        let password = password.expose();
        if password.len() > PASSWORD_MAX {
            return Err(Violation {
                field: fields.password,
                problem: format!("longer than the {PASSWORD_MAX} bytes allowed"),
            });
        }
        if password.contains('\0') {
            return Err(Violation {
                field: fields.password,
                problem: "holds the control character U+0000".to_string(),
            });
        }
    }
    Ok(())
}

/// Checks every value of a group, its member references included.
///
/// # Errors
/// The first [`Violation`].
pub fn group(group: &SourceGroup, fields: &Fields) -> Result<(), Violation> {
    check(fields.group_id, group.external_id.as_str(), Kind::Id)?;
    check(fields.source_id, group.source_id.as_str(), Kind::Id)?;
    if let Some(locator) = &group.locator {
        check(fields.locator, locator, Kind::Locator)?;
    }
    check(fields.group_name, &group.name, Kind::Text)?;
    for member in &group.members {
        check(fields.members, member.name(), Kind::Locator)?;
    }
    Ok(())
}

/// How a source names the fields of its entries in errors: the file source by its columns, an
/// LDAP source by the attributes it maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    /// The source id.
    pub source_id: &'static str,
    /// The locator (a DN).
    pub locator: &'static str,
    /// A user's login id.
    pub id: &'static str,
    /// A user's given name.
    pub first_name: &'static str,
    /// A user's family name.
    pub last_name: &'static str,
    /// A user's e-mail address.
    pub email: &'static str,
    /// A user's password.
    pub password: &'static str,
    /// A group's id.
    pub group_id: &'static str,
    /// A group's display name.
    pub group_name: &'static str,
    /// A group's member references.
    pub members: &'static str,
}

impl Fields {
    /// The domain's own names, for sources that name their fields no other way.
    pub const DOMAIN: Fields = Fields {
        source_id: "source id",
        locator: "locator",
        id: "login id",
        first_name: "first name",
        last_name: "last name",
        email: "e-mail",
        password: "password",
        group_id: "group id",
        group_name: "group name",
        members: "member",
    };

    /// The columns of the file source's `users.txt` and `groups.txt`.
    pub const FILE: Fields = Fields {
        source_id: "id",
        locator: "locator",
        id: "id",
        first_name: "firstName",
        last_name: "lastName",
        email: "email",
        password: "password",
        group_id: "name",
        group_name: "name",
        members: "members",
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ExternalId, SourceId};
    use crate::model::MemberRef;
    use crate::password::Password;

    fn jlennon() -> SourceUser {
        SourceUser {
            source_id: SourceId::new("6f1c").expect("id"),
            external_id: ExternalId::new("jlennon").expect("id"),
            locator: Some("uid=jlennon,ou=people,dc=example,dc=com".into()),
            first_name: "John".into(),
            last_name: "Lennon".into(),
            email: Some("john@example.com".into()),
            password: SourcePassword::Unmanaged,
            enabled: true,
            match_value: None,
        }
    }

    fn with_login(login: &str) -> SourceUser {
        SourceUser {
            external_id: ExternalId::new(login).expect("id"),
            ..jlennon()
        }
    }

    fn problem(user: &SourceUser) -> String {
        super::user(user, &Fields::FILE)
            .expect_err("a violation")
            .to_string()
    }

    #[test]
    fn ordinary_values_pass_including_non_latin_names_and_joiners_in_names() {
        super::user(&jlennon(), &Fields::FILE).expect("valid");
        let u = SourceUser {
            first_name: "José 李 👨\u{200D}👩".into(),
            last_name: "عبد الله\u{200F}".into(),
            ..with_login("łukasz.müller")
        };
        super::user(&u, &Fields::FILE).expect("format characters are fine in names");
    }

    #[test]
    fn a_byte_order_mark_or_zero_width_space_in_an_id_is_refused() {
        assert_eq!(
            problem(&with_login("\u{FEFF}jlennon")),
            "id: the invisible character U+FEFF at character 1"
        );
        assert_eq!(
            problem(&with_login("jlen\u{200B}non")),
            "id: the invisible character U+200B at character 5"
        );
    }

    #[test]
    fn control_characters_are_refused_in_every_text_field() {
        assert_eq!(
            problem(&SourceUser {
                first_name: "Jo\rhn".into(),
                ..jlennon()
            }),
            "firstName: the control character U+000D at character 3"
        );
        assert_eq!(
            problem(&SourceUser {
                email: Some("j\0@example.com".into()),
                ..jlennon()
            }),
            "email: the control character U+0000 at character 2"
        );
        assert!(problem(&with_login("jl\u{85}")).contains("U+0085"));
    }

    #[test]
    fn lengths_are_counted_in_characters() {
        // 512 four-byte characters fit (2,048 bytes: MariaDB's key holds them).
        super::user(&with_login(&"😀".repeat(ID_MAX)), &Fields::FILE).expect("at the limit");
        assert_eq!(
            problem(&with_login(&"x".repeat(600))),
            "id: 600 characters, more than the 512 allowed"
        );
        let long_name = SourceUser {
            last_name: "y".repeat(50_000_000),
            ..jlennon()
        };
        assert_eq!(
            problem(&long_name),
            "lastName: 50000000 characters, more than the 1024 allowed"
        );
    }

    #[test]
    fn a_password_is_never_quoted() {
        let secret = format!("hunter2\0{}", "z".repeat(10));
        let u = SourceUser {
            password: SourcePassword::Clear(Password::new(secret.clone())),
            ..jlennon()
        };
        let message = problem(&u);
        assert_eq!(message, "password: holds the control character U+0000");
        let u = SourceUser {
            password: SourcePassword::Clear(Password::new("p".repeat(PASSWORD_MAX + 1))),
            ..jlennon()
        };
        assert!(!problem(&u).contains("ppp"));
    }

    #[test]
    fn groups_check_their_names_and_member_references() {
        let g = SourceGroup {
            source_id: SourceId::new("g1").expect("id"),
            external_id: ExternalId::new("beatles").expect("id"),
            locator: None,
            name: "The Beatles".into(),
            members: vec![
                MemberRef::ExternalId("jlennon".into()),
                MemberRef::Locator("uid=p\nmccartney".into()),
            ],
        };
        let err = super::group(&g, &Fields::FILE).expect_err("a newline");
        assert_eq!(
            err.to_string(),
            "members: the control character U+000A at character 6"
        );
        let g = SourceGroup {
            external_id: ExternalId::new("\u{FEFF}beatles").expect("id"),
            members: Vec::new(),
            ..g
        };
        assert!(super::group(&g, &Fields::FILE).is_err());
    }
}
