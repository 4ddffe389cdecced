//! The pure parser of `users.txt` and `groups.txt`: bytes in, domain entries with their
//! `lastModified` dates out, or the first malformed line as a typed error. No I/O, so every rule
//! is unit-tested on literal input.
//!
//! The parser is strict on purpose: a line it cannot read fully rejects the whole file, because
//! a full run that silently dropped a line would deactivate that user.

use std::fmt;

use chrono::NaiveDate;
use idmsync_domain::validate::{self, Fields, Violation};
use idmsync_domain::{
    ExternalId, IdError, MemberNames, MemberRef, Password, SourceGroup, SourceId, SourcePassword,
    SourceUser,
};
use idmsync_mapping::{Attributes, Expression};
use idmsync_ports::SourceError;

/// The UTF-8 byte order mark some Windows editors put at the start of a file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The fields of a `users.txt` line, named as in the original's documentation.
const USER_FIELDS: [&str; 6] = [
    "id",
    "firstName",
    "lastName",
    "email",
    "password",
    "lastModified",
];

/// The fields of a `groups.txt` line.
const GROUP_FIELDS: [&str; 3] = ["name", "members", "lastModified"];

/// A parsed entry and the date the file says it last changed, which differential runs filter on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dated<T> {
    /// The user or group.
    pub(crate) entry: T,
    /// The line's `lastModified` date.
    pub(crate) last_modified: NaiveDate,
}

/// `[source.file.mapping]`: an expression per field over the line's columns (`id`,
/// `firstName`, `lastName`, `email`; a group's `name`), as for `[source.ldap.mapping]`, each
/// parsed as the configuration is read; a field without one is its column. The source id is
/// always the `id` (or `name`) column: identity never moves with a mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileMapping {
    /// The login id, from `id`, `firstName`, `lastName`, `email`.
    pub login: Option<Expression>,
    /// The given name.
    pub first_name: Option<Expression>,
    /// The family name.
    pub last_name: Option<Expression>,
    /// The e-mail address.
    pub email: Option<Expression>,
    /// A group's display name, from `name`.
    pub group_name: Option<Expression>,
    /// What a tenant of several sources matches people by (`mapping.match`, with
    /// `sync.match_by = "mapping"`); no value matches nobody.
    #[serde(rename = "match")]
    pub match_value: Option<Expression>,
}

/// A line's fields as mapping expressions read them, by the column names of the original's
/// documentation (without case). The password is never one of them.
struct Columns<'a>(&'a [(&'static str, &'a str)]);

impl Attributes for Columns<'_> {
    fn values(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(column, value)| column.eq_ignore_ascii_case(name) && !value.is_empty())
            .map(|(_, value)| *value)
            .collect()
    }
}

