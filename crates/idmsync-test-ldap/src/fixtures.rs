//! Directory contents to load with [`SlapdBuilder::ldif`](crate::SlapdBuilder::ldif): the
//! hand-written test directory and a deterministic generator for benchmarks.
//!
//! Both are written for the default suffix `dc=example,dc=com` and both contain `ou=people` and
//! `ou=groups`, so load one or the other, not both.

use std::fmt::Write as _;

/// The hand-written test directory that idmsync's LDAP tests assert against: 12 users in nested
/// OUs under `ou=people`, one user outside it, and groups that exercise nesting, cycles,
/// dangling members, DN escaping and DN normalisation. The comment block at the top of
/// `fixtures/directory.ldif` lists each tricky entry and what it is for.
pub const DIRECTORY: &str = include_str!("../fixtures/directory.ldif");

/// The login ids (`uid`) of [`DIRECTORY`]'s 12 users under `ou=people`, sorted: what a sync of
/// the people subtree must create.
pub const PEOPLE: [&str; 12] = [
    "bjork",
    "cwatts",
    "dbowie",
    "eclapton",
    "gharrison",
    "jlennon",
    "jsmith",
    "krichards",
    "mjagger",
    "pmccartney",
    "rstarr",
    "rwood",
];

/// The `expect` message of writes to a `String`, which cannot fail.
const WRITE: &str = "writing to a String cannot fail";

/// The OUs under `ou=people` that generated users are spread over.
const DEPARTMENTS: [&str; 10] = [
    "engineering",
    "sales",
    "marketing",
    "finance",
    "support",
    "legal",
    "operations",
    "research",
    "people-ops",
    "facilities",
];

const GIVEN_NAMES: [&str; 24] = [
    "Alice", "Bob", "Carol", "David", "Emma", "Farid", "Grace", "Hiroshi", "Ines", "Jamal", "Kofi",
    "Laura", "Mateo", "Nadia", "Olga", "Pavel", "Qing", "Rosa", "Sven", "Tariq", "Uma", "Victor",
    "Wen", "Zoë",
];

/// Surnames with the ASCII spelling used in uids and mail addresses.
const SURNAMES: [(&str, &str); 24] = [
    ("Smith", "smith"),
    ("García", "garcia"),
    ("Müller", "muller"),
    ("Rossi", "rossi"),
    ("Nowak", "nowak"),
    ("Kim", "kim"),
    ("Okafor", "okafor"),
    ("Jensen", "jensen"),
    ("Dubois", "dubois"),
    ("Silva", "silva"),
    ("Yamamoto", "yamamoto"),
    ("O'Brien", "obrien"),
    ("Novák", "novak"),
    ("Singh", "singh"),
    ("Cohen", "cohen"),
    ("Andersson", "andersson"),
    ("Ivanova", "ivanova"),
    ("Haddad", "haddad"),
    ("Brown", "brown"),
    ("Nguyen", "nguyen"),
    ("Kowalski", "kowalski"),
    ("Papadopoulos", "papadopoulos"),
    ("Fernández", "fernandez"),
    ("Larsen", "larsen"),
];

const TITLES: [&str; 8] = [
    "Engineer",
    "Senior Engineer",
    "Analyst",
    "Manager",
    "Director",
    "Specialist",
    "Consultant",
    "Coordinator",
];

const TEAMS: [&str; 12] = [
    "platform",
    "payments",
    "search",
    "mobile",
    "data",
    "security",
    "identity",
    "billing",
    "growth",
    "infra",
    "reporting",
    "onboarding",
];

/// Words for descriptions, which make entries as large as real ones (real directories are full
/// of free text), so benchmarks move a realistic number of bytes.
const WORDS: [&str; 32] = [
    "responsible",
    "for",
    "the",
    "regional",
    "customer",
    "accounts",
    "and",
    "quarterly",
    "planning",
    "reports",
    "to",
    "team",
    "lead",
    "based",
    "in",
    "office",
    "works",
    "remotely",
    "on",
    "cross-functional",
    "projects",
    "with",
    "focus",
    "internal",
    "tooling",
    "migration",
    "of",
    "legacy",
    "systems",
    "since",
    "contractor",
    "access",
];

