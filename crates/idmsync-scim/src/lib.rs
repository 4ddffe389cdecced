//! The SCIM 2.0 protocol (RFC 7643, RFC 7644) for idmsync's service provider, without I/O.
//!
//! # Design
//! Resources are `serde_json::Value` objects: the full representation the server would return
//! (`schemas`, `id`, `userName`, `meta`, …). The HTTP layer builds them from storage and stores
//! what comes back; this crate only reasons about the JSON, so that it needs no knowledge of
//! the database and every rule can be tested on literal documents.
//!
//! What an attribute allows is not scattered through the code: [`schema`] holds one static
//! definition per attribute (type, multi-valued, caseExact, mutability, returned,
//! uniqueness) and every other module reads it. Filters compare `userName` case-insensitively
//! and `id` exactly because the schema says so; PATCH refuses to change `meta` because it is
//! readOnly; projection never returns `password` because it is `returned: never`; and the
//! `/Schemas` document is generated from the same table, so what we advertise is what we do.
//!
//! Attributes outside the schema (the enterprise extension, `title`, …) are accepted and
//! ignored rather than refused, because identity providers send them whatever the service
//! provider advertises.
//!
//! - [`Filter`]: parse (`Filter::parse`) and evaluate (`Filter::matches`) `filter` parameters.
//! - [`patch`]: parse a PatchOp body and apply it; [`patch::normalize`] for POST/PUT bodies.
//! - [`project`]: the `attributes` / `excludedAttributes` parameters.
//! - [`list`]: paging parameters and ListResponse bodies.
//! - [`discovery`]: `/Schemas`, `/ResourceTypes`, `/ServiceProviderConfig`.
//! - [`ScimError`]: error responses.
//!
//! ```
//! use idmsync_scim::{patch, Filter, ResourceType};
//! use serde_json::json;
//! # fn main() -> Result<(), idmsync_scim::ScimError> {
//! let mut user = json!({"id": "1", "userName": "bjensen", "active": true});
//! let filter = Filter::parse_for(r#"userName eq "BJensen""#, ResourceType::User)?;
//! assert!(filter.matches(&user, ResourceType::User));
//! let operations = patch::parse_request(&json!({
//!     "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
//!     "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
//! }))?;
//! patch::apply(&mut user, &operations, ResourceType::User)?;
//! assert_eq!(user["active"], false);
//! # Ok(())
//! # }
//! ```

mod coerce;
pub mod discovery;
mod error;
mod eval;
mod filter;
mod lexer;
pub mod list;
mod modify;
pub mod patch;
mod path;
pub mod project;
pub mod schema;

pub use error::{ScimError, ScimType, ERROR_SCHEMA};
pub use filter::{CompareOp, Filter, FilterError};
pub use path::{AttrPath, PatchPath};
pub use schema::{find_attribute, AttributeDef, ResourceType};
