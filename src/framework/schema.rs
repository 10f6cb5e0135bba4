//! Schemas declared, not hand-coded: each attribute says whether it is required, optional,
//! computed or sensitive, whether a change forces a new resource, and whether its prior value is
//! kept in plans. The plan helpers read these flags; the wire layer turns them into tfplugin5.

use super::path::AttributePath;
use super::types::Type;
use super::value::Value;

/// A resource, data source, action or provider schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    /// Bumped when the state shape changes; older state is then upgraded.
    pub version: i64,
    pub block: Block,
}

impl Schema {
    pub fn new(block: Block) -> Schema {
        Schema { version: 0, block }
    }

    pub fn version(mut self, version: i64) -> Schema {
        self.version = version;
        self
    }

    /// The object type of a whole value of this schema.
    pub fn value_type(&self) -> Type {
        self.block.value_type()
    }
}

/// A block: attributes plus nested blocks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Block {
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<NestedBlock>,
    /// Markdown text shown in docs and editors.
    pub description: String,
    pub deprecated: bool,
}

impl Block {
    pub fn new() -> Block {
        Block::default()
    }

    pub fn description(mut self, markdown: impl Into<String>) -> Block {
        self.description = markdown.into();
        self
    }

    pub fn attribute(mut self, attribute: Attribute) -> Block {
        self.attributes.push(attribute);
        self
    }

    pub fn block(mut self, block: NestedBlock) -> Block {
        self.blocks.push(block);
        self
    }

    pub fn find_attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    pub fn find_block(&self, name: &str) -> Option<&NestedBlock> {
        self.blocks.iter().find(|b| b.type_name == name)
    }

    /// The object type of a value of this block.
    pub fn value_type(&self) -> Type {
        let mut attrs: Vec<(String, Type)> = self
            .attributes
            .iter()
            .map(|a| (a.name.clone(), a.ty.clone()))
            .collect();
        for b in &self.blocks {
            let inner = b.block.value_type();
            let t = match b.nesting {
                Nesting::Single | Nesting::Group => inner,
                Nesting::List => Type::list(inner),
                Nesting::Set => Type::set(inner),
                Nesting::Map => Type::map(inner),
            };
            attrs.push((b.type_name.clone(), t));
        }
        Type::object(attrs)
    }

    /// The value of an empty block of this schema: every attribute null and every nested block in
    /// its empty form (null for single, empty collections for list, set and map).
    pub fn empty_value(&self) -> Value {
        let mut v = Value::object(
            self.attributes
                .iter()
                .map(|a| (a.name.clone(), Value::Null)),
        );
        for b in &self.blocks {
            v.set(&b.type_name, b.empty_value());
        }
        v
    }

    /// Paths of every attribute (nested blocks included) that is marked sensitive.
    pub fn sensitive_paths(&self) -> Vec<AttributePath> {
        let mut out = Vec::new();
        self.collect(&AttributePath::root(), &mut |p, a| {
            if a.sensitive {
                out.push(p);
            }
        });
        out
    }

    /// Calls `f` for each attribute of this block and of single/group nested blocks, with its path.
    fn collect(&self, base: &AttributePath, f: &mut dyn FnMut(AttributePath, &Attribute)) {
        for a in &self.attributes {
            f(base.clone().attr(&a.name), a);
        }
        for b in &self.blocks {
            if matches!(b.nesting, Nesting::Single | Nesting::Group) {
                b.block.collect(&base.clone().attr(&b.type_name), f);
            }
        }
    }
}

/// How an attribute gets its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    Required,
    Optional,
    /// Set by the provider only.
    Computed,
    /// Set in configuration, or by the provider when the configuration leaves it null.
    OptionalComputed,
}

/// One attribute of a block.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub ty: Type,
    pub presence: Presence,
    pub sensitive: bool,
    /// A change of this attribute destroys the object and creates a new one.
    pub requires_replace: bool,
    /// A computed value that stays as it is in state across updates ("use state for unknown").
    pub keep_prior: bool,
    pub description: String,
    pub deprecated: bool,
}

impl Attribute {
    pub fn new(name: impl Into<String>, ty: Type) -> Attribute {
        Attribute {
            name: name.into(),
            ty,
            presence: Presence::Optional,
            sensitive: false,
            requires_replace: false,
            keep_prior: false,
            description: String::new(),
            deprecated: false,
        }
    }

    pub fn string(name: impl Into<String>) -> Attribute {
        Attribute::new(name, Type::String)
    }

