//! Documents: the source's opaque texts pass through the planner untouched, and a set that
//! carries one is not empty, so that a batch changing only a document is still applied.

use idmsync_domain::plan::{plan, SourceData};
use idmsync_domain::Document;

use crate::fixture::*;

fn doc(group: bool, id: &str, body: &str) -> Document {
    Document {
        group,
        source_id: sid(id),
        body: body.to_string(),
    }
}

#[test]
fn documents_pass_through_and_make_a_set_non_empty() {
    let source = src(logins(&["jlennon"]), vec![g("beatles", &["jlennon"])]);
    let store = synced(&source);
    let documents = vec![
        doc(false, "id:jlennon", r#"{"displayName":"John"}"#),
        doc(
            true,
            "id:beatles",
            "not even JSON: the planner never reads it",
        ),
        doc(false, "id:nobody", "{}"),
    ];
    let with_documents = SourceData {
        documents: documents.clone(),
        ..source.clone()
    };
    let changes = check(&store, &with_documents, &full(), "");
    assert_eq!(changes.documents, documents);
    assert!(!changes.is_empty());
    assert_eq!(changes.writes(), 3);
    assert!(plan(source, &store, &full(), &PlainHasher).is_empty());
}

#[test]
fn a_document_sent_again_replaces_the_earlier_one_in_a_batch() {
    let mut batch = SourceData {
        documents: vec![doc(false, "id:a", "1"), doc(true, "id:a", "group")],
        ..SourceData::default()
    };
    batch.absorb(SourceData {
        documents: vec![doc(false, "id:a", "2"), doc(false, "id:b", "3")],
        ..SourceData::default()
    });
    assert_eq!(
        batch.documents,
        vec![
            doc(true, "id:a", "group"),
            doc(false, "id:a", "2"),
            doc(false, "id:b", "3"),
        ]
    );
}
