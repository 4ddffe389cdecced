//! [`Argon2Hasher`]: argon2id hashing and verification of PHC strings, and the keyed check of
//! a password beside its hash.

use std::fmt;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{
    PasswordHash as PhcHash, PasswordHasher as _, PasswordVerifier as _, SaltString,
};
use argon2::{Algorithm, Argon2, Version};
use hmac::{Hmac, KeyInit as _, Mac as _};
use idmsync_domain::{Password, PasswordHash, PasswordHasher, SourceId};
use sha2::Sha256;

use crate::key::{hex, PasswordKey};

/// Hashes with Argon2id at the library's default parameters (19 MiB, 2 passes, 1 lane; OWASP's
/// minimum recommendation) and verifies any Argon2 PHC string with the parameters it carries.
/// With a [`PasswordKey`] it also computes the check the planner keeps beside each hash:
/// HMAC-SHA256 under the key of the user's source id (after its length, since a source id may
/// hold any character), the PHC string, a NUL byte (which a PHC string never holds) and the
/// password, so that one run where nothing changed costs one HMAC per user instead of one
/// argon2 verification.
///
/// Cheap to clone and thread-safe; one instance serves a whole run.
#[derive(Clone)]
pub struct Argon2Hasher {
    argon2: Argon2<'static>,
    /// The HMAC already keyed, cloned for each check.
    mac: Option<Hmac<Sha256>>,
    /// How the PHC strings of this hasher begin (`$argon2id$v=19$m=…,t=…,p=…$`): a hash that
    /// begins otherwise needs rehashing. A string compare, because parsing the PHC string
    /// of every user at every run cost more than the check itself.
    current: String,
}

impl Default for Argon2Hasher {
    fn default() -> Self {
        Self::with_mac(None)
    }
}

impl Argon2Hasher {
    /// A hasher with Argon2id and the default parameters, without a key: enough for logins,
    /// which verify only; the planner then verifies every clear password too.
    pub fn new() -> Self {
        Self::default()
    }

    /// A hasher whose checks are keyed with `key`: what the sync engine uses.
    pub fn with_key(key: &PasswordKey) -> Self {
        Self::with_mac(Hmac::new_from_slice(key.bytes()).ok())
    }

    fn with_mac(mac: Option<Hmac<Sha256>>) -> Self {
        let argon2 = Argon2::default();
        let p = argon2.params();
        let current = format!(
            "${}$v={}$m={},t={},p={}$",
            Algorithm::Argon2id.ident(),
            u32::from(Version::V0x13),
            p.m_cost(),
            p.t_cost(),
            p.p_cost()
        );
        Self {
            argon2,
            mac,
            current,
        }
    }
}

impl fmt::Debug for Argon2Hasher {
    /// Shows the cost parameters only: they are public in every PHC string anyway; of the key,
    /// only whether there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let params = self.argon2.params();
        f.debug_struct("Argon2Hasher")
            .field("algorithm", &"argon2id")
            .field("m_cost_kib", &params.m_cost())
            .field("t_cost", &params.t_cost())
            .field("p_cost", &params.p_cost())
            .field("keyed", &self.mac.is_some())
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

    fn check(&self, user: &SourceId, clear: &Password, hash: &PasswordHash) -> Option<String> {
        let mut mac = self.mac.clone()?;
        let user = user.as_str().as_bytes();
        mac.update(&(user.len() as u64).to_be_bytes());
        mac.update(user);
        mac.update(hash.as_str().as_bytes());
        mac.update(&[0]);
        mac.update(clear.expose().as_bytes());
        Some(hex(&mac.finalize().into_bytes()))
    }

    /// Anything but an argon2id hash of this version and the current cost parameters: what
    /// `verify` accepts with old parameters is hashed again, so that raising them reaches every
    /// password at its next run. A malformed string that begins like a current hash passes
    /// here, but no check vouches for it and it verifies nothing, so it is replaced anyway.
    fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        !hash.as_str().starts_with(&self.current)
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

    /// A key of its own in a temporary file.
    fn keyed() -> Argon2Hasher {
        let dir = tempfile::tempdir().expect("temporary directory");
        let key = PasswordKey::load_or_create(&dir.path().join("password.key")).expect("a key");
        Argon2Hasher::with_key(&key)
    }

    #[test]
    fn checks_are_keyed_and_bind_user_hash_and_password() {
        let (hasher, other) = (keyed(), keyed());
        let user = SourceId::new("jlennon").expect("a source id");
        let clear = Password::new("johnpassword");
        let h = hash(&hasher, "johnpassword");
        let check = hasher.check(&user, &clear, &h).expect("a keyed check");
        assert_eq!(check.len(), 64, "hex of HMAC-SHA256: {check}");
        assert_eq!(hasher.check(&user, &clear, &h).as_ref(), Some(&check));
        assert_ne!(
            other.check(&user, &clear, &h),
            Some(check.clone()),
            "another key"
        );
        let paul = SourceId::new("pmccartney").expect("a source id");
        let rehashed = hash(&hasher, "johnpassword");
        for (case, differs) in [
            ("another user", hasher.check(&paul, &clear, &h)),
            (
                "another password",
                hasher.check(&user, &Password::new("johnpassworD"), &h),
            ),
            ("another hash", hasher.check(&user, &clear, &rehashed)),
        ] {
            assert_ne!(differs, Some(check.clone()), "{case}");
        }
        assert_eq!(Argon2Hasher::new().check(&user, &clear, &h), None, "no key");
    }

    #[test]
    fn only_current_argon2id_hashes_need_no_rehash() {
        let hasher = Argon2Hasher::new();
        assert!(!hasher.needs_rehash(&hash(&hasher, "johnpassword")));
        let salt = SaltString::generate(&mut OsRng);
        let weaker = argon2::Params::new(8 * 1024, 1, 1, None).expect("parameters");
        for (algorithm, params) in [
            (Algorithm::Argon2id, weaker.clone()),
            (Algorithm::Argon2i, argon2::Params::default()),
        ] {
            let old = Argon2::new(algorithm, Version::V0x13, params)
                .hash_password(b"johnpassword", &salt)
                .expect("hash")
                .to_string();
            let old = PasswordHash::new(old);
            assert!(
                hasher.verify(&Password::new("johnpassword"), &old),
                "still verifies"
            );
            assert!(hasher.needs_rehash(&old), "{algorithm:?}");
        }
        assert!(hasher.needs_rehash(&PasswordHash::new("$md5$x")));
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
        let printed = format!("{:?}", keyed());
        assert!(printed.contains("keyed: true"), "{printed}");
    }
}