/// A deterministic directory for benchmarks, as LDIF: `users` users spread over 10 OUs under
/// `ou=people`, `groups` groupOfNames under `ou=groups`, and about `memberships` member values
/// (exactly that many unless groups would need more members than exist).
///
/// Realistic rather than uniform: users have uid, cn, givenName, sn, title, employeeNumber, a
/// description of 60 to 250 bytes, some non-ASCII names, and a mail address `<uid>@example.com`
/// (9 users in 10);
/// group sizes are skewed (the largest groups are ~64 times the smallest); about 1 member in 16
/// is a group. Nesting only points at groups generated earlier, so it has no cycles (the
/// hand-written [`DIRECTORY`] has one). Every group has at least one member, as groupOfNames
/// requires. The same arguments always give the same text.
///
/// This is [`Generated::new`] rendered with [`Generated::ldif`]; use [`Generated`] itself for
/// the file source's format or for changes to apply later.
///
/// # Panics
/// If `groups > 0` but `users == 0` (the first group would have no possible member).
pub fn generated(users: usize, groups: usize, memberships: usize, seed: u64) -> String {
    Generated::new(users, groups, memberships, seed).ldif()
}

/// One generated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedUser {
    /// The login id (`uid`), unique: `<initial><surname><index>`.
    pub uid: String,
    /// The DN, under one of the department OUs.
    pub dn: String,
    /// `givenName`.
    pub given_name: String,
    /// `sn` (changed by [`Generated::change`]).
    pub surname: String,
    /// `mail`, absent for about 1 user in 10.
    pub mail: Option<String>,
    /// `title`.
    pub title: &'static str,
    /// `employeeNumber`.
    pub employee_number: usize,
    /// `description`: free text that makes the entry as large as a real one.
    pub description: String,
    /// False once [`Generated::delete_users`] removed the user; renderers skip it.
    pub present: bool,
    /// Set by [`Generated::change`]: the file source dates the line "today".
    pub changed: bool,
}

/// One generated group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedGroup {
    /// The group name (`cn`), unique: `<department>-<team>-<index>`.
    pub cn: String,
    /// The DN, under `ou=groups`.
    pub dn: String,
    /// `description`.
    pub description: String,
    /// Member users, as indices into [`Generated::users`].
    pub user_members: Vec<usize>,
    /// Member groups (nesting), as indices of earlier groups in [`Generated::groups`].
    pub group_members: Vec<usize>,
    /// Set by [`Generated::change`]: the file source dates the line "today".
    pub changed: bool,
}

/// A generated directory as data, so the same users and groups can be written as LDIF or in
/// the file source's format, and changed or deleted in step in both (a benchmark applies the
/// LDIF of a change with ldapmodify and rewrites the files from the same model).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    users: Vec<GeneratedUser>,
    groups: Vec<GeneratedGroup>,
}

impl Generated {
    /// Generates the directory that [`generated`] describes (same arguments, same entries).
    ///
    /// # Panics
    /// If `groups > 0` but `users == 0` (the first group would have no possible member).
    pub fn new(users: usize, groups: usize, memberships: usize, seed: u64) -> Self {
        assert!(
            users > 0 || groups == 0,
            "generated(): groups need at least one user to have members"
        );
        let mut rng = SplitMix64(seed);
        let users: Vec<GeneratedUser> = (0..users).map(|i| user(&mut rng, i)).collect();
        let sizes = group_sizes(&mut rng, groups, memberships);
        let mut generated_groups: Vec<GeneratedGroup> = Vec::with_capacity(groups);
        for (j, size) in sizes.into_iter().enumerate() {
            let team = TEAMS[rng.below(TEAMS.len())];
            let department = DEPARTMENTS[rng.below(DEPARTMENTS.len())];
            let cn = format!("{department}-{team}-{j}");
            // About 1 in 16 members is an earlier group; the rest (at least one) are users.
            let nested = ((size + rng.below(16)) / 16).min(j).min(size - 1);
            let direct = (size - nested).min(users.len());
            let description = sentence(&mut rng, 20, 120);
            let user_members = distinct(&mut rng, users.len(), direct).collect();
            let group_members = distinct(&mut rng, j, nested).collect();
            generated_groups.push(GeneratedGroup {
                dn: format!("cn={cn},ou=groups,dc=example,dc=com"),
                cn,
                description,
                user_members,
                group_members,
                changed: false,
            });
        }
        Generated {
            users,
            groups: generated_groups,
        }
    }

