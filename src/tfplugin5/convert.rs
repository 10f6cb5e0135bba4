//! Conversions between the framework's protocol-free vocabulary and the generated tfplugin5
//! messages: schemas, diagnostics and attribute paths. Values (DynamicValue) are the codec's
//! business, not this module's.

use crate::framework::{
    Attribute, AttributePath, Block, Diagnostic, Diagnostics, NestedBlock, Nesting, PathStep,
    Presence, Schema, Severity,
};
use crate::proto::tfplugin5 as pb;

use pb::attribute_path::step::Selector;
use pb::schema::nested_block::NestingMode;

/// A framework schema as Terraform receives it in GetSchema.
pub(crate) fn schema_to_proto(schema: &Schema) -> pb::Schema {
    pb::Schema {
        version: schema.version,
        block: Some(block_to_proto(&schema.block)),
    }
}

fn block_to_proto(block: &Block) -> pb::schema::Block {
    pb::schema::Block {
        // Terraform reads the version from Schema, never from the block.
        version: 0,
        attributes: block.attributes.iter().map(attribute_to_proto).collect(),
        block_types: block.blocks.iter().map(nested_block_to_proto).collect(),
        description: block.description.clone(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: block.deprecated,
        deprecation_message: String::new(),
    }
}

fn attribute_to_proto(attribute: &Attribute) -> pb::schema::Attribute {
    let (required, optional, computed) = match attribute.presence {
        Presence::Required => (true, false, false),
        Presence::Optional => (false, true, false),
        Presence::Computed => (false, false, true),
        Presence::OptionalComputed => (false, true, true),
    };
    pb::schema::Attribute {
        name: attribute.name.clone(),
        r#type: attribute.ty.to_json_bytes(),
        description: attribute.description.clone(),
        required,
        optional,
        computed,
        sensitive: attribute.sensitive,
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: attribute.deprecated,
        write_only: false,
        deprecation_message: String::new(),
    }
}

fn nested_block_to_proto(nested: &NestedBlock) -> pb::schema::NestedBlock {
    let nesting = match nested.nesting {
        Nesting::Single => NestingMode::Single,
        Nesting::List => NestingMode::List,
        Nesting::Set => NestingMode::Set,
        Nesting::Map => NestingMode::Map,
        Nesting::Group => NestingMode::Group,
    };
    pb::schema::NestedBlock {
        type_name: nested.type_name.clone(),
        block: Some(block_to_proto(&nested.block)),
        nesting: nesting as i32,
        min_items: nested.min_items,
        max_items: nested.max_items,
    }
}

/// One diagnostic on the wire. The severity is always ERROR or WARNING: Terraform ignores the
/// INVALID default, so a failure sent with it would look like success.
pub(crate) fn diagnostic_to_proto(diagnostic: &Diagnostic) -> pb::Diagnostic {
    let severity = match diagnostic.severity {
        Severity::Error => pb::diagnostic::Severity::Error,
        Severity::Warning => pb::diagnostic::Severity::Warning,
    };
    pb::Diagnostic {
        severity: severity as i32,
        summary: diagnostic.summary.clone(),
        detail: diagnostic.detail.clone(),
        attribute: diagnostic.attribute.as_ref().map(path_to_proto),
    }
}

/// Every diagnostic of `diagnostics`, in order, as tfplugin5 messages.
pub(crate) fn diagnostics_to_proto(diagnostics: &Diagnostics) -> Vec<pb::Diagnostic> {
    diagnostics.iter().map(diagnostic_to_proto).collect()
}

/// An attribute path as a tfplugin5 message.
pub(crate) fn path_to_proto(path: &AttributePath) -> pb::AttributePath {
    pb::AttributePath {
        steps: path
            .steps()
            .iter()
            .map(|step| pb::attribute_path::Step {
                selector: Some(match step {
                    PathStep::Attribute(name) => Selector::AttributeName(name.clone()),
                    PathStep::ElementKeyString(key) => Selector::ElementKeyString(key.clone()),
                    PathStep::ElementKeyInt(i) => Selector::ElementKeyInt(*i),
                }),
            })
            .collect(),
    }
}

/// A path received from Terraform. A step without a selector has no meaning, so it is refused
/// rather than silently dropped (which would point at the wrong attribute).
// No RPC this provider serves receives a path yet; the service tests read the ones it sends back.
#[cfg(test)]
pub(crate) fn path_from_proto(path: &pb::AttributePath) -> Result<AttributePath, String> {
    path.steps
        .iter()
        .enumerate()
        .map(|(i, step)| match &step.selector {
            Some(Selector::AttributeName(name)) => Ok(PathStep::Attribute(name.clone())),
            Some(Selector::ElementKeyString(key)) => Ok(PathStep::ElementKeyString(key.clone())),
            Some(Selector::ElementKeyInt(n)) => Ok(PathStep::ElementKeyInt(*n)),
            None => Err(format!("attribute path step {i} has no selector")),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(AttributePath::from_steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Type;

    fn sample_schema() -> Schema {
        Schema::new(
            Block::new()
                .description("A **restore**.")
                .attribute(Attribute::string("id").computed())
                .attribute(Attribute::string("source_vps_id").required())
                .attribute(Attribute::number("timeout_minutes").optional())
                .attribute(Attribute::string("status").optional_computed())
                .attribute(
                    Attribute::string("api_key")
                        .required()
                        .sensitive()
                        .deprecated()
                        .description("The `key`."),
                )
                .attribute(Attribute::new("tags", Type::map(Type::String)))
                .block(
                    NestedBlock::list("rule", Block::new().attribute(Attribute::bool("on")))
                        .items(1, 3),
                )
                .block(NestedBlock::single(
                    "timeouts",
                    Block::new().attribute(Attribute::string("create")),
                )),
        )
        .version(2)
    }

    fn attr<'a>(block: &'a pb::schema::Block, name: &str) -> &'a pb::schema::Attribute {
        block
            .attributes
            .iter()
            .find(|a| a.name == name)
            .unwrap_or_else(|| panic!("attribute {name} missing"))
    }

    #[test]
    fn presence_maps_to_exactly_the_terraform_flags() {
        let s = schema_to_proto(&sample_schema());
        let b = s.block.as_ref().unwrap();
        let flags = |n: &str| {
            let a = attr(b, n);
            (a.required, a.optional, a.computed)
        };
        assert_eq!(flags("id"), (false, false, true));
        assert_eq!(flags("source_vps_id"), (true, false, false));
        assert_eq!(flags("timeout_minutes"), (false, true, false));
        assert_eq!(flags("status"), (false, true, true));
    }

    #[test]
    fn attribute_carries_type_json_sensitivity_and_markdown_docs() {
        let s = schema_to_proto(&sample_schema());
        assert_eq!(s.version, 2);
        let b = s.block.as_ref().unwrap();
        assert_eq!(b.description, "A **restore**.");
        assert_eq!(b.description_kind, pb::StringKind::Markdown as i32);
        assert_eq!(attr(b, "id").r#type, b"\"string\"");
        assert_eq!(attr(b, "timeout_minutes").r#type, b"\"number\"");
        assert_eq!(attr(b, "tags").r#type, br#"["map","string"]"#);
        let key = attr(b, "api_key");
        assert!(key.sensitive && key.deprecated);
        assert!(!attr(b, "id").sensitive);
        assert_eq!(key.description, "The `key`.");
        assert_eq!(key.description_kind, pb::StringKind::Markdown as i32);
    }

    #[test]
    fn nested_blocks_keep_nesting_and_item_limits() {
        let s = schema_to_proto(&sample_schema());
        let b = s.block.as_ref().unwrap();
        assert_eq!(b.block_types.len(), 2);
        let rule = &b.block_types[0];
        assert_eq!(rule.type_name, "rule");
        assert_eq!(rule.nesting, NestingMode::List as i32);
        assert_eq!((rule.min_items, rule.max_items), (1, 3));
        assert_eq!(
            rule.block.as_ref().unwrap().attributes[0].r#type,
            b"\"bool\""
        );
        assert_eq!(b.block_types[1].nesting, NestingMode::Single as i32);
    }

    #[test]
    fn severity_is_never_invalid() {
        let mut d = Diagnostics::new();
        d.error("boom", "it broke");
        d.warning("careful", "");
        let wire = diagnostics_to_proto(&d);
        assert_eq!(wire[0].severity, pb::diagnostic::Severity::Error as i32);
        assert_eq!(wire[0].severity, 1);
        assert_eq!(wire[1].severity, 2);
        assert!(wire.iter().all(|w| w.severity != 0));
        assert_eq!(wire[0].summary, "boom");
        assert_eq!(wire[0].detail, "it broke");
        assert!(wire[0].attribute.is_none());
    }

    #[test]
    fn diagnostic_points_at_its_attribute() {
        let d =
            Diagnostic::error("bad", "").at(AttributePath::attribute("rule").index(0).attr("on"));
        let wire = diagnostic_to_proto(&d);
        let steps = &wire.attribute.unwrap().steps;
        assert_eq!(steps.len(), 3);
        assert_eq!(
            steps[0].selector,
            Some(Selector::AttributeName("rule".into()))
        );
        assert_eq!(steps[1].selector, Some(Selector::ElementKeyInt(0)));
        assert_eq!(
            steps[2].selector,
            Some(Selector::AttributeName("on".into()))
        );
    }

    #[test]
    fn paths_round_trip() {
        let p = AttributePath::attribute("tags")
            .key("env")
            .attr("x")
            .index(-1);
        let wire = path_to_proto(&p);
        assert_eq!(
            wire.steps[1].selector,
            Some(Selector::ElementKeyString("env".into()))
        );
        assert_eq!(path_from_proto(&wire).unwrap(), p);
        assert!(path_from_proto(&pb::AttributePath::default())
            .unwrap()
            .is_root());
    }

    #[test]
    fn path_step_without_selector_is_an_error() {
        let wire = pb::AttributePath {
            steps: vec![
                pb::attribute_path::Step {
                    selector: Some(Selector::AttributeName("a".into())),
                },
                pb::attribute_path::Step { selector: None },
            ],
        };
        let err = path_from_proto(&wire).unwrap_err();
        assert!(err.contains("step 1"), "{err}");
    }
}
