//! Rebuilds the crate when a migration changes: `embed_migrations!` reads the folders at compile
//! time, and cargo does not know about those reads on its own.

fn main() {
    for backend in ["sqlite", "postgres", "mysql"] {
        println!("cargo:rerun-if-changed=../../migrations/{backend}");
    }
}