    pub fn number(name: impl Into<String>) -> Attribute {
        Attribute::new(name, Type::Number)
    }

    pub fn bool(name: impl Into<String>) -> Attribute {
        Attribute::new(name, Type::Bool)
    }

    pub fn required(mut self) -> Attribute {
        self.presence = Presence::Required;
        self
    }

    pub fn optional(mut self) -> Attribute {
        self.presence = Presence::Optional;
        self
    }

    pub fn computed(mut self) -> Attribute {
        self.presence = Presence::Computed;
        self
    }

    pub fn optional_computed(mut self) -> Attribute {
        self.presence = Presence::OptionalComputed;
        self
    }

    pub fn sensitive(mut self) -> Attribute {
        self.sensitive = true;
        self
    }

    pub fn requires_replace(mut self) -> Attribute {
        self.requires_replace = true;
        self
    }

    pub fn keep_prior(mut self) -> Attribute {
        self.keep_prior = true;
        self
    }

    pub fn description(mut self, markdown: impl Into<String>) -> Attribute {
        self.description = markdown.into();
        self
    }

    pub fn deprecated(mut self) -> Attribute {
        self.deprecated = true;
        self
    }

    pub fn is_required(&self) -> bool {
        self.presence == Presence::Required
    }

    pub fn is_optional(&self) -> bool {
        matches!(
            self.presence,
            Presence::Optional | Presence::OptionalComputed
        )
    }

    pub fn is_computed(&self) -> bool {
        matches!(
            self.presence,
            Presence::Computed | Presence::OptionalComputed
        )
    }
}

/// How a nested block repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    Single,
    List,
    Set,
    Map,
    Group,
}

/// A nested block type, `timeouts { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct NestedBlock {
    pub type_name: String,
    pub block: Block,
    pub nesting: Nesting,
    pub min_items: i64,
    pub max_items: i64,
    /// Any change inside the block forces a new resource.
    pub requires_replace: bool,
}

impl NestedBlock {
    pub fn new(type_name: impl Into<String>, nesting: Nesting, block: Block) -> NestedBlock {
        NestedBlock {
            type_name: type_name.into(),
            block,
            nesting,
            min_items: 0,
            max_items: 0,
            requires_replace: false,
        }
    }

    pub fn single(type_name: impl Into<String>, block: Block) -> NestedBlock {
        NestedBlock::new(type_name, Nesting::Single, block)
    }

    pub fn list(type_name: impl Into<String>, block: Block) -> NestedBlock {
        NestedBlock::new(type_name, Nesting::List, block)
    }

    pub fn items(mut self, min: i64, max: i64) -> NestedBlock {
        self.min_items = min;
        self.max_items = max;
        self
    }

    pub fn requires_replace(mut self) -> NestedBlock {
        self.requires_replace = true;
        self
    }

    /// The value this block has when the configuration holds none of it.
    pub fn empty_value(&self) -> Value {
        match self.nesting {
            Nesting::Single => Value::Null,
            Nesting::Group => self.block.empty_value(),
            Nesting::List => Value::List(Vec::new()),
            Nesting::Set => Value::Set(Vec::new()),
            Nesting::Map => Value::Map(Default::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_type_includes_blocks() {
        let b = Block::new()
            .attribute(Attribute::string("id").computed())
            .block(NestedBlock::single(
                "timeouts",
                Block::new().attribute(Attribute::string("create").optional()),
            ))
            .block(NestedBlock::list(
                "rule",
                Block::new().attribute(Attribute::number("n")),
            ));
        assert_eq!(
            b.value_type(),
            Type::object([
                ("id", Type::String),
                ("timeouts", Type::object([("create", Type::String)])),
                ("rule", Type::list(Type::object([("n", Type::Number)]))),
            ])
        );
        let empty = b.empty_value();
        assert_eq!(empty.get("timeouts"), Some(&Value::Null));
        assert_eq!(empty.get("rule"), Some(&Value::List(vec![])));
    }

    #[test]
    fn sensitive_paths_reach_into_single_blocks() {
        let b = Block::new()
            .attribute(Attribute::string("api_key").sensitive())
            .block(NestedBlock::single(
                "inner",
                Block::new().attribute(Attribute::string("token").sensitive()),
            ));
        let paths: Vec<String> = b.sensitive_paths().iter().map(|p| p.to_string()).collect();
        assert_eq!(paths, vec!["api_key", "inner.token"]);
    }
}
