//! A real OpenLDAP `slapd` in a temporary directory, for tests, benchmarks and `cargo xtask ldap`.
//!
//! idmsync's LDAP adapter is tested against the real thing, not a mock: paging, size limits,
//! TLS, DN escaping and a server that dies mid-search behave the way production servers do only
//! in a production server. [`Slapd::builder`] writes a `slapd.conf`, loads the base entries and
//! any extra LDIF offline with `slapadd` (fast even for a million memberships), starts `slapd` on
//! free loopback ports and waits until it answers. Dropping the [`Slapd`] kills the server and
//! removes its directory.
//!
//! ```no_run
//! use idmsync_test_ldap::{fixtures, Slapd};
//!
//! let slapd = Slapd::builder().ldif(fixtures::DIRECTORY).start();
//! println!("{} as {}", slapd.url(), slapd.sync_dn());
//! ```
//!
//! The Debian packages `slapd` and `ldap-utils` must be installed (`cargo xtask ci` installs
//! them); without them every entry point panics saying so. There is no fallback: a test that
//! silently skipped would prove nothing.
//!
//! Panics are this crate's error mechanism: it is only ever a dev-dependency, and a panic with
//! slapd's own words in it is the most useful thing a failing test can show.
#![deny(missing_docs)]

mod builder;
mod conf;
pub mod fixtures;
pub mod harness;
mod server;
mod tls;
mod tools;

pub use builder::{SessionLog, SlapdBuilder};
pub use harness::TestDirectory;
pub use server::{Killer, Slapd};

/// The suffix a [`Slapd`] serves unless [`SlapdBuilder::suffix`] says otherwise, and the one
/// [`fixtures`] are written for.
pub const DEFAULT_SUFFIX: &str = "dc=example,dc=com";
