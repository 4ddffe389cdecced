//! The discovery documents: `/Schemas` (RFC 7643 §7), `/ResourceTypes` (§6) and
//! `/ServiceProviderConfig` (§5), generated from the schema table so that what we advertise is
//! what filters and PATCH do.

use serde_json::{json, Map, Value};

use crate::schema::{AttrType, AttributeDef, Mutability, ResourceType, Returned, Uniqueness};

/// The URN of a schema resource.
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// The URN of a resource type resource.
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// The URN of the service provider configuration.
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

/// The common attributes (RFC 7643 §3.1), which belong to every resource and to no schema, so
/// the schema documents leave them out.
const COMMON: [&str; 3] = ["id", "externalId", "meta"];

/// What the service provider configuration advertises that depends on the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderOptions {
    /// The most resources one query returns (`filter.maxResults`).
    pub max_results: usize,
    /// Whether resources carry `meta.version` and the server honours `If-Match`.
    pub etag: bool,
}

fn base(base_url: &str) -> &str {
    base_url.trim_end_matches('/')
}

fn meta(resource_type: &str, location: String) -> Value {
    json!({"resourceType": resource_type, "location": location})
}

fn description(rt: ResourceType) -> &'static str {
    match rt {
        ResourceType::User => "User Account",
        ResourceType::Group => "Group",
    }
}

fn type_name(ty: AttrType) -> &'static str {
    match ty {
        AttrType::String => "string",
        AttrType::Boolean => "boolean",
        AttrType::DateTime => "dateTime",
        AttrType::Reference => "reference",
        AttrType::Complex => "complex",
    }
}

fn mutability_name(m: Mutability) -> &'static str {
    match m {
        Mutability::ReadOnly => "readOnly",
        Mutability::ReadWrite => "readWrite",
        Mutability::Immutable => "immutable",
        Mutability::WriteOnly => "writeOnly",
    }
}

fn returned_name(r: Returned) -> &'static str {
    match r {
        Returned::Always => "always",
        Returned::Never => "never",
        Returned::Default => "default",
        Returned::Request => "request",
    }
}

/// One attribute as RFC 7643 §7 describes it.
fn attribute(def: &AttributeDef) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(def.name));
    out.insert("type".into(), json!(type_name(def.ty)));
    out.insert("multiValued".into(), json!(def.multi_valued));
    out.insert("description".into(), json!(def.description));
    out.insert("required".into(), json!(def.required));
    if def.ty != AttrType::Complex && def.ty != AttrType::Boolean {
        out.insert("caseExact".into(), json!(def.case_exact));
    }
    out.insert("mutability".into(), json!(mutability_name(def.mutability)));
    out.insert("returned".into(), json!(returned_name(def.returned)));
    let uniqueness = match def.uniqueness {
        Uniqueness::None => "none",
        Uniqueness::Server => "server",
    };
    out.insert("uniqueness".into(), json!(uniqueness));
    if !def.canonical_values.is_empty() {
        out.insert("canonicalValues".into(), json!(def.canonical_values));
    }
    if def.ty == AttrType::Reference {
        out.insert("referenceTypes".into(), json!(def.reference_types));
    }
    if def.ty == AttrType::Complex {
        let subs: Vec<Value> = def.sub_attributes.iter().map(attribute).collect();
        out.insert("subAttributes".into(), Value::Array(subs));
    }
    Value::Object(out)
}

/// The schema resource of `resource_type` (`/Schemas/<urn>`). `base_url` is the SCIM root,
/// such as `http://host:8080/scim/v2`.
pub fn schema(resource_type: ResourceType, base_url: &str) -> Value {
    let urn = resource_type.schema_urn();
    let attributes: Vec<Value> = resource_type
        .attributes()
        .iter()
        .filter(|a| !COMMON.contains(&a.name))
        .map(attribute)
        .collect();
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": urn,
        "name": resource_type.name(),
        "description": description(resource_type),
        "attributes": attributes,
        "meta": meta("Schema", format!("{}/Schemas/{urn}", base(base_url))),
    })
}

/// Every schema resource, for `/Schemas`.
pub fn schemas(base_url: &str) -> Vec<Value> {
    ResourceType::ALL
        .iter()
        .map(|rt| schema(*rt, base_url))
        .collect()
}

/// The resource type resource of `resource_type` (`/ResourceTypes/<name>`).
pub fn resource_type(resource_type: ResourceType, base_url: &str) -> Value {
    let name = resource_type.name();
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": name,
        "name": name,
        "endpoint": resource_type.endpoint(),
        "description": description(resource_type),
        "schema": resource_type.schema_urn(),
        "schemaExtensions": [],
        "meta": meta("ResourceType", format!("{}/ResourceTypes/{name}", base(base_url))),
    })
}

/// Every resource type resource, for `/ResourceTypes`.
pub fn resource_types(base_url: &str) -> Vec<Value> {
    ResourceType::ALL
        .iter()
        .map(|rt| resource_type(*rt, base_url))
        .collect()
}

