//! The attributes we support for User and Group, with their RFC 7643 characteristics, and the
//! lookup of an attribute by path.

use crate::path::AttrPath;

/// The URN of the core User schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The URN of the core Group schema.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// An attribute's data type (RFC 7643 §2.3); only the types our attributes use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    /// A string.
    String,
    /// `true` or `false`.
    Boolean,
    /// An RFC 3339 instant, compared by instant rather than as text.
    DateTime,
    /// A URI or a resource reference.
    Reference,
    /// An object of sub-attributes.
    Complex,
}

/// When a client may write an attribute (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    /// Only the service provider sets it.
    ReadOnly,
    /// Clients may change it.
    ReadWrite,
    /// Clients may set it once, never change it.
    Immutable,
    /// Clients may set it; it is never returned.
    WriteOnly,
}

/// When an attribute is returned (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    /// Always, whatever `attributes` / `excludedAttributes` say.
    Always,
    /// Never (a password).
    Never,
    /// Unless excluded.
    Default,
    /// Only when requested.
    Request,
}

/// Whether the service provider keeps an attribute unique (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    /// Values may repeat.
    None,
    /// Unique among the resources of the service provider.
    Server,
}

/// One attribute's characteristics. Kept as static data so that filters, PATCH, projection and
/// the `/Schemas` document read one definition and cannot disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributeDef {
    /// The name as the schema spells it (the canonical case of the key in a resource).
    pub name: &'static str,
    /// The data type.
    pub ty: AttrType,
    /// Whether the value is a list.
    pub multi_valued: bool,
    /// Whether string comparisons respect case.
    pub case_exact: bool,
    /// Whether a resource must have it.
    pub required: bool,
    /// Who may write it.
    pub mutability: Mutability,
    /// When it is returned.
    pub returned: Returned,
    /// Whether the service provider keeps it unique.
    pub uniqueness: Uniqueness,
    /// The sub-attributes of a complex attribute.
    pub sub_attributes: &'static [AttributeDef],
    /// Suggested values (`type` of an email).
    pub canonical_values: &'static [&'static str],
    /// The resource types a reference may point to.
    pub reference_types: &'static [&'static str],
    /// A sentence for the `/Schemas` document.
    pub description: &'static str,
}

const fn attr(name: &'static str, ty: AttrType, description: &'static str) -> AttributeDef {
    AttributeDef {
        name,
        ty,
        multi_valued: false,
        case_exact: false,
        required: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        sub_attributes: &[],
        canonical_values: &[],
        reference_types: &[],
        description,
    }
}

impl AttributeDef {
    const fn multi(self) -> Self {
        Self {
            multi_valued: true,
            ..self
        }
    }
    const fn exact(self) -> Self {
        Self {
            case_exact: true,
            ..self
        }
    }
    const fn required(self) -> Self {
        Self {
            required: true,
            ..self
        }
    }
    const fn server_unique(self) -> Self {
        Self {
            uniqueness: Uniqueness::Server,
            ..self
        }
    }
    const fn mutability(self, mutability: Mutability) -> Self {
        Self { mutability, ..self }
    }
    const fn returned(self, returned: Returned) -> Self {
        Self { returned, ..self }
    }
    const fn subs(self, sub_attributes: &'static [AttributeDef]) -> Self {
        Self {
            sub_attributes,
            ..self
        }
    }
    const fn canonical(self, canonical_values: &'static [&'static str]) -> Self {
        Self {
            canonical_values,
            ..self
        }
    }
    const fn refs(self, reference_types: &'static [&'static str]) -> Self {
        Self {
            reference_types,
            ..self
        }
    }

    /// A sub-attribute by name, case-insensitively (attribute names are, RFC 7643 §2.1).
    pub fn sub(&self, name: &str) -> Option<&'static AttributeDef> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Whether this is a list of objects, whose elements filters compare through `value`.
    pub fn is_complex_multi(&self) -> bool {
        self.multi_valued && self.ty == AttrType::Complex
    }
}

use AttrType::{Boolean, Complex, DateTime, Reference, String as Str};
use Mutability::{Immutable, ReadOnly, WriteOnly};

const ID: AttributeDef = attr(
    "id",
    Str,
    "The service provider's unique identifier of the resource.",
)
.exact()
.mutability(ReadOnly)
.returned(Returned::Always)
.server_unique();

const EXTERNAL_ID: AttributeDef = attr(
    "externalId",
    Str,
    "The identifier the provisioning client gives the resource.",
)
.exact();

const META_SUBS: &[AttributeDef] = &[
    attr("resourceType", Str, "The name of the resource type.")
        .exact()
        .mutability(ReadOnly),
    attr("created", DateTime, "When the resource was added.").mutability(ReadOnly),
    attr(
        "lastModified",
        DateTime,
        "When the resource was last changed.",
    )
    .mutability(ReadOnly),
    attr("location", Reference, "The URI of the resource.")
        .exact()
        .mutability(ReadOnly)
        .refs(&["uri"]),
    attr("version", Str, "The version (entity tag) of the resource.")
        .exact()
        .mutability(ReadOnly),
];

const META: AttributeDef = attr("meta", Complex, "Resource metadata.")
    .mutability(ReadOnly)
    .subs(META_SUBS);

const NAME_SUBS: &[AttributeDef] = &[
    attr("formatted", Str, "The full name, formatted for display."),
    attr("familyName", Str, "The family name."),
    attr("givenName", Str, "The given name."),
];

const EMAIL_SUBS: &[AttributeDef] = &[
    attr("value", Str, "The email address."),
    attr("display", Str, "A name for display."),
    attr("type", Str, "The kind of address.").canonical(&["work", "home", "other"]),
    attr("primary", Boolean, "Whether this is the preferred address."),
];

