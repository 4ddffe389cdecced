//! Rebuilds the crate when a migration changes: `embed_migrations!` reads the folder at compile
//! time, and cargo does not know about that read on its own.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations/sqlite");
}
