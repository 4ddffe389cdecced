//! Passwords and their hashes, as types that cannot leak: neither prints its content.

use std::fmt;

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

/// A password hash in PHC string form (`$argon2id$...`). Redacted too: a hash is an offline
/// brute-force target.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string read from the store or produced by the hasher.
    pub fn new(phc: impl Into<String>) -> Self {
        Self(phc.into())
    }

    /// The PHC string, for the store and the verifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

/// Hashes and verifies passwords for the planner. A trait so the planner stays pure (the adapter
/// brings argon2 and its randomness) and tests can use a cheap fake.
pub trait PasswordHasher: Send + Sync {
    /// A fresh salted hash of `clear`. `None` only if the hashing library fails, which the
    /// planner reports as a skipped password rather than aborting the run.
    fn hash(&self, clear: &Password) -> Option<PasswordHash>;

    /// Whether `clear` is the password `hash` was made from; lets an unchanged password cost no
    /// write (hashes are salted, so comparing hashes would always differ).
    fn verify(&self, clear: &Password, hash: &PasswordHash) -> bool;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let p = Password::new("johnpassword");
        let h = PasswordHash::new("$argon2id$secret");
        assert!(!format!("{p:?}").contains("johnpassword"));
        assert!(!format!("{h:?}").contains("secret"));
    }
}