    /// Every user, deleted ones included (with `present == false`), so indices stay stable.
    pub fn users(&self) -> &[GeneratedUser] {
        &self.users
    }

    /// Every group.
    pub fn groups(&self) -> &[GeneratedGroup] {
        &self.groups
    }

    /// The present users.
    pub fn present_users(&self) -> impl Iterator<Item = &GeneratedUser> {
        self.users.iter().filter(|u| u.present)
    }

    /// The directory as LDIF for [`SlapdBuilder::ldif`](crate::SlapdBuilder::ldif): the OUs,
    /// the present users, the groups.
    pub fn ldif(&self) -> String {
        let memberships: usize = self.groups.iter().map(member_count).sum();
        let mut out = String::with_capacity(
            self.users.len() * 420 + self.groups.len() * 120 + memberships * 60,
        );
        out.push_str(
            "dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\nou: people\n\n\
             dn: ou=groups,dc=example,dc=com\nobjectClass: organizationalUnit\nou: groups\n\n",
        );
        for department in DEPARTMENTS {
            write!(
                out,
                "dn: ou={department},ou=people,dc=example,dc=com\n\
                 objectClass: organizationalUnit\nou: {department}\n\n"
            )
            .expect(WRITE);
        }
        for u in self.present_users() {
            let mail = u
                .mail
                .as_ref()
                .map(|mail| format!("mail: {mail}\n"))
                .unwrap_or_default();
            write!(
                out,
                "dn: {}\nobjectClass: inetOrgPerson\nuid: {}\ncn: {} {}\n\
                 givenName: {}\nsn: {}\ntitle: {}\nemployeeNumber: {}\n{mail}\
                 description: {}\n\n",
                u.dn,
                u.uid,
                u.given_name,
                u.surname,
                u.given_name,
                u.surname,
                u.title,
                u.employee_number,
                u.description,
            )
            .expect(WRITE);
        }
        for g in &self.groups {
            write!(
                out,
                "dn: {}\nobjectClass: groupOfNames\ncn: {}\ndescription: {}\n",
                g.dn, g.cn, g.description
            )
            .expect(WRITE);
            for &user in &g.user_members {
                push_member(&mut out, &self.users[user].dn);
            }
            for &group in &g.group_members {
                push_member(&mut out, &self.groups[group].dn);
            }
            out.push('\n');
        }
        out
    }

    /// The present users in the file source's `users.txt` format,
    /// `id;firstName;lastName;email;password;lastModified`, dated `changed_date` if
    /// [`changed`](GeneratedUser::changed), else `base_date` (both `dd/MM/yyyy`).
    ///
    /// Passwords are left empty: the file source hashes every clear password with argon2 on
    /// each run, which for 100,000 users would dwarf everything a benchmark means to measure.
    pub fn users_txt(&self, base_date: &str, changed_date: &str) -> String {
        let mut out = String::with_capacity(self.users.len() * 80);
        for u in self.present_users() {
            let date = if u.changed { changed_date } else { base_date };
            writeln!(
                out,
                "{};{};{};{};;{date}",
                u.uid,
                u.given_name,
                u.surname,
                u.mail.as_deref().unwrap_or_default(),
            )
            .expect(WRITE);
        }
        out
    }

    /// The groups in the file source's `groups.txt` format, `name:member1;member2:lastModified`,
    /// members named by uid or group name; dated as in [`users_txt`](Self::users_txt).
    pub fn groups_txt(&self, base_date: &str, changed_date: &str) -> String {
        let mut out = String::with_capacity(self.groups.len() * 40 + self.users.len() * 200);
        for g in &self.groups {
            out.push_str(&g.cn);
            out.push(':');
            let names = g
                .user_members
                .iter()
                .map(|&u| self.users[u].uid.as_str())
                .chain(g.group_members.iter().map(|&h| self.groups[h].cn.as_str()));
            for (k, name) in names.enumerate() {
                if k > 0 {
                    out.push(';');
                }
                out.push_str(name);
            }
            out.push(':');
            out.push_str(if g.changed { changed_date } else { base_date });
            out.push('\n');
        }
        out
    }