const USER_ATTRIBUTES: &[AttributeDef] = &[
    ID,
    EXTERNAL_ID,
    attr("userName", Str, "The unique name the user signs in with.")
        .required()
        .server_unique(),
    attr("name", Complex, "The components of the user's name.").subs(NAME_SUBS),
    attr("displayName", Str, "The name of the user, for display."),
    attr("emails", Complex, "Email addresses of the user.")
        .multi()
        .subs(EMAIL_SUBS),
    attr("active", Boolean, "Whether the user may sign in."),
    attr("password", Str, "The user's clear-text password.")
        .exact()
        .mutability(WriteOnly)
        .returned(Returned::Never),
    META,
];

const MEMBER_SUBS: &[AttributeDef] = &[
    attr("value", Str, "The identifier of the member.")
        .exact()
        .mutability(Immutable),
    attr("$ref", Reference, "The URI of the member.")
        .exact()
        .mutability(Immutable)
        .refs(&["User", "Group"]),
    attr("type", Str, "The kind of member.")
        .mutability(Immutable)
        .canonical(&["User", "Group"]),
    attr("display", Str, "The member's name, for display."),
];

const GROUP_ATTRIBUTES: &[AttributeDef] = &[
    ID,
    EXTERNAL_ID,
    attr("displayName", Str, "The name of the group.")
        .required()
        .server_unique(),
    attr("members", Complex, "The members of the group.")
        .multi()
        .subs(MEMBER_SUBS),
    META,
];

/// The resource types we serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    /// `/Users`.
    User,
    /// `/Groups`.
    Group,
}

impl ResourceType {
    /// Both, in the order the discovery documents list them.
    pub const ALL: [ResourceType; 2] = [ResourceType::User, ResourceType::Group];

    /// The resource type's name (`User`), as `meta.resourceType` writes it.
    pub fn name(self) -> &'static str {
        match self {
            ResourceType::User => "User",
            ResourceType::Group => "Group",
        }
    }

    /// The endpoint relative to the base URL (`/Users`).
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceType::User => "/Users",
            ResourceType::Group => "/Groups",
        }
    }

    /// The URN of the core schema.
    pub fn schema_urn(self) -> &'static str {
        match self {
            ResourceType::User => USER_SCHEMA,
            ResourceType::Group => GROUP_SCHEMA,
        }
    }

    /// The top-level attributes.
    pub fn attributes(self) -> &'static [AttributeDef] {
        match self {
            ResourceType::User => USER_ATTRIBUTES,
            ResourceType::Group => GROUP_ATTRIBUTES,
        }
    }

    /// A top-level attribute by name, case-insensitively.
    pub fn attribute(self, name: &str) -> Option<&'static AttributeDef> {
        self.attributes()
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// The definition an attribute path designates (`userName`, `name.givenName`,
/// `urn:ietf:params:scim:schemas:core:2.0:User:emails.value`), case-insensitively; `None` for
/// attributes we do not support (other schemas, such as the enterprise extension, included),
/// which callers accept and ignore.
pub fn find_attribute(resource_type: ResourceType, path: &str) -> Option<&'static AttributeDef> {
    let path = AttrPath::parse(path).ok()?;
    let top = path.definition(resource_type)?;
    match &path.sub {
        Some(sub) => top.sub(sub),
        None => Some(top),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rt: ResourceType, path: &str, expected: Option<(&str, AttrType, bool, Mutability)>) {
        let found = find_attribute(rt, path).map(|d| (d.name, d.ty, d.case_exact, d.mutability));
        assert_eq!(found, expected, "{path}");
    }

    #[test]
    fn paths_find_their_definitions() {
        use ResourceType::{Group, User};
        check(User, "id", Some(("id", Str, true, ReadOnly)));
        check(
            User,
            "USERNAME",
            Some(("userName", Str, false, Mutability::ReadWrite)),
        );
        check(
            User,
            "name.givenname",
            Some(("givenName", Str, false, Mutability::ReadWrite)),
        );
        check(
            User,
            "urn:ietf:params:scim:schemas:core:2.0:User:active",
            Some(("active", Boolean, false, Mutability::ReadWrite)),
        );
        check(
            User,
            "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:emails.value",
            Some(("value", Str, false, Mutability::ReadWrite)),
        );
        check(User, "meta.version", Some(("version", Str, true, ReadOnly)));
        check(
            User,
            "meta.lastModified",
            Some(("lastModified", DateTime, false, ReadOnly)),
        );
        check(
            User,
            "externalId",
            Some(("externalId", Str, true, Mutability::ReadWrite)),
        );
        check(User, "title", None);
        check(User, "members", None);
        check(
            User,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            None,
        );
        check(
            User,
            "urn:ietf:params:scim:schemas:core:2.0:Group:displayName",
            None,
        );
        check(
            Group,
            "members.value",
            Some(("value", Str, true, Immutable)),
        );
        check(
            Group,
            "members.$ref",
            Some(("$ref", Reference, true, Immutable)),
        );
        check(Group, "userName", None);
    }

    #[test]
    fn required_and_unique_attributes_are_marked() {
        let user = ResourceType::User.attribute("userName");
        assert!(user.is_some_and(|d| d.required && d.uniqueness == Uniqueness::Server));
        let group = ResourceType::Group.attribute("displayName");
        assert!(group.is_some_and(|d| d.required && d.uniqueness == Uniqueness::Server));
        let password = ResourceType::User.attribute("password");
        assert!(
            password.is_some_and(|d| d.returned == Returned::Never && d.mutability == WriteOnly)
        );
    }
}
