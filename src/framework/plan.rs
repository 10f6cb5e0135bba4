//! The plan a resource gets before its own `modify_plan` runs, derived from the schema alone:
//! which computed values become "known after apply", which keep their prior value, which changes
//! force a new object, and a check that a finished plan still honours the configuration (the rule
//! Terraform enforces as "Provider produced invalid plan").
//!
//! Destroys never come here: their planned state is null and only the resource can veto them.

use std::collections::BTreeMap;

use super::diagnostics::Diagnostics;
use super::path::AttributePath;
use super::provider::{Plan, PlanRequest};
use super::schema::{Attribute, Block, NestedBlock, Nesting, Schema};
use super::value::Value;

/// Plans a create (prior null) or an update from Terraform's proposed new state.
///
/// Create: every computed attribute left null by the configuration becomes unknown, down through
/// nested blocks. Update: when only computed values could differ the proposed value is returned
/// as is, so Terraform sees no change; otherwise computed attributes without a configured value
/// become unknown, except those marked `keep_prior`, which keep the prior value. On an update the
/// plan lists every `requires_replace` attribute or block whose planned value differs from the
/// prior one (an unknown counts as a difference).
pub fn plan_change(schema: &Schema, req: &PlanRequest) -> Plan {
    let block = &schema.block;
    let mut planned = req.proposed.clone();
    let mut requires_replace = Vec::new();
    if req.is_create() {
        mark_unknown(block, &mut planned, &req.config, None);
    } else if !same_config_driven(block, &req.proposed, &req.prior) {
        mark_unknown(block, &mut planned, &req.config, Some(&req.prior));
        replace_paths(
            block,
            &AttributePath::root(),
            &req.prior,
            &planned,
            &mut requires_replace,
        );
    }
    Plan {
        planned,
        requires_replace,
        private: req.prior_private.clone(),
        diagnostics: Diagnostics::new(),
    }
}

/// Errors, prefixed "provider bug:", for every non-computed attribute whose planned value is not
/// its configured value. Run after a resource adjusted the plan, it names the attribute Terraform
/// would otherwise reject the whole plan for.
pub fn check_planned(schema: &Schema, config: &Value, planned: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    check_block(
        &schema.block,
        &AttributePath::root(),
        config,
        planned,
        &mut diags,
    );
    diags
}

/// Sets the computed attributes of one object of `block` to unknown where the configuration
/// leaves them null. `prior` is the matching prior object on an update (`None` on create, or for
/// a nested object that did not exist before); `keep_prior` attributes take their value from it.
fn mark_unknown(block: &Block, planned: &mut Value, config: &Value, prior: Option<&Value>) {
    if planned.is_null() || planned.is_unknown() {
        return;
    }
    for a in &block.attributes {
        if !a.is_computed() || !field(config, &a.name).is_null() {
            continue;
        }
        let value = match prior {
            Some(prior) if a.keep_prior => field(prior, &a.name).clone(),
            _ => Value::Unknown,
        };
        planned.set(&a.name, value);
    }
    for b in &block.blocks {
        let config_b = field(config, &b.type_name);
        let prior_b = prior.map(|p| field(p, &b.type_name));
        let Some(planned_b) = planned.get_mut(&b.type_name) else {
            continue;
        };
        mark_nested(b, planned_b, config_b, prior_b);
    }
}