    /// Changes `users` present users (a new surname, as after a marriage) and `groups` groups
    /// (one more user member), chosen from `seed`; marks them
    /// [`changed`](GeneratedUser::changed) and returns the change records that make the same
    /// changes in a directory loaded from [`ldif`](Self::ldif), for
    /// [`Slapd::modify`](crate::Slapd::modify). Counts larger than what exists are capped.
    pub fn change(&mut self, users: usize, groups: usize, seed: u64) -> String {
        let mut rng = SplitMix64(seed);
        let mut out = String::new();
        let n = self.users.len();
        let chosen: Vec<usize> = distinct(&mut rng, n, n)
            .filter(|&u| self.users[u].present)
            .take(users)
            .collect();
        for u in chosen {
            let user = &mut self.users[u];
            let (surname, _) = SURNAMES[rng.below(SURNAMES.len())];
            user.surname = if user.surname == surname {
                format!("{surname}-Smith")
            } else {
                surname.to_string()
            };
            user.changed = true;
            write!(
                out,
                "dn: {}\nchangetype: modify\nreplace: sn\nsn: {}\n-\nreplace: cn\ncn: {} {}\n-\n\n",
                user.dn, user.surname, user.given_name, user.surname
            )
            .expect(WRITE);
        }
        let m = self.groups.len();
        for g in distinct(&mut rng, m, groups.min(m)).collect::<Vec<_>>() {
            let members = &self.groups[g].user_members;
            let newcomer =
                distinct(&mut rng, n, n).find(|u| self.users[*u].present && !members.contains(u));
            let group = &mut self.groups[g];
            group.changed = true;
            if let Some(u) = newcomer {
                group.user_members.push(u);
                write!(
                    out,
                    "dn: {}\nchangetype: modify\nadd: member\nmember: {}\n-\n\n",
                    group.dn, self.users[u].dn
                )
                .expect(WRITE);
            }
        }
        out
    }

    /// Deletes `count` present users chosen from `seed`, and their memberships (as a
    /// referential-integrity overlay or Active Directory would), sparing users whose removal
    /// would leave a group without members (groupOfNames requires one); marks the groups that
    /// lost members [`changed`](GeneratedGroup::changed). Returns the change records that do the
    /// same in a directory: member deletions first, then the entries.
    pub fn delete_users(&mut self, count: usize, seed: u64) -> String {
        let mut rng = SplitMix64(seed);
        let n = self.users.len();
        let mut groups_of: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (g, group) in self.groups.iter().enumerate() {
            for &u in &group.user_members {
                groups_of[u].push(g);
            }
        }
        let mut remaining: Vec<usize> = self.groups.iter().map(member_count).collect();
        let mut deleted = Vec::with_capacity(count);
        for u in distinct(&mut rng, n, n) {
            if deleted.len() == count {
                break;
            }
            if !self.users[u].present || groups_of[u].iter().any(|&g| remaining[g] <= 1) {
                continue;
            }
            for &g in &groups_of[u] {
                remaining[g] -= 1;
            }
            self.users[u].present = false;
            deleted.push(u);
        }
        let mut out = String::new();
        for group in &mut self.groups {
            let gone: Vec<usize> = group
                .user_members
                .iter()
                .copied()
                .filter(|&u| !self.users[u].present)
                .collect();
            if gone.is_empty() {
                continue;
            }
            group.user_members.retain(|&u| self.users[u].present);
            group.changed = true;
            push_member_deletion(&mut out, &group.dn, gone.iter().map(|&u| &self.users[u].dn));
        }
        for u in deleted {
            write!(out, "dn: {}\nchangetype: delete\n\n", self.users[u].dn).expect(WRITE);
        }
        out
    }

