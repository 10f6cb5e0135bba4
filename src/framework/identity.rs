//! Resource identity (Terraform and OpenTofu 1.12+, protocol 5.9): the few attributes that name
//! the remote object a resource manages, apart from its state. `import` blocks may give them in
//! place of an import id, and the CLI checks that an object keeps its identity for its whole
//! life. A resource declares an [`IdentitySchema`] and derives the identity from its state
//! (`Resource::identity`), so the identity can never drift from what the state says.

use super::types::Type;
use super::value::Value;

/// The identity attributes of a resource type, at a version (0 until their shape changes).
#[derive(Clone, Debug, PartialEq)]
pub struct IdentitySchema {
    /// Bumped when the identity's shape changes; stored identities of an older version go
    /// through `UpgradeResourceIdentity`.
    pub version: i64,
    /// The attributes, in the order the docs list them.
    pub attributes: Vec<IdentityAttribute>,
}

/// One identity attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct IdentityAttribute {
    /// The attribute's name, as written in `identity = { … }`.
    pub name: String,
    /// Its type; identities use primitives.
    pub ty: Type,
    /// Whether an `import` block must give it (otherwise it is optional there).
    pub required_for_import: bool,
    /// Markdown, for the docs and the CLI.
    pub description: String,
}

impl IdentityAttribute {
    /// A string attribute an `import` block must give.
    pub fn required_string(name: &str, description: &str) -> IdentityAttribute {
        IdentityAttribute {
            name: name.to_owned(),
            ty: Type::String,
            required_for_import: true,
            description: description.to_owned(),
        }
    }
}

impl IdentitySchema {
    /// Version 0 with `attributes`.
    pub fn new(attributes: Vec<IdentityAttribute>) -> IdentitySchema {
        IdentitySchema {
            version: 0,
            attributes,
        }
    }

    /// The object type identity values have.
    pub fn value_type(&self) -> Type {
        Type::object(
            self.attributes
                .iter()
                .map(|a| (a.name.clone(), a.ty.clone())),
        )
    }

    /// An identity whose attributes take their values from `state`, attribute by attribute
    /// (`(identity attribute, state attribute)`); null when `state` is null (no object).
    pub fn from_state(&self, state: &Value, names: &[(&str, &str)]) -> Value {
        if state.is_null() {
            return Value::Null;
        }
        Value::object(names.iter().map(|(identity, attribute)| {
            (
                identity.to_string(),
                state.get(attribute).cloned().unwrap_or(Value::Null),
            )
        }))
    }
}
