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

/// The links earlier runs recorded. A tenant of a million people has a million of them, so
/// they are kept compact: source names once, and each entry's document as its text, which a
/// run compares with the text it would write rather than parse into a map per entry.
#[derive(Debug, Default)]
pub struct Links {
    /// The source names the documents use, each once.
    sources: Vec<String>,
    /// `(group, source, the source's id)` to the merged id.
    merged: HashMap<(bool, u16, SourceId), SourceId>,
    /// `(group, merged id)` to its document's text.
    bodies: HashMap<(bool, SourceId), String>,
}

impl Links {
    /// The links in the stored documents. A document that is not a merged entry's (a tenant
    /// that was pushed to by SCIM before) links nothing.
    #[must_use]
    pub fn from_documents(documents: Vec<Document>) -> Self {
        let mut links = Self::default();
        for document in documents {
            let Ok(body) = serde_json::from_str::<Body>(&document.body) else {
                continue;
            };
            for (source, id) in body.sources {
                let source = links.source(&source);
                links
                    .merged
                    .insert((document.group, source, id), document.source_id.clone());
            }
            links
                .bodies
                .insert((document.group, document.source_id), document.body);
        }
        links
    }

    /// Which entry of each source a merged entry's document says make it: (source name, the
    /// source's id), by name; `None` for a document that is not a merged entry's.
    #[must_use]
    pub fn sources_of(body: &str) -> Option<Vec<(String, String)>> {
        let body = serde_json::from_str::<Body>(body).ok()?;
        Some(
            body.sources
                .into_iter()
                .map(|(source, id)| (source, id.to_string()))
                .collect(),
        )
    }

    /// The index of source `name`, added when new.
    fn source(&mut self, name: &str) -> u16 {
        let at = self
            .sources
            .iter()
            .position(|s| s == name)
            .unwrap_or_else(|| {
                self.sources.push(name.to_string());
                self.sources.len() - 1
            });
        u16::try_from(at).unwrap_or(u16::MAX)
    }

    /// The merged id that `source`'s entry `id` was given.
    #[must_use]
    pub fn merged(&self, group: bool, source: &str, id: &SourceId) -> Option<&SourceId> {
        let source = u16::try_from(self.sources.iter().position(|s| s == source)?).ok()?;
        self.merged.get(&(group, source, id.clone()))
    }

    /// Whether `id` is some merged entry's id.
    #[must_use]
    pub fn is_merged(&self, group: bool, id: &SourceId) -> bool {
        self.bodies.contains_key(&(group, id.clone()))
    }

    /// The document recording that merged entry `id` is made of `sources`, unless earlier runs
    /// recorded exactly that.
    #[must_use]
    pub fn changed(
        &self,
        group: bool,
        id: &SourceId,
        sources: &BTreeMap<&str, &SourceId>,
    ) -> Option<Document> {
        let body = serde_json::json!({ "sources": sources }).to_string();
        if self.bodies.get(&(group, id.clone())) == Some(&body) {
            return None;
        }
        Some(Document {
            group,
            source_id: id.clone(),
            body,
        })
    }
}