    /// Removes `count` user memberships of present users, chosen from `seed` evenly over the
    /// memberships (so large groups lose more members than small ones, as when people change
    /// teams), sparing a group's last member (groupOfNames requires one); marks the groups
    /// [`changed`](GeneratedGroup::changed) and returns one `delete: member` record per group
    /// for [`Slapd::modify`](crate::Slapd::modify). A count larger than what can go is capped.
    pub fn remove_members(&mut self, count: usize, seed: u64) -> String {
        let mut rng = SplitMix64(seed);
        let memberships: Vec<(usize, usize)> = self
            .groups
            .iter()
            .enumerate()
            .flat_map(|(g, group)| group.user_members.iter().map(move |&u| (g, u)))
            .filter(|&(_, u)| self.users[u].present)
            .collect();
        let mut remaining: Vec<usize> = self.groups.iter().map(member_count).collect();
        let mut gone: Vec<Vec<usize>> = vec![Vec::new(); self.groups.len()];
        let mut removed = 0;
        for i in distinct(&mut rng, memberships.len(), memberships.len()) {
            if removed == count {
                break;
            }
            let (g, u) = memberships[i];
            if remaining[g] > 1 {
                remaining[g] -= 1;
                gone[g].push(u);
                removed += 1;
            }
        }
        let mut out = String::new();
        for (group, gone) in self.groups.iter_mut().zip(gone) {
            if gone.is_empty() {
                continue;
            }
            group.user_members.retain(|u| !gone.contains(u));
            group.changed = true;
            push_member_deletion(&mut out, &group.dn, gone.iter().map(|&u| &self.users[u].dn));
        }
        out
    }
}

/// A group's member values, users and groups.
fn member_count(group: &GeneratedGroup) -> usize {
    group.user_members.len() + group.group_members.len()
}

/// The `i`th user; draws from `rng` in the order the original generator did, so
/// [`generated`]'s output has not changed.
fn user(rng: &mut SplitMix64, i: usize) -> GeneratedUser {
    let given = GIVEN_NAMES[rng.below(GIVEN_NAMES.len())];
    let (surname, surname_ascii) = SURNAMES[rng.below(SURNAMES.len())];
    let department = DEPARTMENTS[rng.below(DEPARTMENTS.len())];
    let title = TITLES[rng.below(TITLES.len())];
    let initial = given
        .chars()
        .next()
        .expect("given names are not empty")
        .to_ascii_lowercase();
    let uid = format!("{initial}{surname_ascii}{i}");
    let mail = (rng.below(10) != 0).then(|| format!("{uid}@example.com"));
    GeneratedUser {
        dn: format!("uid={uid},ou={department},ou=people,dc=example,dc=com"),
        given_name: given.to_string(),
        surname: surname.to_string(),
        mail,
        title,
        employee_number: 100_000 + i,
        description: sentence(rng, 60, 250),
        uid,
        present: true,
        changed: false,
    }
}

/// How many members each of `groups` groups gets: skewed weights (1 to 1/64), scaled to add up
/// to `memberships`, at least 1 each.
fn group_sizes(rng: &mut SplitMix64, groups: usize, memberships: usize) -> Vec<usize> {
    let weights: Vec<f64> = (0..groups)
        .map(|_| 1.0 / (1 + rng.below(64)) as f64)
        .collect();
    let total: f64 = weights.iter().sum();
    let mut sizes: Vec<usize> = weights
        .iter()
        .map(|w| (w / total * memberships as f64) as usize)
        .collect();
    // Rounding down lost fewer than `groups` memberships; hand them out one per group.
    let deficit = memberships.saturating_sub(sizes.iter().sum());
    for size in sizes.iter_mut().take(deficit) {
        *size += 1;
    }
    for size in &mut sizes {
        *size = (*size).max(1);
    }
    sizes
}

