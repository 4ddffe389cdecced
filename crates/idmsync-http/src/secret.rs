//! Comparing secrets a caller presents (SCIM bearer tokens, console session ids and CSRF
//! tokens) with the ones kept, in time that says nothing about how close a guess was.

use std::hint::black_box;

use sha2::{Digest, Sha256};

/// A SHA-256 digest: what is kept of a secret, and what is compared.
pub(crate) type Sha = [u8; 32];

/// The digest of `secret`.
pub(crate) fn digest(secret: &str) -> Sha {
    Sha256::digest(secret.as_bytes()).into()
}

/// Equality of two digests in time independent of where they differ: every byte is looked at
/// and the differences are folded together before the one branch. `black_box` keeps the
/// compiler from turning the fold back into an early exit.
pub(crate) fn same_digest(a: &Sha, b: &Sha) -> bool {
    let mut difference = 0u8;
    for (x, y) in a.iter().zip(b.iter()) {
        difference |= black_box(x ^ y);
    }
    black_box(difference) == 0
}

/// Whether `given` is `expected`, compared as digests, so that not even the length leaks.
pub(crate) fn same(given: &str, expected: &str) -> bool {
    same_digest(&digest(given), &digest(expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_compare_whole() {
        let a = digest("a");
        let mut b = a;
        assert!(same_digest(&a, &b));
        b[31] ^= 1;
        assert!(!same_digest(&a, &b));
        b = a;
        b[0] ^= 0x80;
        assert!(!same_digest(&a, &b));
    }

    #[test]
    fn secrets_are_compared_whole() {
        assert!(same("token", "token"));
        assert!(!same("token", "token "));
        assert!(!same("toke", "token"));
    }
}
