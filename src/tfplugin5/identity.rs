//! Resource identity on the wire (protocol 5.9): the identity schemas `GetResourceIdentitySchemas`
//! publishes, the identity each state-carrying answer (read, plan, apply, import) sends along,
//! the identity an `import` block gives, and `UpgradeResourceIdentity`. The resources decide what
//! their identity is (`Resource::identity`); this layer only encodes and decodes it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::framework::{Diagnostic, IdentitySchema, Resource, Type, Value};
use crate::proto::tfplugin5 as pb;
use crate::tfplugin5::codec;
use crate::tfplugin5::server::{decode, encode};

/// One resource type's identity schema, built once.
struct Declared {
    schema: IdentitySchema,
    value_type: Type,
}

/// The identity schemas of every resource type that declares one.
pub(crate) struct Identities {
    by_type: HashMap<String, Declared>,
}

impl Identities {
    /// The identity schemas `resources` declare.
    pub(crate) fn new(resources: &[Arc<dyn Resource>]) -> Identities {
        let by_type = resources
            .iter()
            .filter_map(|r| {
                let schema = r.identity_schema()?;
                let value_type = schema.value_type();
                Some((r.type_name().to_owned(), Declared { schema, value_type }))
            })
            .collect();
        Identities { by_type }
    }

    /// The answer to `GetResourceIdentitySchemas`.
    pub(crate) fn wire_schemas(&self) -> HashMap<String, pb::ResourceIdentitySchema> {
        use pb::resource_identity_schema::IdentityAttribute;
        self.by_type
            .iter()
            .map(|(name, d)| {
                let attributes = d
                    .schema
                    .attributes
                    .iter()
                    .map(|a| IdentityAttribute {
                        name: a.name.clone(),
                        r#type: a.ty.to_json_bytes(),
                        required_for_import: a.required_for_import,
                        optional_for_import: !a.required_for_import,
                        description: a.description.clone(),
                    })
                    .collect();
                let schema = pb::ResourceIdentitySchema {
                    version: d.schema.version,
                    identity_attributes: attributes,
                };
                (name.clone(), schema)
            })
            .collect()
    }

    /// The identity of the object `state` describes, for a response: `None` when the type
    /// declares none, there is no object, or the identity is not wholly known yet (the plan of a
    /// create, whose ids apply learns).
    pub(crate) fn of_state(
        &self,
        resource: &dyn Resource,
        state: &Value,
    ) -> Result<Option<pb::ResourceIdentityData>, Diagnostic> {
        let Some(declared) = self.by_type.get(resource.type_name()) else {
            return Ok(None);
        };
        if state.is_null() {
            return Ok(None);
        }
        let identity = resource.identity(state);
        if identity.is_null() || !identity.is_wholly_known() {
            return Ok(None);
        }
        let data = encode(&identity, &declared.value_type, "identity")?;
        Ok(Some(pb::ResourceIdentityData {
            identity_data: Some(data),
        }))
    }

    /// The identity an `import` block gave, decoded; `None` when it gave none.
    pub(crate) fn given(
        &self,
        type_name: &str,
        data: Option<&pb::ResourceIdentityData>,
    ) -> Result<Option<Value>, Diagnostic> {
        let Some(dv) = data.and_then(|d| d.identity_data.as_ref()) else {
            return Ok(None);
        };
        let Some(declared) = self.by_type.get(type_name) else {
            return Err(Diagnostic::error(
                "Import by identity is not supported",
                format!("The resource type {type_name} has no identity."),
            ));
        };
        let given = decode(Some(dv), &declared.value_type, "identity")?;
        Ok((!given.is_null()).then_some(given))
    }

    /// `UpgradeResourceIdentity`: a stored identity (JSON) of `version`, as the current version.
    /// Version 0 is the only one there has been, so it is read as it is.
    pub(crate) fn upgrade(
        &self,
        type_name: &str,
        version: i64,
        raw: Option<&pb::RawState>,
    ) -> Result<pb::ResourceIdentityData, Diagnostic> {
        let Some(declared) = self.by_type.get(type_name) else {
            return Err(Diagnostic::error(
                "Unknown identity",
                format!("The resource type {type_name} has no identity to upgrade."),
            ));
        };
        if version != declared.schema.version {
            return Err(Diagnostic::error(
                "Unsupported identity version",
                format!(
                    "The identity of this {type_name} was stored with version {version}; this \
                     provider reads version {} only.",
                    declared.schema.version
                ),
            ));
        }
        let json = raw.map(|r| r.json.as_slice()).unwrap_or_default();
        let value = codec::decode_state_json(json, &declared.value_type).map_err(|e| {
            Diagnostic::error(
                "Invalid stored identity",
                format!("The stored identity of this {type_name} could not be read: {e}"),
            )
        })?;
        Ok(pb::ResourceIdentityData {
            identity_data: Some(encode(&value, &declared.value_type, "identity")?),
        })
    }
}