/// `count` distinct indices below `n` in a pseudo-random order: a random start and a random
/// stride coprime with `n` visit every index once, without allocating a set.
fn distinct(rng: &mut SplitMix64, n: usize, count: usize) -> impl Iterator<Item = usize> {
    debug_assert!(count <= n);
    let (start, stride) = if n == 0 {
        (0, 1)
    } else {
        let mut stride = 1 + rng.below(n);
        while gcd(stride, n) != 1 {
            stride = 1 + rng.below(n);
        }
        (rng.below(n), stride)
    };
    (0..count).map(move |k| ((start as u64 + k as u64 * stride as u64) % n as u64) as usize)
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Random words joined by spaces, between `min` and `max` bytes long, ending with a full stop.
fn sentence(rng: &mut SplitMix64, min: usize, max: usize) -> String {
    let target = min + rng.below(max - min);
    let mut text = String::with_capacity(target + 16);
    while text.len() < target {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(WORDS[rng.below(WORDS.len())]);
    }
    text.push('.');
    text
}

fn push_member(out: &mut String, dn: &str) {
    out.push_str("member: ");
    out.push_str(dn);
    out.push('\n');
}

/// A change record that deletes the `member` values `dns` from the group `group_dn`.
fn push_member_deletion<'a>(
    out: &mut String,
    group_dn: &str,
    dns: impl Iterator<Item = &'a String>,
) {
    write!(out, "dn: {group_dn}\nchangetype: modify\ndelete: member\n").expect(WRITE);
    for dn in dns {
        push_member(out, dn);
    }
    out.push_str("-\n\n");
}