fn mark_nested(b: &NestedBlock, planned: &mut Value, config: &Value, prior: Option<&Value>) {
    let inner = &b.block;
    match (b.nesting, planned) {
        (Nesting::Single | Nesting::Group, planned) => {
            let prior = prior.filter(|p| !p.is_null());
            mark_unknown(inner, planned, config, prior);
        }
        (Nesting::List, Value::List(items)) => {
            let config_items = config.as_elements().unwrap_or(&[]);
            let prior_items = prior.and_then(Value::as_elements).unwrap_or(&[]);
            for (i, item) in items.iter_mut().enumerate() {
                let c = config_items.get(i).unwrap_or(&Value::Null);
                mark_unknown(inner, item, c, prior_items.get(i));
            }
        }
        (Nesting::Set, Value::Set(items)) => {
            let config_items = config.as_elements().unwrap_or(&[]);
            let prior_items = prior.and_then(Value::as_elements).unwrap_or(&[]);
            for item in items.iter_mut() {
                // Set elements have no address: pair them by their configured attributes.
                let c = config_items
                    .iter()
                    .find(|c| same_configured(inner, c, item))
                    .cloned()
                    .unwrap_or(Value::Null);
                let p = prior_items
                    .iter()
                    .find(|p| same_config_driven(inner, item, p));
                mark_unknown(inner, item, &c, p);
            }
        }
        (Nesting::Map, Value::Map(items)) => {
            let empty = BTreeMap::new();
            let config_items = config.as_entries().unwrap_or(&empty);
            let prior_items = prior.and_then(Value::as_entries).unwrap_or(&empty);
            for (key, item) in items.iter_mut() {
                let c = config_items.get(key).unwrap_or(&Value::Null);
                mark_unknown(inner, item, c, prior_items.get(key));
            }
        }
        // Unknown or null collections, or a shape the schema does not describe: nothing to mark.
        _ => {}
    }
}

/// Collects the `requires_replace` paths whose planned value differs from the prior one.
fn replace_paths(
    block: &Block,
    base: &AttributePath,
    prior: &Value,
    planned: &Value,
    out: &mut Vec<AttributePath>,
) {
    for a in block.attributes.iter().filter(|a| a.requires_replace) {
        if differs(field(prior, &a.name), field(planned, &a.name)) {
            out.push(base.clone().attr(&a.name));
        }
    }
    for b in &block.blocks {
        let path = base.clone().attr(&b.type_name);
        let prior_b = field(prior, &b.type_name);
        let planned_b = field(planned, &b.type_name);
        if b.requires_replace {
            // Only what the configuration drives counts: a provider-computed value inside the
            // block changing is not the user's change and must not replace the object.
            if !same_nested_config_driven(b, prior_b, planned_b) {
                out.push(path);
            }
            continue;
        }
        nested_replace_paths(b, &path, prior_b, planned_b, out);
    }
}