/// `column` as the line has it, or the mapping's value for it.
fn mapped(
    loc: Loc<'_>,
    (name, column): (&'static str, &str),
    expression: Option<&Expression>,
    columns: &Columns<'_>,
) -> Result<String, SourceError> {
    match expression {
        None => Ok(column.to_owned()),
        Some(expression) => expression.eval(columns).ok_or_else(|| {
            Field {
                loc,
                name,
                raw: &[],
            }
            .invalid(format_args!("the mapping `{expression}` gives no value"))
        }),
    }
}

/// Parses `users.txt`. `path` only names the file in errors; with `ignore_case` the source id is
/// the lowercased login id, so that a change of case keeps the user's row.
pub(crate) fn parse_users(
    bytes: &[u8],
    path: &str,
    ignore_case: bool,
    mapping: &FileMapping,
) -> Result<Vec<Dated<SourceUser>>, SourceError> {
    data_lines(bytes)
        .map(|(number, raw)| {
            let loc = Loc { path, number };
            let [id, first_name, last_name, email, password, date] =
                split(loc, raw, b';', USER_FIELDS)?;
            let (source_id, mut external_id) = identity(&id, ignore_case)?;
            let texts = [
                ("id", id.text()?),
                ("firstName", first_name.text()?),
                ("lastName", last_name.text()?),
                ("email", email.text()?),
            ];
            let columns = Columns(&texts);
            if mapping.login.is_some() {
                let login = mapped(loc, ("id", texts[0].1), mapping.login.as_ref(), &columns)?;
                external_id = ExternalId::new(&login).map_err(|e| id.invalid(e))?;
            }
            let email = match &mapping.email {
                Some(_) => Some(mapped(
                    loc,
                    ("email", ""),
                    mapping.email.as_ref(),
                    &columns,
                )?),
                None => email_of(&email)?,
            };
            let entry = SourceUser {
                source_id,
                external_id,
                locator: None,
                first_name: mapped(loc, texts[1], mapping.first_name.as_ref(), &columns)?,
                last_name: mapped(loc, texts[2], mapping.last_name.as_ref(), &columns)?,
                email,
                password: password_of(&password)?,
                enabled: true,
                match_value: mapping.match_value.as_ref().and_then(|e| e.eval(&columns)),
            };
            validate::user(&entry, &Fields::FILE).map_err(|v| loc.invalid(&v))?;
            Ok(Dated {
                entry,
                last_modified: date_of(&date)?,
            })
        })
        .collect()
}

/// Parses `groups.txt`. Members stay unresolved external ids (users or groups alike): the
/// planner resolves them against the snapshot and the store. Every reference to one name
/// shares one string.
pub(crate) fn parse_groups(
    bytes: &[u8],
    path: &str,
    ignore_case: bool,
    mapping: &FileMapping,
) -> Result<Vec<Dated<SourceGroup>>, SourceError> {
    let mut names = MemberNames::default();
    data_lines(bytes)
        .map(|(number, raw)| {
            let loc = Loc { path, number };
            let [name, members, date] = split(loc, raw, b':', GROUP_FIELDS)?;
            let (source_id, external_id) = identity(&name, ignore_case)?;
            let texts = [("name", name.text()?)];
            let display = match &mapping.group_name {
                Some(_) => mapped(
                    loc,
                    ("name", ""),
                    mapping.group_name.as_ref(),
                    &Columns(&texts),
                )?,
                None => external_id.to_string(),
            };
            let entry = SourceGroup {
                source_id,
                name: display,
                external_id,
                locator: None,
                members: members_of(&members, &mut names)?,
            };
            validate::group(&entry, &Fields::FILE).map_err(|v| loc.invalid(&v))?;
            Ok(Dated {
                entry,
                last_modified: date_of(&date)?,
            })
        })
        .collect()
}

/// How many entries a file holds, for the progress bar's total.
pub(crate) fn count_entries(bytes: &[u8]) -> u64 {
    data_lines(bytes).count() as u64
}

/// The numbered lines that carry data: the BOM, a CR before each LF, blank lines and `#`
/// comment lines are dropped. Works on bytes so that invalid UTF-8 is reported per field.
fn data_lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .map(|(i, line)| (i + 1, line.strip_suffix(b"\r").unwrap_or(line)))
        .filter(|(_, line)| {
            let line = line.trim_ascii();
            !line.is_empty() && !line.starts_with(b"#")
        })
}

/// Where a line is, for error locations (`config/users.txt:7`).
#[derive(Clone, Copy)]
struct Loc<'a> {
    path: &'a str,
    number: usize,
}

impl Loc<'_> {
    /// The error for a value of this line that breaks the domain's rules.
    fn invalid(&self, violation: &Violation) -> SourceError {
        Field {
            loc: *self,
            name: violation.field,
            raw: &[],
        }
        .invalid(&violation.problem)
    }
}

/// One field of a line, with what it takes to report an error about it.
struct Field<'a> {
    loc: Loc<'a>,
    name: &'static str,
    raw: &'a [u8],
}

