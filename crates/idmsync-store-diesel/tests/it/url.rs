//! `database.url` parsing, redaction, and connecting where the file's folder is missing.

use idmsync_ports::StoreError;
use idmsync_store_diesel::{DatabaseUrl, DieselStore, UrlError};

fn parse(text: &str) -> Result<DatabaseUrl, UrlError> {
    text.parse()
}

#[test]
fn sqlite_urls_keep_relative_and_absolute_paths() {
    let relative = parse("sqlite://data/idm.db").expect("relative");
    assert_eq!(relative.to_string(), "sqlite://data/idm.db");
    let absolute = parse("sqlite:///var/lib/idmsync/idm.db").expect("absolute");
    assert_eq!(absolute.to_string(), "sqlite:///var/lib/idmsync/idm.db");
    assert_eq!(
        format!("{absolute:?}"),
        "DatabaseUrl(\"sqlite:///var/lib/idmsync/idm.db\")"
    );
    assert_eq!(
        parse("SQLite://x.db").map(|u| u.to_string()),
        Ok("sqlite://x.db".into())
    );
}

#[test]
fn bad_urls_are_rejected_with_a_reason() {
    assert_eq!(parse("data/idm.db"), Err(UrlError::NoScheme));
    assert_eq!(parse("sqlite://"), Err(UrlError::NoPath));
    assert_eq!(parse("sqlite://:memory:"), Err(UrlError::InMemory));
    let err = parse("oracle://scott:tiger@db/orcl").expect_err("unknown scheme");
    assert_eq!(err, UrlError::UnknownScheme("oracle".into()));
    assert!(err.to_string().contains("`oracle`"), "{err}");
    assert!(!err.to_string().contains("tiger"), "{err}");
    assert!(!UrlError::NoScheme.to_string().is_empty());
}

#[test]
fn server_urls_never_print_their_password() {
    let url =
        parse("postgres://idm:s3cret@db.example.com:5432/idm?sslmode=require&password=s3cret")
            .expect("postgres url parses");
    let shown = format!("{url} {url:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert_eq!(
        url.to_string(),
        "postgres://idm:***@db.example.com:5432/idm?sslmode=require&password=***"
    );
    let mysql = parse("mysql://root@localhost/idm").expect("mysql url parses");
    assert_eq!(mysql.to_string(), "mysql://root@localhost/idm");
}

#[test]
fn connecting_creates_missing_folders_and_unopenable_files_are_unavailable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("a/b/c/idm.db");
    let url = parse(&format!("sqlite://{}", path.display())).expect("url");
    DieselStore::connect(&url).expect("connect");
    assert!(path.exists());

    // A folder where the file should be cannot be opened as a database.
    let url = parse(&format!("sqlite://{}", dir.path().join("a").display())).expect("url");
    let err = DieselStore::connect(&url).expect_err("a folder is no database");
    assert!(
        matches!(&err, StoreError::Unavailable(m) if m.contains(&*dir.path().to_string_lossy())),
        "{err:?}"
    );
}
