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
    /// The attributes and nested blocks at the top level.
    pub block: Block,
}

impl Schema {
    /// A version-0 schema of `block`.
    pub fn new(block: Block) -> Schema {
        Schema { version: 0, block }
    }

    /// The same schema at state version `version`.
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
    /// The attributes, in the order they are declared.
    pub attributes: Vec<Attribute>,
    /// The nested block types, `timeouts` for instance.
    pub blocks: Vec<NestedBlock>,
    /// Markdown text shown in docs and editors.
    pub description: String,
    /// Whether Terraform warns that the block is deprecated when it is used.
    pub deprecated: bool,
}

impl Block {
    /// An empty block; the builder methods add to it.
    pub fn new() -> Block {
        Block::default()
    }

    /// Sets the Markdown description.
    pub fn description(mut self, markdown: impl Into<String>) -> Block {
        self.description = markdown.into();
        self
    }

    /// Adds an attribute.
    pub fn attribute(mut self, attribute: Attribute) -> Block {
        self.attributes.push(attribute);
        self
    }

    /// Adds a nested block type.
    pub fn block(mut self, block: NestedBlock) -> Block {
        self.blocks.push(block);
        self
    }

    /// The attribute called `name`, if the block has one.
    pub fn find_attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The nested block type called `name`, if the block has one.
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
    /// Must be set in configuration.
    Required,
    /// May be set in configuration; null when it is not, and the provider leaves it so.
    Optional,
    /// Set by the provider only.
    Computed,
    /// Set in configuration, or by the provider when the configuration leaves it null.
    OptionalComputed,
}

/// One attribute of a block.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    /// The attribute name, snake_case as users write it.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Who sets it: configuration, the provider, or either.
    pub presence: Presence,
    /// Terraform hides the value in plan output; it is still stored in state.
    pub sensitive: bool,
    /// A change of this attribute destroys the object and creates a new one.
    pub requires_replace: bool,
    /// A computed value that stays as it is in state across updates ("use state for unknown").
    pub keep_prior: bool,
    /// Markdown text shown in docs and editors.
    pub description: String,
    /// Terraform warns when a configuration sets it.
    pub deprecated: bool,
}

impl Attribute {
    /// An optional, non-sensitive attribute `name` of type `ty`; the builder methods change that.
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

    /// An optional `string` attribute.
    pub fn string(name: impl Into<String>) -> Attribute {
        Attribute::new(name, Type::String)
    }

    /// An optional `number` attribute.
    pub fn number(name: impl Into<String>) -> Attribute {
        Attribute::new(name, Type::Number)
    }

    /// An optional `bool` attribute.
    pub fn bool(name: impl Into<String>) -> Attribute {
        Attribute::new(name, Type::Bool)
    }

    /// Makes the attribute required.
    pub fn required(mut self) -> Attribute {
        self.presence = Presence::Required;
        self
    }

    /// Makes the attribute optional (the default).
    pub fn optional(mut self) -> Attribute {
        self.presence = Presence::Optional;
        self
    }

    /// Makes the attribute set by the provider only.
    pub fn computed(mut self) -> Attribute {
        self.presence = Presence::Computed;
        self
    }

    /// Makes the attribute settable by configuration, filled in by the provider when null.
    pub fn optional_computed(mut self) -> Attribute {
        self.presence = Presence::OptionalComputed;
        self
    }

    /// Marks the value sensitive, hidden in plan output.
    pub fn sensitive(mut self) -> Attribute {
        self.sensitive = true;
        self
    }

    /// Makes a change of the value replace the object.
    pub fn requires_replace(mut self) -> Attribute {
        self.requires_replace = true;
        self
    }

    /// Keeps the prior state's value in plans instead of marking it unknown ("use state for
    /// unknown").
    pub fn keep_prior(mut self) -> Attribute {
        self.keep_prior = true;
        self
    }

    /// Sets the Markdown description.
    pub fn description(mut self, markdown: impl Into<String>) -> Attribute {
        self.description = markdown.into();
        self
    }

    /// Marks the attribute deprecated.
    pub fn deprecated(mut self) -> Attribute {
        self.deprecated = true;
        self
    }

    /// Whether configuration must set it.
    pub fn is_required(&self) -> bool {
        self.presence == Presence::Required
    }

    /// Whether configuration may set it (optional, or optional and computed).
    pub fn is_optional(&self) -> bool {
        matches!(
            self.presence,
            Presence::Optional | Presence::OptionalComputed
        )
    }

    /// Whether the provider may set it (computed, or optional and computed).
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
    /// At most one block; its value is an object, or null when absent.
    Single,
    /// Any number of blocks, in order; a list of objects.
    List,
    /// Any number of blocks, order ignored; a set of objects.
    Set,
    /// Blocks with a label each; a map of objects by label.
    Map,
    /// Exactly one block, its attributes null when the configuration leaves it out; never null.
    Group,
}

/// A nested block type, `timeouts { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct NestedBlock {
    /// The block's name as written in configuration, `timeouts` for instance.
    pub type_name: String,
    /// What the block holds.
    pub block: Block,
    /// How it repeats.
    pub nesting: Nesting,
    /// The fewest blocks a configuration must write; 0 for no limit.
    pub min_items: i64,
    /// The most blocks a configuration may write; 0 for no limit.
    pub max_items: i64,
    /// Any change inside the block forces a new resource.
    pub requires_replace: bool,
}

impl NestedBlock {
    /// A nested block type called `type_name`, with no item limits.
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

    /// A block written at most once.
    pub fn single(type_name: impl Into<String>, block: Block) -> NestedBlock {
        NestedBlock::new(type_name, Nesting::Single, block)
    }

    /// A block written any number of times, in order.
    pub fn list(type_name: impl Into<String>, block: Block) -> NestedBlock {
        NestedBlock::new(type_name, Nesting::List, block)
    }

    /// Sets the fewest and most blocks a configuration may write; 0 means no limit.
    pub fn items(mut self, min: i64, max: i64) -> NestedBlock {
        self.min_items = min;
        self.max_items = max;
        self
    }

    /// Makes any change inside the block replace the object.
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