/// `/ServiceProviderConfig`: PATCH, filters and password change (a `password` in PUT or
/// PATCH) yes; bulk and sorting no; bearer tokens for authentication.
pub fn service_provider_config(base_url: &str, options: ProviderOptions) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": options.max_results},
        "changePassword": {"supported": true},
        "sort": {"supported": false},
        "etag": {"supported": options.etag},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a bearer token in the Authorization header.",
            "primary": true
        }],
        "meta": meta(
            "ServiceProviderConfig",
            format!("{}/ServiceProviderConfig", base(base_url)),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://host:8080/scim/v2/";

    fn attribute_named<'a>(schema: &'a Value, name: &str) -> Option<&'a Value> {
        schema["attributes"]
            .as_array()?
            .iter()
            .find(|a| a["name"] == name)
    }

    fn check(schema: &Value, name: &str, expected: Value) {
        let found = attribute_named(schema, name).cloned();
        assert_eq!(found, Some(expected), "{name}");
    }

    #[test]
    fn user_schema_document() {
        let doc = schema(ResourceType::User, BASE);
        assert_eq!(doc["id"], "urn:ietf:params:scim:schemas:core:2.0:User");
        assert_eq!(doc["schemas"], json!([SCHEMA_SCHEMA]));
        assert_eq!(
            doc["meta"],
            json!({"resourceType": "Schema", "location": "http://host:8080/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"})
        );
        check(
            &doc,
            "userName",
            json!({
                "name": "userName", "type": "string", "multiValued": false,
                "description": "The unique name the user signs in with.", "required": true,
                "caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": "server"
            }),
        );
        check(
            &doc,
            "password",
            json!({
                "name": "password", "type": "string", "multiValued": false,
                "description": "The user's clear-text password.", "required": false,
                "caseExact": true, "mutability": "writeOnly", "returned": "never", "uniqueness": "none"
            }),
        );
        check(
            &doc,
            "active",
            json!({
                "name": "active", "type": "boolean", "multiValued": false,
                "description": "Whether the user may sign in.", "required": false,
                "mutability": "readWrite", "returned": "default", "uniqueness": "none"
            }),
        );
        let emails = attribute_named(&doc, "emails");
        assert_eq!(emails.map(|e| e["multiValued"].clone()), Some(json!(true)));
        let subs: Vec<Value> = emails
            .and_then(|e| e["subAttributes"].as_array())
            .map(|s| s.iter().map(|a| a["name"].clone()).collect())
            .unwrap_or_default();
        assert_eq!(
            subs,
            vec![
                json!("value"),
                json!("display"),
                json!("type"),
                json!("primary")
            ]
        );
        for common in COMMON {
            assert!(attribute_named(&doc, common).is_none(), "{common}");
        }
    }

    #[test]
    fn group_schema_document() {
        let doc = schema(ResourceType::Group, BASE);
        check(
            &doc,
            "displayName",
            json!({
                "name": "displayName", "type": "string", "multiValued": false,
                "description": "The name of the group.", "required": true,
                "caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": "server"
            }),
        );
        let members = attribute_named(&doc, "members")
            .cloned()
            .unwrap_or_default();
        assert_eq!(members["subAttributes"][0]["name"], "value");
        assert_eq!(members["subAttributes"][0]["mutability"], "immutable");
        assert_eq!(
            members["subAttributes"][1]["referenceTypes"],
            json!(["User", "Group"])
        );
        assert_eq!(
            members["subAttributes"][2]["canonicalValues"],
            json!(["User", "Group"])
        );
        assert_eq!(schemas(BASE).len(), 2);
    }

    #[test]
    fn resource_type_documents() {
        assert_eq!(
            resource_types(BASE),
            vec![
                json!({
                    "schemas": [RESOURCE_TYPE_SCHEMA], "id": "User", "name": "User", "endpoint": "/Users",
                    "description": "User Account", "schema": "urn:ietf:params:scim:schemas:core:2.0:User",
                    "schemaExtensions": [],
                    "meta": {"resourceType": "ResourceType", "location": "http://host:8080/scim/v2/ResourceTypes/User"}
                }),
                json!({
                    "schemas": [RESOURCE_TYPE_SCHEMA], "id": "Group", "name": "Group", "endpoint": "/Groups",
                    "description": "Group", "schema": "urn:ietf:params:scim:schemas:core:2.0:Group",
                    "schemaExtensions": [],
                    "meta": {"resourceType": "ResourceType", "location": "http://host:8080/scim/v2/ResourceTypes/Group"}
                }),
            ]
        );
    }

    #[test]
    fn service_provider_config_document() {
        let doc = service_provider_config(
            "http://h/scim/v2",
            ProviderOptions {
                max_results: 200,
                etag: true,
            },
        );
        assert_eq!(doc["schemas"], json!([SERVICE_PROVIDER_CONFIG_SCHEMA]));
        assert_eq!(doc["patch"], json!({"supported": true}));
        assert_eq!(
            doc["bulk"],
            json!({"supported": false, "maxOperations": 0, "maxPayloadSize": 0})
        );
        assert_eq!(doc["filter"], json!({"supported": true, "maxResults": 200}));
        assert_eq!(doc["changePassword"], json!({"supported": true}));
        assert_eq!(doc["sort"], json!({"supported": false}));
        assert_eq!(doc["etag"], json!({"supported": true}));
        assert_eq!(doc["authenticationSchemes"][0]["type"], "oauthbearertoken");
        assert_eq!(
            doc["meta"],
            json!({"resourceType": "ServiceProviderConfig", "location": "http://h/scim/v2/ServiceProviderConfig"})
        );
        let doc = service_provider_config(
            "http://h/scim/v2",
            ProviderOptions {
                max_results: 5,
                etag: false,
            },
        );
        assert_eq!(doc["etag"], json!({"supported": false}));
    }
}
