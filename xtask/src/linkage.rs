//! The check that keeps the binary one file: no C client library in the dependency tree, and a
//! release build that needs no shared library but glibc's. Part of `cargo xtask ci`.

use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::tidy::workspace_root;

/// Crates that bind a C library the user would have to install (libpq, libmysqlclient,
/// OpenSSL); their pure-Rust replacements are tokio-postgres, mysql_async and rustls.
const BANNED: &[&str] = &["pq-sys", "mysqlclient-sys", "openssl-sys", "native-tls"];

/// The libraries of glibc (and the compiler runtime it ships with) a Linux binary may need.
const GLIBC: &[&str] = &[
    "linux-vdso.so",
    "libc.so",
    "libm.so",
    "libgcc_s.so",
    "ld-linux",
    "libdl.so",
    "libpthread.so",
    "librt.so",
];

/// Fails when the binary's normal or build dependencies hold a [`BANNED`] crate, or when the
/// release binary links a shared library outside [`GLIBC`].
pub fn check() -> Result<()> {
    let tree = output(
        "cargo",
        &[
            "tree",
            "-p",
            "idmsync",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ],
    )?;
    let banned: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| BANNED.contains(name))
        .collect();
    if !banned.is_empty() {
        bail!(
            "the idmsync binary depends on {} again: a C library every user would have to \
             install (see docs/architecture.md, \"Databases without C libraries\")",
            banned.join(", ")
        );
    }
    crate::run("cargo", &["build", "--release", "--package", "idmsync"])?;
    // Where cargo put it: CARGO_TARGET_DIR when set (a shared target directory), else target/.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), std::path::PathBuf::from);
    let binary = target.join("release/idmsync");
    let ldd = output("ldd", &[&binary.to_string_lossy()])?;
    let foreign = foreign_libraries(&ldd);
    if !foreign.is_empty() {
        bail!(
            "target/release/idmsync needs shared libraries besides glibc's: {}",
            foreign.join(", ")
        );
    }
    eprintln!("linkage: no C client library; target/release/idmsync needs only glibc");
    Ok(())
}

/// The libraries of `ldd`'s output that are not glibc's.
fn foreign_libraries(ldd: &str) -> Vec<String> {
    ldd.lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|library| !GLIBC.iter().any(|allowed| library.contains(allowed)))
        .map(str::to_string)
        .collect()
}

fn output(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(workspace_root())
        .output()
        .with_context(|| format!("running {program}"))?;
    if !out.status.success() {
        bail!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::foreign_libraries;

    #[test]
    fn only_libraries_outside_glibc_are_foreign() {
        let ldd = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                   \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x1)\n\
                   \tlibpq.so.5 => /lib/x86_64-linux-gnu/libpq.so.5 (0x2)\n\
                   \tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x3)\n\
                   \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x4)\n\
                   \tlibssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x5)\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x6)\n";
        assert_eq!(foreign_libraries(ldd), ["libpq.so.5", "libssl.so.3"]);
    }
}
