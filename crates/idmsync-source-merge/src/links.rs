//! Which merged entry each source's entry became, kept from run to run as the merged entry's
//! document (`{"sources": {"employees": "<objectGUID>", "contractors": "c1"}}`), written in
//! the run's transaction with the rows. Without them a person who first came from one source
//! and later from a higher one would change id, and so lose their row.

use std::collections::{BTreeMap, HashMap};

use idmsync_domain::{Document, SourceId};
use serde::{Deserialize, Serialize};

/// The body of a merged entry's document.
#[derive(Debug, Serialize, Deserialize)]
struct Body {
    sources: BTreeMap<String, SourceId>,
}

/// The links earlier runs recorded.
#[derive(Debug, Default)]
pub struct Links {
    /// `(group, source, the source's id)` to the merged id.
    merged: HashMap<(bool, String, SourceId), SourceId>,
    /// `(group, merged id)` to its sources' ids.
    of: HashMap<(bool, SourceId), BTreeMap<String, SourceId>>,
}

impl Links {
    /// The links in the stored documents. A document that is not a merged entry's (a tenant
    /// that was pushed to by SCIM before) links nothing.
    #[must_use]
    pub fn from_documents(documents: &[Document]) -> Self {
        let mut links = Self::default();
        for document in documents {
            let Ok(body) = serde_json::from_str::<Body>(&document.body) else {
                continue;
            };
            for (source, id) in &body.sources {
                links.merged.insert(
                    (document.group, source.clone(), id.clone()),
                    document.source_id.clone(),
                );
            }
            links
                .of
                .insert((document.group, document.source_id.clone()), body.sources);
        }
        links
    }

    /// The merged id that `source`'s entry `id` was given.
    #[must_use]
    pub fn merged(&self, group: bool, source: &str, id: &SourceId) -> Option<&SourceId> {
        self.merged.get(&(group, source.to_string(), id.clone()))
    }

    /// Whether `id` is some merged entry's id.
    #[must_use]
    pub fn is_merged(&self, group: bool, id: &SourceId) -> bool {
        self.of.contains_key(&(group, id.clone()))
    }

    /// The sources' ids that merged entry `id` was made of.
    #[must_use]
    pub fn of(&self, group: bool, id: &SourceId) -> Option<&BTreeMap<String, SourceId>> {
        self.of.get(&(group, id.clone()))
    }

    /// The document recording that merged entry `id` is made of `sources`.
    #[must_use]
    pub fn document(group: bool, id: &SourceId, sources: &BTreeMap<String, SourceId>) -> Document {
        let body = serde_json::json!({ "sources": sources }).to_string();
        Document {
            group,
            source_id: id.clone(),
            body,
        }
    }
}
