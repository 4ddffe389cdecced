//! [`PasswordKey`]: the secret key of password checks, in a file of its own outside the
//! database, made on first use.
//!
//! The check beside each hash ([`crate::Argon2Hasher`]) is fast to compute, so with only the
//! database an attacker could test guesses against it at SHA-256 speed instead of argon2's. The
//! key is why they cannot: it lives in a file the database never holds (`auth.password_key_file`),
//! so a stolen database alone still costs one argon2 computation per guess. Losing the file loses
//! nothing but time: every stored check stops matching, each password is verified with argon2
//! once at the next run and its check written again with the new key.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use argon2::password_hash::rand_core::{OsRng, RngCore as _};

/// How many random bytes a key has: SHA-256's output size, HMAC's recommended key length.
const KEY_BYTES: usize = 32;

/// The key of password checks: 32 random bytes. Never printed (`Debug` hides it), never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordKey([u8; KEY_BYTES]);

/// Why the key file cannot be used; the binary adds the configuration key's name.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file (or its directory) could not be read or created.
    #[error("{}: {source}", path.display())]
    Io {
        /// The key file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The file exists but holds no key of the form idmsync writes.
    #[error(
        "{}: not a password key: expected {} hexadecimal digits on one line, as idmsync writes \
         it (remove the file to have a new key made; every password is then verified once more)",
        path.display(),
        KEY_BYTES * 2
    )]
    Malformed {
        /// The key file.
        path: PathBuf,
    },
}

impl PasswordKey {
    /// The key in `path`, made first if the file does not exist: 32 bytes from the operating
    /// system's generator, written as hexadecimal, readable by its owner only (mode 0600; a
    /// missing directory is made with mode 0700). Two processes starting at once agree on one
    /// key: each writes a file of its own and links it into place, and the loser reads the
    /// winner's.
    ///
    /// # Errors
    /// [`KeyFileError::Io`] when the file cannot be read or made, [`KeyFileError::Malformed`]
    /// when it holds anything but a key.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyFileError> {
        let io = |source| KeyFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        match fs::read_to_string(path) {
            Ok(text) => return Self::parse(&text).ok_or_else(|| malformed(path)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) if e.kind() == io::ErrorKind::InvalidData => return Err(malformed(path)),
            Err(e) => return Err(io(e)),
        }
        let mut key = [0; KEY_BYTES];
        OsRng.fill_bytes(&mut key);
        let key = Self(key);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io)?;
        }
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{}.tmp", std::process::id()));
        let temporary = PathBuf::from(name);
        let written = write_new(&temporary, &key).and_then(|()| fs::hard_link(&temporary, path));
        // The temporary name goes whatever happened; the key lives on under `path` if linked.
        let _ = fs::remove_file(&temporary);
        match written {
            Ok(()) => Ok(key),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let text = fs::read_to_string(path).map_err(io)?;
                Self::parse(&text).ok_or_else(|| malformed(path))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The key as bytes, for the HMAC.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The key of `text`: the hexadecimal form, surrounding whitespace allowed.
    fn parse(text: &str) -> Option<Self> {
        let digits = text.trim().as_bytes();
        if digits.len() != KEY_BYTES * 2 {
            return None;
        }
        let mut key = [0; KEY_BYTES];
        for (byte, pair) in key.iter_mut().zip(digits.chunks_exact(2)) {
            let pair = std::str::from_utf8(pair).ok()?;
            *byte = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(Self(key))
    }

    /// The hexadecimal form, as written to the file.
    fn hex(&self) -> String {
        hex(&self.0)
    }
}

/// Lower-case hexadecimal of `bytes`: the key file's form and the stored check's.
/// By table rather than `format!`, which made a check cost several times its HMAC.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn malformed(path: &Path) -> KeyFileError {
    KeyFileError::Malformed {
        path: path.to_path_buf(),
    }
}

/// Writes `key` to the new file `path`, mode 0600 from the start (never readable by others,
/// not even between creating and restricting it).
fn write_new(path: &Path, key: &PasswordKey) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(format!("{}\n", key.hex()).as_bytes())?;
    file.sync_all()
}

impl fmt::Debug for PasswordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn a_missing_key_file_is_made_private_and_then_read_back() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("data/password.key");
        let key = PasswordKey::load_or_create(&path).expect("a new key");
        let mode = |p: &Path| fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().expect("a directory")), 0o700);
        let text = fs::read_to_string(&path).expect("the key file");
        assert_eq!(text.trim().len(), 64, "{text:?}");
        assert_eq!(
            PasswordKey::load_or_create(&path).expect("the same key"),
            key
        );
        let other = dir.path().join("other.key");
        assert_ne!(
            PasswordKey::load_or_create(&other).expect("another key"),
            key
        );
        let leftovers: Vec<_> = fs::read_dir(path.parent().expect("a directory"))
            .expect("the directory")
            .map(|e| e.expect("an entry").file_name())
            .collect();
        assert_eq!(leftovers, ["password.key"]);
    }

    #[test]
    fn a_bad_key_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("temporary directory");
        for (name, content) in [
            ("empty", &b""[..]),
            ("short", b"00ff"),
            ("not-hex", &[b'g'; 64][..]),
            ("binary", &[0xff; 64][..]),
            (
                "two-keys",
                format!("{}\n{}\n", "a".repeat(64), "b".repeat(64)).as_bytes(),
            ),
        ] {
            let path = dir.path().join(name);
            fs::write(&path, content).expect("write");
            let error = PasswordKey::load_or_create(&path).expect_err(name);
            assert!(
                matches!(error, KeyFileError::Malformed { .. }),
                "{name}: {error}"
            );
            assert!(
                error.to_string().contains(&path.display().to_string()),
                "{error}"
            );
        }
        let unreadable = dir.path().join("a-directory");
        fs::create_dir(&unreadable).expect("mkdir");
        let error = PasswordKey::load_or_create(&unreadable).expect_err("a directory");
        assert!(matches!(error, KeyFileError::Io { .. }), "{error}");
        assert!(
            error
                .to_string()
                .starts_with(&unreadable.display().to_string()),
            "{error}"
        );
    }

    #[test]
    fn hex_is_lower_case_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn a_key_never_prints() {
        let key = PasswordKey([0xab; KEY_BYTES]);
        assert_eq!(format!("{key:?}"), "PasswordKey(***)");
        assert!(!format!("{key:?}").contains("ab"));
    }
}
