//! [`Argon2Hasher`]: argon2id hashing and verification of PHC strings.

use std::fmt;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{
    PasswordHash as PhcHash, PasswordHasher as _, PasswordVerifier as _, SaltString,
};
use argon2::Argon2;
use idmsync_domain::{Password, PasswordHash, PasswordHasher};

/// Hashes with Argon2id at the library's default parameters (19 MiB, 2 passes, 1 lane; OWASP's
/// minimum recommendation) and verifies any Argon2 PHC string with the parameters it carries.
///
/// Cheap to clone and thread-safe; one instance serves a whole run.
#[derive(Clone, Default)]
pub struct Argon2Hasher {
    argon2: Argon2<'static>,
}

impl Argon2Hasher {
    /// A hasher with Argon2id and the default parameters.
    pub fn new() -> Self {
        Self::default()
    }
}

impl fmt::Debug for Argon2Hasher {
    /// Shows the cost parameters only: they are public in every PHC string anyway, and nothing
    /// else the hasher could hold (a pepper, in future) may ever be printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let params = self.argon2.params();
        f.debug_struct("Argon2Hasher")
            .field("algorithm", &"argon2id")
            .field("m_cost_kib", &params.m_cost())
            .field("t_cost", &params.t_cost())
            .field("p_cost", &params.p_cost())
            .finish_non_exhaustive()
    }
}

impl PasswordHasher for Argon2Hasher {
    fn hash(&self, clear: &Password) -> Option<PasswordHash> {
        let salt = SaltString::generate(&mut OsRng);
        match self.argon2.hash_password(clear.expose().as_bytes(), &salt) {
            Ok(phc) => Some(PasswordHash::new(phc.to_string())),
            Err(error) => {
                // The library's error names the failing parameter or output, never the input.
                tracing::warn!(%error, "argon2 failed to hash a password");
                None
            }
        }
    }

    fn verify(&self, clear: &Password, hash: &PasswordHash) -> bool {
        // A stored value that is not a PHC string (a corrupt row, a hash from another system)
        // cannot match; the planner then simply writes a fresh hash.
        let Ok(parsed) = PhcHash::new(hash.as_str()) else {
            tracing::debug!("stored password hash is not a valid PHC string");
            return false;
        };
        self.argon2
            .verify_password(clear.expose().as_bytes(), &parsed)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(hasher: &Argon2Hasher, clear: &str) -> PasswordHash {
        hasher
            .hash(&Password::new(clear))
            .expect("argon2 hashes with default parameters")
    }

    #[test]
    fn hash_then_verify_accepts_the_same_password() {
        let hasher = Argon2Hasher::new();
        let h = hash(&hasher, "johnpassword");
        assert!(
            h.as_str().starts_with("$argon2id$"),
            "PHC string of argon2id"
        );
        assert!(hasher.verify(&Password::new("johnpassword"), &h));
    }

    #[test]
    fn verify_rejects_a_wrong_password() {
        let hasher = Argon2Hasher::new();
        let h = hash(&hasher, "johnpassword");
        for wrong in ["paulpassword", "Johnpassword", "johnpassword ", ""] {
            assert!(!hasher.verify(&Password::new(wrong), &h), "{wrong:?}");
        }
    }

    #[test]
    fn hashes_are_salted() {
        let hasher = Argon2Hasher::new();
        let a = hash(&hasher, "johnpassword");
        let b = hash(&hasher, "johnpassword");
        assert_ne!(a.as_str(), b.as_str());
        assert!(hasher.verify(&Password::new("johnpassword"), &b));
    }

    #[test]
    fn malformed_hashes_verify_false() {
        let hasher = Argon2Hasher::new();
        let valid = hash(&hasher, "johnpassword");
        let truncated = &valid.as_str()[..valid.as_str().len() - 5];
        for garbage in [
            "",
            "johnpassword",
            "$argon2id$",
            "$argon2id$v=19$m=nonsense$abc$def",
            "$unknown$v=1$c2FsdA$aGFzaA",
            truncated,
        ] {
            assert!(
                !hasher.verify(&Password::new("johnpassword"), &PasswordHash::new(garbage)),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn debug_shows_no_secret() {
        let hasher = Argon2Hasher::new();
        let h = hash(&hasher, "johnpassword");
        let printed = format!("{hasher:?}");
        assert!(printed.starts_with("Argon2Hasher {"), "{printed}");
        assert!(printed.contains("argon2id"), "{printed}");
        assert!(!printed.contains("johnpassword"), "{printed}");
        assert!(!printed.contains(h.as_str()), "{printed}");
    }
}