impl<'a> Field<'a> {
    /// The field as trimmed text.
    fn text(&self) -> Result<&'a str, SourceError> {
        std::str::from_utf8(self.raw)
            .map(str::trim)
            .map_err(|_| self.invalid("not valid UTF-8"))
    }

    /// An error naming this field and line. Messages never quote a value: a password that
    /// contains the separator shifts its pieces into the neighbouring fields, so any quoted
    /// value of a `users.txt` line could be part of a password.
    fn invalid(&self, what: impl fmt::Display) -> SourceError {
        SourceError::Invalid {
            location: format!("{}:{}", self.loc.path, self.loc.number),
            message: format!("field '{}': {what}", self.name),
        }
    }
}

/// Splits a line into exactly `N` fields. The message of a wrong count never quotes the line,
/// which holds a password in `users.txt`.
fn split<'a, const N: usize>(
    loc: Loc<'a>,
    raw: &'a [u8],
    separator: u8,
    names: [&'static str; N],
) -> Result<[Field<'a>; N], SourceError> {
    let parts: Vec<&[u8]> = raw.split(|b| *b == separator).collect();
    let sep = char::from(separator);
    if parts.len() < N {
        let field = Field {
            loc,
            name: names[parts.len()],
            raw: &[],
        };
        return Err(field.invalid(format_args!(
            "missing: expected {N} fields separated by '{sep}', found {}",
            parts.len()
        )));
    }
    if parts.len() > N {
        let field = Field {
            loc,
            name: names[N - 1],
            raw: &[],
        };
        return Err(field.invalid(format_args!(
            "followed by {} unexpected field(s): expected {N} fields separated by '{sep}' \
             (a value cannot contain '{sep}')",
            parts.len() - N
        )));
    }
    Ok(std::array::from_fn(|i| Field {
        loc,
        name: names[i],
        raw: parts[i],
    }))
}

/// The source id and external id of an entry named by `field`.
fn identity(field: &Field<'_>, ignore_case: bool) -> Result<(SourceId, ExternalId), SourceError> {
    let text = field.text()?;
    let empty = |e: IdError| match e {
        IdError::Empty(_) => field.invalid("must not be empty"),
    };
    let external_id = ExternalId::new(text).map_err(empty)?;
    let source_id = if ignore_case {
        SourceId::new(text.to_lowercase())
    } else {
        SourceId::new(text)
    }
    .map_err(empty)?;
    Ok((source_id, external_id))
}

/// An optional e-mail address, checked enough to catch a field typed into the wrong column.
fn email_of(field: &Field<'_>) -> Result<Option<String>, SourceError> {
    let text = field.text()?;
    if text.is_empty() {
        return Ok(None);
    }
    match email_problem(text) {
        None => Ok(Some(text.to_owned())),
        Some(problem) => Err(field.invalid(format_args!("not an e-mail address: {problem}"))),
    }
}

/// What is wrong with an e-mail address, if anything.
fn email_problem(text: &str) -> Option<&'static str> {
    if text.chars().any(char::is_whitespace) {
        return Some("it contains white space");
    }
    let Some((local, domain)) = text.split_once('@') else {
        return Some("it has no '@'");
    };
    if domain.contains('@') {
        return Some("it has more than one '@'");
    }
    if local.is_empty() {
        return Some("nothing before the '@'");
    }
    if !domain.contains('.') || domain.split('.').any(str::is_empty) {
        return Some("the domain needs dot-separated, non-empty parts");
    }
    None
}

/// The local password: an empty field means the user has none. The value never appears in an
/// error.
fn password_of(field: &Field<'_>) -> Result<SourcePassword, SourceError> {
    let text = field.text()?;
    Ok(if text.is_empty() {
        SourcePassword::Absent
    } else {
        SourcePassword::Clear(Password::new(text))
    })
}

/// A `dd/MM/yyyy` date, zero-padded, that exists in the calendar.
fn date_of(field: &Field<'_>) -> Result<NaiveDate, SourceError> {
    let text = field.text()?;
    let (year, month, day) =
        dd_mm_yyyy(text).ok_or_else(|| field.invalid("not a date in dd/MM/yyyy form"))?;
    NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| field.invalid("not a real date"))
}