/// splitmix64: a tiny, fast, well-mixed PRNG; plenty for test data, and it keeps `rand` out of
/// the dependency tree.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n > 0`), by multiply-shift rather than modulo.
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(ldif: &str, prefix: &str) -> usize {
        ldif.lines().filter(|l| l.starts_with(prefix)).count()
    }

    #[test]
    fn generated_has_the_requested_shape() {
        let ldif = generated(1000, 100, 5000, 1);
        assert_eq!(count(&ldif, "objectClass: inetOrgPerson"), 1000);
        assert_eq!(count(&ldif, "objectClass: groupOfNames"), 100);
        assert_eq!(count(&ldif, "member: "), 5000);
        let nested = count(&ldif, "member: cn=");
        assert!((100..=600).contains(&nested), "{nested} nested memberships");
        let mails = count(&ldif, "mail: ");
        assert!((850..=950).contains(&mails), "{mails} mail values");
    }

    #[test]
    fn members_are_distinct_within_a_group() {
        let ldif = generated(50, 20, 2000, 7);
        for entry in ldif.split("\n\n") {
            let members: Vec<&str> = entry.lines().filter(|l| l.starts_with("member:")).collect();
            let unique: std::collections::HashSet<&&str> = members.iter().collect();
            assert_eq!(unique.len(), members.len(), "duplicate member in\n{entry}");
        }
    }

    #[test]
    fn distinct_visits_every_index_once() {
        let mut rng = SplitMix64(3);
        for n in [1, 2, 7, 12, 100] {
            let mut seen: Vec<usize> = distinct(&mut rng, n, n).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n = {n}");
        }
    }

    #[test]
    fn every_group_has_a_member_even_with_few_memberships() {
        let ldif = generated(10, 30, 5, 2);
        for entry in ldif.split("\n\n").filter(|e| e.contains("groupOfNames")) {
            assert!(entry.contains("\nmember: "), "no member in\n{entry}");
        }
    }

    const BASE: &str = "01/01/2020";
    const TODAY: &str = "24/12/2025";

    #[test]
    fn the_file_format_has_one_valid_line_per_entry() {
        let directory = Generated::new(500, 50, 3000, 9);
        let users = directory.users_txt(BASE, TODAY);
        assert_eq!(users.lines().count(), 500);
        for line in users.lines() {
            let fields: Vec<&str> = line.split(';').collect();
            assert_eq!(fields.len(), 6, "{line}");
            assert!(!fields[0].is_empty() && !fields[1].is_empty() && !fields[2].is_empty());
            assert!(fields[3].is_empty() || fields[3].contains('@'), "{line}");
            assert_eq!(fields[4], "", "passwords stay empty: {line}");
            assert_eq!(fields[5], BASE);
        }
        let names: std::collections::HashSet<&str> = directory
            .users()
            .iter()
            .map(|u| u.uid.as_str())
            .chain(directory.groups().iter().map(|g| g.cn.as_str()))
            .collect();
        let groups = directory.groups_txt(BASE, TODAY);
        assert_eq!(groups.lines().count(), 50);
        let mut members = 0;
        for line in groups.lines() {
            let fields: Vec<&str> = line.split(':').collect();
            assert_eq!(fields.len(), 3, "{line}");
            assert_eq!(fields[2], BASE);
            for member in fields[1].split(';') {
                assert!(
                    names.contains(member),
                    "unknown member {member:?} in {line}"
                );
                members += 1;
            }
        }
        assert_eq!(members, count(&directory.ldif(), "member: "));
    }

    #[test]
    fn the_same_seed_gives_the_same_files_and_changes() {
        let render = |seed| {
            let mut directory = Generated::new(300, 30, 2000, seed);
            let changes = directory.change(20, 5, seed + 1);
            let deletions = directory.delete_users(10, seed + 2);
            (
                directory.users_txt(BASE, TODAY),
                directory.groups_txt(BASE, TODAY),
                changes,
                deletions,
            )
        };
        assert_eq!(render(4), render(4));
        assert_ne!(render(4), render(5));
    }

    #[test]
    fn changes_date_the_changed_lines_and_match_the_ldif() {
        let mut directory = Generated::new(400, 40, 2000, 3);
        let before = directory.clone();
        let ldif = directory.change(25, 7, 11);
        assert_eq!(count(&ldif, "changetype: modify"), 32);
        assert_eq!(count(&ldif, "replace: sn"), 25);
        assert_eq!(count(&ldif, "add: member"), 7);
        let users = directory.users_txt(BASE, TODAY);
        assert_eq!(users.lines().filter(|l| l.ends_with(TODAY)).count(), 25);
        let groups = directory.groups_txt(BASE, TODAY);
        assert_eq!(groups.lines().filter(|l| l.ends_with(TODAY)).count(), 7);
        for (old, new) in before.users().iter().zip(directory.users()) {
            assert_eq!(old.surname != new.surname, new.changed, "{}", new.uid);
        }
        assert_eq!(
            count(&directory.ldif(), "member: "),
            count(&before.ldif(), "member: ") + 7
        );
    }

    #[test]
    fn member_removals_date_their_groups_and_match_the_ldif() {
        let mut directory = Generated::new(400, 60, 1500, 8);
        let before = directory.clone();
        let user_members =
            |d: &Generated| -> usize { d.groups().iter().map(|g| g.user_members.len()).sum() };
        let ldif = directory.remove_members(50, 4);
        assert_eq!(user_members(&directory), user_members(&before) - 50);
        assert_eq!(count(&ldif, "member: "), 50);
        let changed = directory.groups().iter().filter(|g| g.changed).count();
        assert_eq!(count(&ldif, "delete: member"), changed);
        for group in directory.groups() {
            assert!(!group.user_members.is_empty() || !group.group_members.is_empty());
        }
        assert_eq!(
            count(&directory.ldif(), "member: "),
            count(&before.ldif(), "member: ") - 50
        );
        let groups = directory.groups_txt(BASE, TODAY);
        assert_eq!(
            groups.lines().filter(|l| l.ends_with(TODAY)).count(),
            changed
        );
    }

    #[test]
    fn deletions_leave_no_dangling_or_empty_groups() {
        let mut directory = Generated::new(400, 60, 1500, 8);
        let ldif = directory.delete_users(40, 2);
        assert_eq!(count(&ldif, "changetype: delete"), 40);
        assert_eq!(directory.present_users().count(), 360);
        for group in directory.groups() {
            assert!(!group.user_members.is_empty() || !group.group_members.is_empty());
            for &u in &group.user_members {
                assert!(
                    directory.users()[u].present,
                    "{} keeps a deleted user",
                    group.cn
                );
            }
        }
        let changed = directory.groups().iter().filter(|g| g.changed).count();
        assert_eq!(count(&ldif, "delete: member"), changed);
        let remaining = directory.ldif();
        assert_eq!(count(&remaining, "objectClass: inetOrgPerson"), 360);
        assert_eq!(
            count(&ldif, "member: ") + count(&remaining, "member: "),
            count(&Generated::new(400, 60, 1500, 8).ldif(), "member: ")
        );
    }
}