fn nested_replace_paths(
    b: &NestedBlock,
    path: &AttributePath,
    prior: &Value,
    planned: &Value,
    out: &mut Vec<AttributePath>,
) {
    let inner = &b.block;
    match b.nesting {
        Nesting::Single | Nesting::Group => replace_paths(inner, path, prior, planned, out),
        Nesting::List => {
            let prior_items = prior.as_elements().unwrap_or(&[]);
            let planned_items = planned.as_elements().unwrap_or(&[]);
            for i in 0..prior_items.len().max(planned_items.len()) {
                replace_paths(
                    inner,
                    &path.clone().index(i as i64),
                    prior_items.get(i).unwrap_or(&Value::Null),
                    planned_items.get(i).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        Nesting::Map => {
            let empty = BTreeMap::new();
            let prior_items = prior.as_entries().unwrap_or(&empty);
            let planned_items = planned.as_entries().unwrap_or(&empty);
            let keys: std::collections::BTreeSet<&String> =
                prior_items.keys().chain(planned_items.keys()).collect();
            for key in keys {
                replace_paths(
                    inner,
                    &path.clone().key(key.as_str()),
                    prior_items.get(key).unwrap_or(&Value::Null),
                    planned_items.get(key).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        Nesting::Set => {
            // A set element has no path of its own, so a replacing attribute inside one is
            // reported at the set: when the replacing attributes, taken over all elements, differ.
            let replacing: Vec<&Attribute> = inner
                .attributes
                .iter()
                .filter(|a| a.requires_replace)
                .collect();
            if replacing.is_empty() {
                return;
            }
            let project = |v: &Value| -> Value {
                Value::Set(
                    v.as_elements()
                        .unwrap_or(&[])
                        .iter()
                        .map(|e| {
                            Value::object(
                                replacing
                                    .iter()
                                    .map(|a| (a.name.clone(), field(e, &a.name).clone())),
                            )
                        })
                        .collect(),
                )
            };
            if planned.is_unknown() || differs(&project(prior), &project(planned)) {
                out.push(path.clone());
            }
        }
    }
}

fn check_block(
    block: &Block,
    base: &AttributePath,
    config: &Value,
    planned: &Value,
    diags: &mut Diagnostics,
) {
    if planned.is_unknown() && config.is_unknown() {
        return;
    }
    for a in block.attributes.iter().filter(|a| !a.is_computed()) {
        let c = field(config, &a.name);
        let p = field(planned, &a.name);
        if !equivalent(c, p) {
            let path = base.clone().attr(&a.name);
            diags.error_at(
                path.clone(),
                format!("provider bug: planned value for {path} does not match the configuration"),
                format!(
                    "The attribute {path} is not computed, so its planned value must be the \
                     configured one. This is a bug in the provider; please report it."
                ),
            );
        }
    }
    for b in &block.blocks {
        let path = base.clone().attr(&b.type_name);
        let c = field(config, &b.type_name);
        let p = field(planned, &b.type_name);
        match b.nesting {
            Nesting::Single | Nesting::Group => {
                if c.is_null() != p.is_null() {
                    block_mismatch(diags, &path);
                } else {
                    check_block(&b.block, &path, c, p, diags);
                }
            }
            Nesting::List => {
                let (cs, ps) = (
                    c.as_elements().unwrap_or(&[]),
                    p.as_elements().unwrap_or(&[]),
                );
                if cs.len() != ps.len() && !c.is_unknown() {
                    block_mismatch(diags, &path);
                    continue;
                }
                for (i, (ci, pi)) in cs.iter().zip(ps).enumerate() {
                    check_block(&b.block, &path.clone().index(i as i64), ci, pi, diags);
                }
            }
            Nesting::Map => {
                let empty = BTreeMap::new();
                let (cs, ps) = (
                    c.as_entries().unwrap_or(&empty),
                    p.as_entries().unwrap_or(&empty),
                );
                if !c.is_unknown() && !cs.keys().eq(ps.keys()) {
                    block_mismatch(diags, &path);
                    continue;
                }
                for (key, ci) in cs {
                    if let Some(pi) = ps.get(key) {
                        check_block(&b.block, &path.clone().key(key.as_str()), ci, pi, diags);
                    }
                }
            }
            Nesting::Set => {
                let (cs, ps) = (
                    c.as_elements().unwrap_or(&[]),
                    p.as_elements().unwrap_or(&[]),
                );
                let unmatched = ps
                    .iter()
                    .any(|pe| !cs.iter().any(|ce| same_configured(&b.block, ce, pe)));
                if !c.is_unknown() && (cs.len() != ps.len() || unmatched) {
                    block_mismatch(diags, &path);
                }
            }
        }
    }
}

fn block_mismatch(diags: &mut Diagnostics, path: &AttributePath) {
    diags.error_at(
        path.clone(),
        format!("provider bug: planned blocks {path} do not match the configuration"),
        format!(
            "The planned {path} blocks differ from the configured ones in number or content. \
             This is a bug in the provider; please report it."
        ),
    );
}

/// An attribute of an object, or null when the object is null, unknown or lacks it.
fn field<'a>(v: &'a Value, name: &str) -> &'a Value {
    v.get(name).unwrap_or(&Value::Null)
}

/// True when two objects of `block` agree on every value the configuration drives (all but
/// computed-only attributes), nested blocks included.
fn same_config_driven(block: &Block, a: &Value, b: &Value) -> bool {
    same_projection(block, a, b, &|attr| {
        attr.presence != super::schema::Presence::Computed
    })
}

/// True when `planned` agrees with `config` on the non-computed attributes: how a planned set
/// element is paired with the configured element it came from.
fn same_configured(block: &Block, config: &Value, planned: &Value) -> bool {
    same_projection(block, config, planned, &|attr| !attr.is_computed())
}

fn same_projection(block: &Block, a: &Value, b: &Value, keep: &dyn Fn(&Attribute) -> bool) -> bool {
    if a.is_null() || b.is_null() || a.is_unknown() || b.is_unknown() {
        return equivalent(a, b);
    }
    block
        .attributes
        .iter()
        .filter(|attr| keep(attr))
        .all(|attr| equivalent(field(a, &attr.name), field(b, &attr.name)))
        && block.blocks.iter().all(|nb| {
            same_nested_projection(nb, field(a, &nb.type_name), field(b, &nb.type_name), keep)
        })
}

fn same_nested_config_driven(b: &NestedBlock, x: &Value, y: &Value) -> bool {
    same_nested_projection(b, x, y, &|attr| {
        attr.presence != super::schema::Presence::Computed
    })
}

fn same_nested_projection(
    b: &NestedBlock,
    x: &Value,
    y: &Value,
    keep: &dyn Fn(&Attribute) -> bool,
) -> bool {
    match b.nesting {
        Nesting::Single | Nesting::Group => same_projection(&b.block, x, y, keep),
        Nesting::List | Nesting::Set => match (x.as_elements(), y.as_elements()) {
            (Some(xs), Some(ys)) if xs.len() == ys.len() => {
                if b.nesting == Nesting::List {
                    xs.iter()
                        .zip(ys)
                        .all(|(xe, ye)| same_projection(&b.block, xe, ye, keep))
                } else {
                    matches_unordered(xs, ys, |xe, ye| same_projection(&b.block, xe, ye, keep))
                }
            }
            (Some(_), Some(_)) => false,
            _ => equivalent(x, y),
        },
        Nesting::Map => match (x.as_entries(), y.as_entries()) {
            (Some(xs), Some(ys)) => {
                xs.keys().eq(ys.keys())
                    && xs
                        .iter()
                        .all(|(k, xe)| same_projection(&b.block, xe, &ys[k], keep))
            }
            _ => equivalent(x, y),
        },
    }
}

/// A difference for `requires_replace`: unequal, or not yet known.
fn differs(prior: &Value, planned: &Value) -> bool {
    !planned.is_wholly_known() || !equivalent(prior, planned)
}

/// Value equality as Terraform judges it: sets without order, numbers by value, a dynamic value
/// by its type and content, unknown equal to unknown.
pub(crate) fn equivalent(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Dynamic(ta, va), Value::Dynamic(tb, vb)) => ta == tb && equivalent(va, vb),
        (Value::Dynamic(_, va), b) => equivalent(va, b),
        (a, Value::Dynamic(_, vb)) => equivalent(a, vb),
        (Value::Set(xs), Value::Set(ys)) => {
            xs.len() == ys.len() && matches_unordered(xs, ys, equivalent)
        }
        (Value::List(xs), Value::List(ys)) | (Value::Tuple(xs), Value::Tuple(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| equivalent(x, y))
        }
        (Value::Map(xs), Value::Map(ys)) | (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .all(|(k, x)| ys.get(k).is_some_and(|y| equivalent(x, y)))
        }
        (a, b) => a == b,
    }
}

/// True when every element of `xs` pairs with a distinct element of `ys` (same lengths assumed).
fn matches_unordered(xs: &[Value], ys: &[Value], eq: impl Fn(&Value, &Value) -> bool) -> bool {
    let mut used = vec![false; ys.len()];
    xs.iter().all(
        |x| match (0..ys.len()).find(|&j| !used[j] && eq(x, &ys[j])) {
            Some(j) => {
                used[j] = true;
                true
            }
            None => false,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::schema::Presence;
    use crate::framework::types::Type;

    fn schema() -> Schema {
        Schema::new(
            Block::new()
                .attribute(Attribute::string("id").computed().keep_prior())
                .attribute(Attribute::string("name").required().requires_replace())
                .attribute(Attribute::string("note").optional())
                .attribute(Attribute::string("status").computed())
                .attribute(Attribute::string("zone").optional_computed())
                .attribute(Attribute::new("tags", Type::map(Type::String)).requires_replace())
                .block(NestedBlock::single(
                    "settings",
                    Block::new()
                        .attribute(Attribute::string("mode").optional())
                        .attribute(Attribute::string("effective").computed()),
                ))
                .block(NestedBlock::list(
                    "rule",
                    Block::new()
                        .attribute(Attribute::string("name").required())
                        .attribute(Attribute::string("uid").computed()),
                ))
                .block(NestedBlock::new(
                    "port",
                    Nesting::Set,
                    Block::new()
                        .attribute(Attribute::number("number").required())
                        .attribute(Attribute::string("uid").computed()),
                ))
                .block(NestedBlock::new(
                    "disk",
                    Nesting::Map,
                    Block::new()
                        .attribute(Attribute::number("size").required().requires_replace())
                        .attribute(Attribute::string("label").optional())
                        .attribute(Attribute::string("uid").computed()),
                ))
                .block(
                    NestedBlock::single(
                        "image",
                        Block::new()
                            .attribute(Attribute::string("source").optional())
                            .attribute(Attribute::string("digest").computed()),
                    )
                    .requires_replace(),
                ),
        )
    }

    /// A configuration with every computed value null, as Terraform sends it.
    fn config() -> Value {
        let mut v = schema().block.empty_value();
        v.set("name", "web".into());
        v.set(
            "settings",
            Value::object([("mode", "fast".into()), ("effective", Value::Null)]),
        );
        v.set(
            "rule",
            Value::List(vec![Value::object([
                ("name", "r1".into()),
                ("uid", Value::Null),
            ])]),
        );
        v.set(
            "port",
            Value::Set(vec![
                Value::object([("number", Value::int(80)), ("uid", Value::Null)]),
                Value::object([("number", Value::int(443)), ("uid", Value::Null)]),
            ]),
        );
        v.set(
            "disk",
            Value::Map(BTreeMap::from([(
                "root".to_string(),
                Value::object([
                    ("size", Value::int(10)),
                    ("label", Value::Null),
                    ("uid", Value::Null),
                ]),
            )])),
        );
        v.set(
            "image",
            Value::object([("source", "debian".into()), ("digest", Value::Null)]),
        );
        v
    }

    /// The state after applying `config()`: every computed value filled in.
    fn applied() -> Value {
        let mut v = config();
        v.set("id", "i-1".into());
        v.set("status", "running".into());
        v.set("zone", "eu".into());
        v.get_mut("settings")
            .unwrap()
            .set("effective", "fast".into());
        if let Some(Value::List(rules)) = v.get_mut("rule") {
            rules[0].set("uid", "u-r1".into());
        }
        if let Some(Value::Set(ports)) = v.get_mut("port") {
            for p in ports.iter_mut() {
                let n = p.get("number").and_then(Value::as_i64).unwrap();
                p.set("uid", format!("u-{n}").into());
            }
        }
        v.get_mut("disk")
            .unwrap()
            .get_mut("root")
            .unwrap()
            .set("uid", "u-d".into());
        v.get_mut("image").unwrap().set("digest", "sha".into());
        v
    }

    /// Terraform's proposed new state: config values, with computed nulls taken from prior.
    fn proposed(config: &Value, prior: &Value) -> Value {
        fn merge(block: &Block, config: &Value, prior: &Value) -> Value {
            if config.is_null() {
                return Value::Null;
            }
            let mut out = config.clone();
            for a in &block.attributes {
                if a.is_computed() && field(config, &a.name).is_null() {
                    out.set(&a.name, field(prior, &a.name).clone());
                }
            }
            for b in &block.blocks {
                let (c, p) = (field(config, &b.type_name), field(prior, &b.type_name));
                let merged = match (c, b.nesting) {
                    (Value::List(cs), _) => Value::List(
                        cs.iter()
                            .enumerate()
                            .map(|(i, ce)| {
                                let pe = p.as_elements().and_then(|ps| ps.get(i));
                                merge(&b.block, ce, pe.unwrap_or(&Value::Null))
                            })
                            .collect(),
                    ),
                    (Value::Set(cs), _) => Value::Set(
                        cs.iter()
                            .map(|ce| {
                                let pe = p
                                    .as_elements()
                                    .unwrap_or(&[])
                                    .iter()
                                    .find(|pe| same_configured(&b.block, ce, pe));
                                merge(&b.block, ce, pe.unwrap_or(&Value::Null))
                            })
                            .collect(),
                    ),
                    (Value::Map(cs), _) => Value::Map(
                        cs.iter()
                            .map(|(k, ce)| (k.clone(), merge(&b.block, ce, field(p, k))))
                            .collect(),
                    ),
                    (c, _) => merge(&b.block, c, p),
                };
                out.set(&b.type_name, merged);
            }
            out
        }
        merge(&schema().block, config, prior)
    }

    fn create(config: &Value) -> Plan {
        plan_change(
            &schema(),
            &PlanRequest {
                prior: Value::Null,
                config: config.clone(),
                proposed: proposed(config, &Value::Null),
                prior_private: b"p".to_vec(),
            },
        )
    }

    fn update(prior: &Value, config: &Value) -> Plan {
        plan_change(
            &schema(),
            &PlanRequest {
                prior: prior.clone(),
                config: config.clone(),
                proposed: proposed(config, prior),
                prior_private: b"prior".to_vec(),
            },
        )
    }

    fn paths(plan: &Plan) -> Vec<String> {
        plan.requires_replace
            .iter()
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn create_marks_computed_nulls_unknown_and_keeps_configured_values() {
        let mut cfg = config();
        cfg.set("zone", "us".into());
        let plan = create(&cfg);
        let p = &plan.planned;
        assert_eq!(p.get("id"), Some(&Value::Unknown));
        assert_eq!(p.get("status"), Some(&Value::Unknown));
        assert_eq!(
            p.get_str("zone"),
            Some("us"),
            "a configured optional+computed value stays"
        );
        assert_eq!(p.get_str("name"), Some("web"));
        assert_eq!(
            p.get("note"),
            Some(&Value::Null),
            "optional, not computed: stays null"
        );
        assert!(plan.requires_replace.is_empty(), "no replacement on create");
        assert_eq!(plan.private, b"p");
        assert!(plan.diagnostics.is_empty());
    }

    #[test]
    fn create_reaches_into_every_kind_of_nested_block() {
        let p = create(&config()).planned;
        assert_eq!(
            p.at(&AttributePath::root().attr("settings").attr("effective")),
            Some(&Value::Unknown)
        );
        assert_eq!(p.get("settings").unwrap().get_str("mode"), Some("fast"));
        let rule = &p.get("rule").unwrap().as_elements().unwrap()[0];
        assert_eq!(rule.get("uid"), Some(&Value::Unknown));
        assert_eq!(rule.get_str("name"), Some("r1"));
        let ports = p.get("port").unwrap().as_elements().unwrap();
        assert_eq!(ports.len(), 2);
        assert!(ports.iter().all(|e| e.get("uid") == Some(&Value::Unknown)));
        let disk = p.get("disk").unwrap().get("root").unwrap();
        assert_eq!(disk.get("uid"), Some(&Value::Unknown));
        assert_eq!(disk.get("label"), Some(&Value::Null));
    }

    #[test]
    fn update_without_config_change_is_an_empty_plan() {
        let prior = applied();
        let plan = update(&prior, &config());
        assert!(
            equivalent(&plan.planned, &prior),
            "planned: {:?}",
            plan.planned
        );
        assert!(plan.planned.is_wholly_known());
        assert!(plan.requires_replace.is_empty());
        assert_eq!(plan.private, b"prior");
    }

    #[test]
    fn empty_plan_ignores_set_order_and_number_representation() {
        let prior = applied();
        let mut cfg = config();
        if let Some(Value::Set(ports)) = cfg.get_mut("port") {
            ports.reverse();
        }
        cfg.get_mut("disk")
            .unwrap()
            .get_mut("root")
            .unwrap()
            .set("size", Value::Number(crate::framework::Number::Float(10.0)));
        let plan = update(&prior, &cfg);
        assert!(plan.planned.is_wholly_known());
        assert!(plan.requires_replace.is_empty());
    }

    #[test]
    fn update_marks_computed_unknown_but_keep_prior_keeps_its_value() {
        let prior = applied();
        let mut cfg = config();
        cfg.set("note", "changed".into());
        let plan = update(&prior, &cfg);
        let p = &plan.planned;
        assert_eq!(p.get_str("note"), Some("changed"));
        assert_eq!(p.get_str("id"), Some("i-1"), "keep_prior");
        assert_eq!(p.get("status"), Some(&Value::Unknown));
        assert_eq!(
            p.get("zone"),
            Some(&Value::Unknown),
            "optional+computed left null"
        );
        let rule = &p.get("rule").unwrap().as_elements().unwrap()[0];
        assert_eq!(rule.get("uid"), Some(&Value::Unknown));
        assert!(plan.requires_replace.is_empty(), "{:?}", paths(&plan));
    }

    #[test]
    fn keep_prior_inside_a_new_nested_object_is_unknown() {
        let s = Schema::new(
            Block::new().block(NestedBlock::list(
                "rule",
                Block::new()
                    .attribute(Attribute::string("name").required())
                    .attribute(Attribute::string("uid").computed().keep_prior()),
            )),
        );
        let rule = |name: &str, uid: Value| Value::object([("name", name.into()), ("uid", uid)]);
        let prior = Value::object([("rule", Value::List(vec![rule("a", "u-a".into())]))]);
        let config = Value::object([(
            "rule",
            Value::List(vec![rule("a", Value::Null), rule("b", Value::Null)]),
        )]);
        let proposed = Value::object([(
            "rule",
            Value::List(vec![rule("a", "u-a".into()), rule("b", Value::Null)]),
        )]);
        let plan = plan_change(
            &s,
            &PlanRequest {
                prior,
                config,
                proposed,
                prior_private: vec![],
            },
        );
        let rules = plan.planned.get("rule").unwrap().as_elements().unwrap();
        assert_eq!(rules[0].get_str("uid"), Some("u-a"));
        assert_eq!(rules[1].get("uid"), Some(&Value::Unknown));
    }

    #[test]
    fn changed_requires_replace_attribute_is_listed() {
        let prior = applied();
        let mut cfg = config();
        cfg.set("name", "db".into());
        let plan = update(&prior, &cfg);
        assert_eq!(paths(&plan), vec!["name"]);
    }

    #[test]
    fn map_attribute_and_nested_map_block_paths() {
        let prior = applied();
        let mut cfg = config();
        cfg.set(
            "tags",
            Value::Map(BTreeMap::from([("env".to_string(), "prod".into())])),
        );
        cfg.get_mut("disk")
            .unwrap()
            .get_mut("root")
            .unwrap()
            .set("size", Value::int(20));
        let plan = update(&prior, &cfg);
        assert_eq!(paths(&plan), vec!["tags", "disk[\"root\"].size"]);
        assert_eq!(
            plan.requires_replace[1],
            AttributePath::root().attr("disk").key("root").attr("size")
        );
    }

    #[test]
    fn non_replacing_change_in_nested_map_block_replaces_nothing() {
        let prior = applied();
        let mut cfg = config();
        cfg.get_mut("disk")
            .unwrap()
            .get_mut("root")
            .unwrap()
            .set("label", "boot".into());
        let plan = update(&prior, &cfg);
        assert!(plan.requires_replace.is_empty(), "{:?}", paths(&plan));
    }

    #[test]
    fn requires_replace_block_changes_only_for_configured_content() {
        let prior = applied();
        let mut cfg = config();
        cfg.get_mut("image").unwrap().set("source", "ubuntu".into());
        assert_eq!(paths(&update(&prior, &cfg)), vec!["image"]);

        // Another change makes the block's computed digest unknown; that alone must not replace.
        let mut cfg = config();
        cfg.set("note", "x".into());
        let plan = update(&prior, &cfg);
        assert_eq!(
            plan.planned.get("image").unwrap().get("digest"),
            Some(&Value::Unknown)
        );
        assert!(plan.requires_replace.is_empty(), "{:?}", paths(&plan));
    }

    #[test]
    fn unknown_planned_value_counts_as_a_replacing_change() {
        let prior = applied();
        let mut cfg = config();
        cfg.set("name", Value::Unknown);
        let plan = update(&prior, &cfg);
        assert_eq!(paths(&plan), vec!["name"]);
    }

    #[test]
    fn set_block_replacing_attribute_is_reported_at_the_set() {
        let s = Schema::new(
            Block::new().block(NestedBlock::new(
                "port",
                Nesting::Set,
                Block::new()
                    .attribute(Attribute::number("number").required().requires_replace())
                    .attribute(Attribute::string("note").optional()),
            )),
        );
        let port =
            |n: i64, note: &str| Value::object([("number", Value::int(n)), ("note", note.into())]);
        let prior = Value::object([("port", Value::Set(vec![port(80, "a")]))]);
        let run = |config: Value| {
            plan_change(
                &s,
                &PlanRequest {
                    prior: prior.clone(),
                    config: config.clone(),
                    proposed: config,
                    prior_private: vec![],
                },
            )
        };
        let changed_note = run(Value::object([("port", Value::Set(vec![port(80, "b")]))]));
        assert!(changed_note.requires_replace.is_empty());
        let changed_number = run(Value::object([("port", Value::Set(vec![port(81, "a")]))]));
        assert_eq!(paths(&changed_number), vec!["port"]);
    }

    #[test]
    fn check_planned_accepts_the_framework_plan() {
        let cfg = config();
        let plan = create(&cfg);
        assert!(check_planned(&schema(), &cfg, &plan.planned).is_empty());
        let mut changed = config();
        changed.set("note", "n".into());
        let plan = update(&applied(), &changed);
        assert!(check_planned(&schema(), &changed, &plan.planned).is_empty());
    }

    #[test]
    fn check_planned_names_an_altered_non_computed_attribute() {
        let cfg = config();
        let mut planned = create(&cfg).planned;
        planned.set("note", "sneaked in".into());
        if let Some(Value::List(rules)) = planned.get_mut("rule") {
            rules[0].set("name", "other".into());
        }
        planned.set("status", "computed values may be anything".into());
        let diags = check_planned(&schema(), &cfg, &planned);
        let at: Vec<String> = diags
            .iter()
            .map(|d| d.attribute.as_ref().unwrap().to_string())
            .collect();
        assert_eq!(at, vec!["note", "rule[0].name"]);
        assert!(diags.has_errors());
        assert!(diags.iter().all(|d| d.summary.starts_with("provider bug:")));
    }

    #[test]
    fn check_planned_catches_dropped_blocks() {
        let cfg = config();
        let mut planned = create(&cfg).planned;
        planned.set("rule", Value::List(vec![]));
        planned.set("port", Value::Set(vec![]));
        let diags = check_planned(&schema(), &cfg, &planned);
        let at: Vec<String> = diags
            .iter()
            .map(|d| d.attribute.as_ref().unwrap().to_string())
            .collect();
        assert_eq!(at, vec!["rule", "port"]);
    }

    #[test]
    fn computed_only_attributes_never_make_an_update() {
        // Presence::Computed values may drift in prior state without planning a change.
        assert_eq!(
            schema().block.find_attribute("status").unwrap().presence,
            Presence::Computed
        );
        let mut prior = applied();
        prior.set("status", "stopped".into());
        let plan = update(&prior, &config());
        assert_eq!(plan.planned.get_str("status"), Some("stopped"));
    }
}
