//! Password hashing and authentication adapters for idmsync.
//!
//! - [`Argon2Hasher`]: the production implementation of the domain's
//!   [`idmsync_domain::PasswordHasher`] port, keyed for password checks by a [`PasswordKey`]
//!   from a file outside the database.
//! - [`LoginService`]: the login policy behind the `Authenticator` port. The user must be one
//!   active user of the local database; the password is checked by the directory (an LDAP
//!   bind through the `DirectoryBind` port), by the argon2 hash stored locally, or by the
//!   directory with the local hash as a fallback ([`PasswordCheck`]); a throttle refuses
//!   a login for a while after repeated failures. `docs/security.md` states the threat model.
//!
//! The planner calls the hasher for every user whose source supplies a local password (the
//! file source does; LDAP does not, its users bind against the directory).
//!
//! # Why argon2id
//! Stored hashes are an offline brute-force target if the database leaks. Argon2id is the
//! memory-hard function OWASP recommends first: its memory cost makes GPU and ASIC guessing
//! expensive, and the `id` variant resists both side-channel and time–memory trade-off attacks.
//! Hashes are written as PHC strings (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`), which carry
//! their own algorithm, parameters and salt, so stronger parameters later need no migration: old
//! hashes still verify with the parameters they were made with.
//!
//! # Why verify-before-rehash
//! Every hash has a fresh random salt, so hashing the same password twice gives two different
//! strings and comparing hashes cannot tell whether a password changed. Without
//! [`idmsync_domain::PasswordHasher::verify`] the planner would rewrite every user's hash on
//! every run: a write per user, a noisy run log and a lot of deliberately slow hashing. Instead the planner verifies
//! the source's password against the stored hash and writes a new hash only when verification
//! fails (the password really changed) or no hash is stored yet.
//!
//! # Why a keyed check beside the hash
//! Verifying is slow on purpose too (~20 ms), and a source with clear passwords (the file
//! source) gives every password on every run: 100k users cost half an hour of argon2 even when
//! nothing changed. So each hash carries a check, HMAC-SHA256 of the user, the hash and the
//! password under a key kept outside the database ([`PasswordKey`], `auth.password_key_file`);
//! a password whose check matches is unchanged and costs no argon2. The key is what keeps the
//! check from being a fast brute-force target in a stolen database; the check binds the hash
//! too, so a hash replaced behind idmsync's back is verified again rather than trusted.
#![deny(missing_docs)]

mod hasher;
mod key;
mod login;
mod throttle;
mod verify;

pub use hasher::Argon2Hasher;
pub use key::{KeyFileError, PasswordKey};
pub use login::{LoginOptions, LoginService, PasswordCheck};
pub use throttle::ThrottleOptions;