/// The numbers of a `dd/MM/yyyy` string, without checking that they make a date.
fn dd_mm_yyyy(text: &str) -> Option<(i32, u32, u32)> {
    let (day, rest) = text.split_once('/')?;
    let (month, year) = rest.split_once('/')?;
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(day, 2) && digits(month, 2) && digits(year, 4)) {
        return None;
    }
    Some((year.parse().ok()?, month.parse().ok()?, day.parse().ok()?))
}

/// The members of a group: `;`-separated names, possibly none at all.
fn members_of(field: &Field<'_>, names: &mut MemberNames) -> Result<Vec<MemberRef>, SourceError> {
    let text = field.text()?;
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(';')
        .map(str::trim)
        .enumerate()
        .map(|(i, name)| {
            if name.is_empty() {
                Err(field.invalid(format_args!(
                    "member {} is empty (two ';' in a row, or one at an end)",
                    i + 1
                )))
            } else {
                Ok(MemberRef::ExternalId(names.intern(name)))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One user per line, every field visible (the password too: this is test data).
    fn render_user(d: &Dated<SourceUser>) -> String {
        let u = &d.entry;
        let password = match &u.password {
            SourcePassword::Unmanaged => "unmanaged".to_owned(),
            SourcePassword::Absent => "absent".to_owned(),
            SourcePassword::Clear(p) => format!("clear:{}", p.expose()),
        };
        assert_eq!(u.locator, None);
        assert!(u.enabled);
        format!(
            "{} {} first={:?} last={:?} email={} password={password} date={}",
            u.source_id.as_str(),
            u.external_id.as_str(),
            u.first_name,
            u.last_name,
            u.email.as_deref().unwrap_or("-"),
            d.last_modified,
        )
    }

    fn render_group(d: &Dated<SourceGroup>) -> String {
        let g = &d.entry;
        assert_eq!(g.locator, None);
        assert_eq!(g.name, g.external_id.as_str());
        let members: Vec<String> = g
            .members
            .iter()
            .map(|m| match m {
                MemberRef::ExternalId(e) => e.to_string(),
                MemberRef::Locator(l) => format!("locator:{l}"),
            })
            .collect();
        format!(
            "{} {} members=[{}] date={}",
            g.source_id.as_str(),
            g.external_id.as_str(),
            members.join(","),
            d.last_modified,
        )
    }

    fn render<T>(
        result: Result<Vec<Dated<T>>, SourceError>,
        line: impl Fn(&Dated<T>) -> String,
    ) -> String {
        match result {
            Ok(entries) => entries.iter().map(line).collect::<Vec<_>>().join("\n"),
            Err(e) => format!("error: {e}"),
        }
    }

    /// Parses `input` as `users.txt` (case-sensitive) and compares the rendering.
    fn check_users(input: impl AsRef<[u8]>, expected: &str) {
        let actual = render(
            parse_users(input.as_ref(), "users.txt", false, &FileMapping::default()),
            render_user,
        );
        assert_eq!(actual, expected.trim(), "input: {:?}", input.as_ref());
    }

    /// Parses `input` as `groups.txt` (case-sensitive) and compares the rendering.
    fn check_groups(input: impl AsRef<[u8]>, expected: &str) {
        let actual = render(
            parse_groups(input.as_ref(), "groups.txt", false, &FileMapping::default()),
            render_group,
        );
        assert_eq!(actual, expected.trim(), "input: {:?}", input.as_ref());
    }

    #[test]
    fn the_originals_example_user() {
        check_users(
            "jlennon;John;Lennon;john@beatles.com;johnpassword;10/10/2015\n",
            r#"jlennon jlennon first="John" last="Lennon" email=john@beatles.com password=clear:johnpassword date=2015-10-10"#,
        );
    }

    #[test]
    fn empty_email_and_password_mean_none() {
        check_users(
            "ringo;Ringo;Starr;;;07/07/2015\nbjork;Björk;;bjork@example.is;bjorkpassword;21/11/2015",
            r#"
ringo ringo first="Ringo" last="Starr" email=- password=absent date=2015-07-07
bjork bjork first="Björk" last="" email=bjork@example.is password=clear:bjorkpassword date=2015-11-21
"#,
        );
    }

    #[test]
    fn comments_blank_lines_bom_crlf_and_padding_are_accepted() {
        check_users(
            "\u{feff}# id;first;last;email;password;date\r\n\r\n   \r\n  # indented comment\r\n jlennon ; John ;Lennon; john@beatles.com ;johnpassword; 10/10/2015 \r\n",
            r#"jlennon jlennon first="John" last="Lennon" email=john@beatles.com password=clear:johnpassword date=2015-10-10"#,
        );
        check_users("", "");
        check_users("# only a comment\n", "");
    }

    #[test]
    fn duplicates_are_left_to_the_engine() {
        check_users(
            "a;A;A;;;01/01/2015\na;B;B;;;02/01/2015",
            r#"
a a first="A" last="A" email=- password=absent date=2015-01-01
a a first="B" last="B" email=- password=absent date=2015-01-02
"#,
        );
    }

    #[test]
    fn a_mapping_computes_fields_from_the_columns_and_keeps_the_id_as_identity() {
        let expression = |t: &str| Some(Expression::parse(t).expect("valid"));
        let mapping = FileMapping {
            login: expression("lower(id)"),
            email: expression(r#"default(email, "n/a@example.com")"#),
            first_name: expression("upper(firstName)"),
            group_name: expression(r#"regex_replace(name, "^team-", "Team ")"#),
            ..FileMapping::default()
        };
        let users = parse_users(b"JLennon;John;Lennon;;pw;10/10/2015", "u", false, &mapping)
            .expect("valid line");
        assert_eq!(
            render_user(&users[0]),
            r#"JLennon jlennon first="JOHN" last="Lennon" email=n/a@example.com password=clear:pw date=2015-10-10"#
        );
        let groups =
            parse_groups(b"team-a:jlennon:13/10/2015", "g", false, &mapping).expect("valid line");
        assert_eq!(groups[0].entry.name, "Team a");
        assert_eq!(groups[0].entry.external_id.as_str(), "team-a");
        let nothing = FileMapping {
            login: expression(r#"regex_capture(email, "^(.+)@")"#),
            ..FileMapping::default()
        };
        let err = parse_users(b"jlennon;John;Lennon;;;10/10/2015", "u", false, &nothing)
            .expect_err("no login");
        assert_eq!(
            err.to_string(),
            r#"u:1: field 'id': the mapping `regex_capture(email, "^(.+)@")` gives no value"#
        );
    }

    #[test]
    fn ignore_case_lowercases_only_the_source_id() {
        let users = parse_users(
            b"JLennon;John;Lennon;;;10/10/2015",
            "u",
            true,
            &FileMapping::default(),
        )
        .expect("valid line");
        assert_eq!(
            render_user(&users[0]),
            r#"jlennon JLennon first="John" last="Lennon" email=- password=absent date=2015-10-10"#
        );
        let groups = parse_groups(
            b"Beatles:JLennon:13/10/2015",
            "g",
            true,
            &FileMapping::default(),
        )
        .expect("valid line");
        assert_eq!(
            render_group(&groups[0]),
            "beatles Beatles members=[JLennon] date=2015-10-13"
        );
    }

    #[test]
    fn user_errors_name_line_and_field() {
        let ok = "jlennon;John;Lennon;john@beatles.com;johnpassword;10/10/2015\n";
        for (bad, expected) in [
            ("jlennon;John;Lennon;john@beatles.com;johnpassword", "error: users.txt:3: field 'lastModified': missing: expected 6 fields separated by ';', found 5"),
            ("jlennon", "error: users.txt:3: field 'firstName': missing: expected 6 fields separated by ';', found 1"),
            ("jlennon;John;Lennon;john@beatles.com;john;password;10/10/2015", "error: users.txt:3: field 'lastModified': followed by 1 unexpected field(s): expected 6 fields separated by ';' (a value cannot contain ';')"),
            (" ;John;Lennon;;;10/10/2015", "error: users.txt:3: field 'id': must not be empty"),
            ("jlennon;John;Lennon;john.beatles.com;x;10/10/2015", "error: users.txt:3: field 'email': not an e-mail address: it has no '@'"),
            ("jlennon;John;Lennon;john@@beatles.com;x;10/10/2015", "error: users.txt:3: field 'email': not an e-mail address: it has more than one '@'"),
            ("jlennon;John;Lennon;@beatles.com;x;10/10/2015", "error: users.txt:3: field 'email': not an e-mail address: nothing before the '@'"),
            ("jlennon;John;Lennon;john@beatles;x;10/10/2015", "error: users.txt:3: field 'email': not an e-mail address: the domain needs dot-separated, non-empty parts"),
            ("jlennon;John;Lennon;john@beatles.;x;10/10/2015", "error: users.txt:3: field 'email': not an e-mail address: the domain needs dot-separated, non-empty parts"),
            ("jlennon;John;Lennon;john lennon@beatles.com;x;10/10/2015", "error: users.txt:3: field 'email': not an e-mail address: it contains white space"),
            ("jlennon;John;Lennon;;x;2015-10-10", "error: users.txt:3: field 'lastModified': not a date in dd/MM/yyyy form"),
            ("jlennon;John;Lennon;;x;1/10/2015", "error: users.txt:3: field 'lastModified': not a date in dd/MM/yyyy form"),
            ("jlennon;John;Lennon;;x;", "error: users.txt:3: field 'lastModified': not a date in dd/MM/yyyy form"),
            ("jlennon;John;Lennon;;x;31/02/2015", "error: users.txt:3: field 'lastModified': not a real date"),
            ("jlennon;John;Lennon;;x;10/13/2015", "error: users.txt:3: field 'lastModified': not a real date"),
            // A byte order mark is allowed only at the very start of the file.
            ("\u{FEFF}jlennon;John;Lennon;;;10/10/2015", "error: users.txt:3: field 'id': the invisible character U+FEFF at character 1"),
            ("jlennon;Jo\rhn;Lennon;;;10/10/2015", "error: users.txt:3: field 'firstName': the control character U+000D at character 3"),
            ("jlennon;John;Len\0non;;;10/10/2015", "error: users.txt:3: field 'lastName': the control character U+0000 at character 4"),
            ("jlennon;John;Lennon;;pass\0word;10/10/2015", "error: users.txt:3: field 'password': holds the control character U+0000"),
        ] {
            check_users(format!("{ok}# comment\n{bad}\n{ok}"), expected);
        }
    }

    #[test]
    fn values_no_database_can_store_name_the_line_and_field() {
        let long_id = "x".repeat(600);
        check_users(
            format!("{long_id};John;Lennon;;;10/10/2015"),
            "error: users.txt:1: field 'id': 600 characters, more than the 512 allowed",
        );
        check_groups(
            format!("beatles:jlennon;{}:13/10/2015", "y".repeat(5000)),
            "error: groups.txt:1: field 'members': 5000 characters, more than the 4096 allowed",
        );
        check_groups(
            "\u{FEFF}beatles:jlennon:13/10/2015\n\u{FEFF}stones::13/10/2015",
            "error: groups.txt:2: field 'name': the invisible character U+FEFF at character 1",
        );
    }

    #[test]
    fn invalid_utf8_names_the_field() {
        check_users(
            b"jlennon;J\xffohn;Lennon;;;10/10/2015",
            "error: users.txt:1: field 'firstName': not valid UTF-8",
        );
        check_groups(
            b"beatles:jlennon;r\xc3:13/10/2015",
            "error: groups.txt:1: field 'members': not valid UTF-8",
        );
        // Comments are not data: a stray byte there is harmless.
        check_groups(
            b"# caf\xe9\nbeatles::13/10/2015",
            "beatles beatles members=[] date=2015-10-13",
        );
    }

    #[test]
    fn errors_never_contain_the_password() {
        for (bad, secrets) in [
            ("jlennon;John;Lennon;;s3cret;x;10/10/2015", &["s3cret"][..]),
            ("jlennon;John;Lennon;;s3cret", &["s3cret"]),
            ("jlennon;John;Lennon;bad;s3cret;10/10/2015", &["s3cret"]),
            ("jlennon;John;Lennon;;s3cret;99/99/2015", &["s3cret"]),
            // A password containing ';' on a line without a date: its tail lands in the date.
            ("jlennon;John;Lennon;;s3c;r3t", &["s3c", "r3t"]),
            // ... or, without an e-mail field, its head lands in the e-mail.
            ("jlennon;John;Lennon;s3c;r3t;10/10/2015", &["s3c", "r3t"]),
        ] {
            let err = parse_users(bad.as_bytes(), "users.txt", false, &FileMapping::default())
                .expect_err("malformed line");
            for secret in secrets {
                assert!(!err.to_string().contains(secret), "{err}");
            }
        }
        let err = parse_users(
            b"jlennon;John;Lennon;;s3\xffcret;10/10/2015",
            "u",
            false,
            &FileMapping::default(),
        )
        .expect_err("invalid UTF-8");
        assert_eq!(err.to_string(), "u:1: field 'password': not valid UTF-8");
    }

    #[test]
    fn the_originals_example_group_and_nesting() {
        check_groups(
            "beatles:jlennon;rstarr;gharrison;pmccartney:13/10/2015\r\nmusicians: beatles ; stones :14/10/2015\r\nempty::15/10/2015",
            "
beatles beatles members=[jlennon,rstarr,gharrison,pmccartney] date=2015-10-13
musicians musicians members=[beatles,stones] date=2015-10-14
empty empty members=[] date=2015-10-15
",
        );
    }

    #[test]
    fn group_errors_name_line_and_field() {
        for (bad, expected) in [
            ("beatles:jlennon", "error: groups.txt:2: field 'lastModified': missing: expected 3 fields separated by ':', found 2"),
            ("beatles:a:b:13/10/2015", "error: groups.txt:2: field 'lastModified': followed by 1 unexpected field(s): expected 3 fields separated by ':' (a value cannot contain ':')"),
            (":jlennon:13/10/2015", "error: groups.txt:2: field 'name': must not be empty"),
            ("beatles:jlennon;;rstarr:13/10/2015", "error: groups.txt:2: field 'members': member 2 is empty (two ';' in a row, or one at an end)"),
            ("beatles:jlennon;:13/10/2015", "error: groups.txt:2: field 'members': member 2 is empty (two ';' in a row, or one at an end)"),
            ("beatles:;jlennon:13/10/2015", "error: groups.txt:2: field 'members': member 1 is empty (two ';' in a row, or one at an end)"),
            ("beatles:jlennon:29/02/2015", "error: groups.txt:2: field 'lastModified': not a real date"),
            ("beatles:jlennon:13.10.2015", "error: groups.txt:2: field 'lastModified': not a date in dd/MM/yyyy form"),
        ] {
            check_groups(format!("\n{bad}\nok::01/01/2015"), expected);
        }
    }

    #[test]
    fn leap_days_exist_in_leap_years() {
        check_groups("g::29/02/2016", "g g members=[] date=2016-02-29");
    }

    #[test]
    fn count_entries_counts_data_lines_only() {
        assert_eq!(count_entries(b"\xEF\xBB\xBF# c\r\n\r\na;b\nc\n"), 2);
        assert_eq!(count_entries(b""), 0);
    }
}
