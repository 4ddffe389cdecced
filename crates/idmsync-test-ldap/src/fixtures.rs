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

/// A deterministic directory for benchmarks: `users` users spread over 10 OUs under
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
/// # Panics
/// If `groups > 0` but `users == 0` (the first group would have no possible member).
pub fn generated(users: usize, groups: usize, memberships: usize, seed: u64) -> String {
    assert!(
        users > 0 || groups == 0,
        "generated(): groups need at least one user to have members"
    );
    let mut rng = SplitMix64(seed);
    let mut out = String::with_capacity(users * 420 + groups * 120 + memberships * 60);
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

    let mut user_dns = Vec::with_capacity(users);
    for i in 0..users {
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
        let dn = format!("uid={uid},ou={department},ou=people,dc=example,dc=com");
        let mail = if rng.below(10) == 0 {
            String::new()
        } else {
            format!("mail: {uid}@example.com\n")
        };
        write!(
            out,
            "dn: {dn}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {given} {surname}\n\
             givenName: {given}\nsn: {surname}\ntitle: {title}\nemployeeNumber: {}\n{mail}\
             description: {}\n\n",
            100_000 + i,
            sentence(&mut rng, 60, 250),
        )
        .expect(WRITE);
        user_dns.push(dn);
    }

    let sizes = group_sizes(&mut rng, groups, memberships);
    let mut group_dns: Vec<String> = Vec::with_capacity(groups);
    for (j, size) in sizes.into_iter().enumerate() {
        let team = TEAMS[rng.below(TEAMS.len())];
        let department = DEPARTMENTS[rng.below(DEPARTMENTS.len())];
        let cn = format!("{department}-{team}-{j}");
        let dn = format!("cn={cn},ou=groups,dc=example,dc=com");
        // About 1 in 16 members is an earlier group; the rest (at least one) are users.
        let nested = ((size + rng.below(16)) / 16).min(j).min(size - 1);
        let direct = (size - nested).min(users);
        write!(
            out,
            "dn: {dn}\nobjectClass: groupOfNames\ncn: {cn}\ndescription: {}\n",
            sentence(&mut rng, 20, 120),
        )
        .expect(WRITE);
        for user in distinct(&mut rng, users, direct) {
            push_member(&mut out, &user_dns[user]);
        }
        for group in distinct(&mut rng, j, nested) {
            push_member(&mut out, &group_dns[group]);
        }
        out.push('\n');
        group_dns.push(dn);
    }
    out
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
}
