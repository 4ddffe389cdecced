//! A real Samba Active Directory domain controller in a temporary directory, for tests and
//! `cargo xtask ad`.
//!
//! Active Directory differs from OpenLDAP where sync code breaks: binary objectGUIDs, disabled
//! accounts in `userAccountControl`, `member` values in ranges, per-DC update sequence numbers,
//! computers that are `objectClass=user`. Samba implements all of it, so [`SambaDc::start`]
//! provisions a domain (`samba-tool domain provision --dns-backend=NONE`) into a temporary
//! directory, runs only Samba's LDAP service on loopback with simple binds allowed, creates the
//! read-only account idmsync binds as, and waits until it answers. Dropping the [`SambaDc`]
//! stops Samba and removes the directory; Samba also stops on its own when the process that
//! started it dies (it runs in interactive mode and exits at the end of its standard input).
//!
//! ```no_run
//! use idmsync_test_ad::{fixtures, SambaDc};
//!
//! let dc = SambaDc::start();
//! dc.add(&fixtures::directory(dc.base_dn()));
//! println!("{} as {}", dc.url(), dc.sync_dn());
//! ```
//!
//! Samba's LDAP port is fixed (389, and 636 for LDAPS), so only one domain controller can run
//! on a machine at a time: [`SambaDc::start`] waits for a machine-wide lock, which tests in
//! parallel threads or processes take in turn. Provisioning takes a few seconds, so tests should
//! do several checks on one directory rather than start one per assertion.
//!
//! The Debian packages `samba`, `samba-ad-dc`, `winbind` and `ldap-utils` must be installed
//! (`cargo xtask ci` installs them), and Samba must run as root. As with `idmsync-test-ldap`,
//! panics are the error mechanism: a missing package or a Samba that does not come up fails the
//! test with Samba's own words.
#![deny(missing_docs)]

mod dc;
pub mod fixtures;

pub use dc::SambaDc;
