//! Passwords and their hashes, as types that cannot leak: neither prints its content.

use std::fmt;

use crate::ids::SourceId;

/// A clear-text password on its way from a source to the hasher. `Debug` and `Display` are
/// redacted so that no log line, error or panic message can contain it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a clear-text password.
    pub fn new(clear: impl Into<String>) -> Self {
        Self(clear.into())
    }

    /// The clear text, for the one place that needs it: the hasher or verifier.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A password hash in PHC string form (`$argon2id$...`), with the keyed check of the password
/// it was last seen to match, if any. Redacted too: a hash is an offline brute-force target.
///
/// The check exists because verifying a clear password against its hash is deliberately slow
/// (argon2, ~20 ms): a source that gives clear passwords (the file source) would otherwise
/// cost a verification per user on every run, half an hour for 100k users. The hasher derives
/// the check from a key kept outside the database, the user, the PHC string and the password
/// ([`PasswordHasher::check`]), so that the planner can tell an unchanged password by
/// recomputing it; a stored hash without one (written before checks existed, or by a hasher
/// without a key) is verified the slow way once and then gains one.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash {
    phc: String,
    check: Option<String>,
}

impl PasswordHash {
    /// Wraps a PHC string read from the store or produced by the hasher, without a check.
    pub fn new(phc: impl Into<String>) -> Self {
        Self {
            phc: phc.into(),
            check: None,
        }
    }

    /// The same hash with `check` (from [`PasswordHasher::check`]) as the check of its password;
    /// `None` removes it.
    #[must_use]
    pub fn with_check(self, check: Option<String>) -> Self {
        Self { check, ..self }
    }

    /// The PHC string, for the store and the verifier.
    pub fn as_str(&self) -> &str {
        &self.phc
    }

    /// The keyed check of the password, for the store and the planner.
    pub fn check(&self) -> Option<&str> {
        self.check.as_deref()
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

/// Hashes and verifies passwords for the planner. A trait so the planner stays pure (the adapter
/// brings argon2, its randomness and the check's key) and tests can use a cheap fake.
pub trait PasswordHasher: Send + Sync {
    /// A fresh salted hash of `clear`, without a check. `None` only if the hashing library
    /// fails, which the planner reports as a skipped password rather than aborting the run.
    fn hash(&self, clear: &Password) -> Option<PasswordHash>;

    /// Whether `clear` is the password `hash` was made from; lets an unchanged password cost no
    /// write (hashes are salted, so comparing hashes would always differ). Slow on purpose.
    fn verify(&self, clear: &Password, hash: &PasswordHash) -> bool;

    /// The keyed check of `clear` as the password of the user `user` whose hash is `hash`'s
    /// PHC string: fast, and equal to a stored check only if the same key vouched for the same
    /// password, user and PHC string. `None` by default: a hasher without a key cannot vouch,
    /// and the planner verifies instead.
    fn check(&self, user: &SourceId, clear: &Password, hash: &PasswordHash) -> Option<String> {
        let _ = (user, clear, hash);
        None
    }

    /// Whether `hash` was made with other parameters than the ones the hasher uses now (or is
    /// not its kind of hash at all), so that a password it matches is hashed again. `false` by
    /// default.
    fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        let _ = hash;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let p = Password::new("johnpassword");
        let h = PasswordHash::new("$argon2id$secret").with_check(Some("c4ec".into()));
        assert!(!format!("{p:?}").contains("johnpassword"));
        assert!(!format!("{h:?}").contains("secret"));
        assert!(!format!("{h:?}").contains("c4ec"));
    }
}
