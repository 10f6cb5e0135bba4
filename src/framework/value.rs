//! Terraform values with unknown and null made explicit. A `Value` is the tree a resource reads
//! its configuration from and builds its state with; the wire codec (tfplugin5) turns it into
//! msgpack or JSON against a `Type`.

use std::collections::BTreeMap;
use std::fmt;

use super::path::{AttributePath, PathStep};
use super::types::Type;

/// A cty number. Terraform sends integers that fit in 64 bits as integers, other exact values as
/// floats, and anything else as a decimal string; all three are kept so a value round-trips.
#[derive(Clone, Debug)]
pub enum Number {
    /// An integer that fits in 64 bits, as Terraform sends whole numbers.
    Int(i64),
    /// A float that holds the value exactly.
    Float(f64),
    /// A decimal that neither an `i64` nor an `f64` holds exactly, as Terraform wrote it.
    Decimal(String),
}

impl Number {
    /// The number as an `f64`, rounded if it is a decimal; `None` if the decimal does not parse.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Number::Int(i) => Some(*i as f64),
            Number::Float(f) => Some(*f),
            Number::Decimal(s) => s.parse().ok(),
        }
    }

    /// The number as an `i64` when it is whole and exact (a float only below 9e15, where it is exact); `None` otherwise.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(*i),
            Number::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            Number::Float(_) => None,
            Number::Decimal(s) => s.parse().ok(),
        }
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (Number::Decimal(a), Number::Decimal(b)) => a == b,
            (Number::Decimal(_), _) | (_, Number::Decimal(_)) => false,
            (a, b) => a.as_f64() == b.as_f64(),
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write!(f, "{x}"),
            Number::Decimal(s) => f.write_str(s),
        }
    }
}

/// A Terraform value. Collections hold values of one type; objects and tuples are structural.
/// Sets keep their elements in a vector (order carries no meaning).
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    /// Absent: not set in configuration, or no state.
    #[default]
    Null,
    /// Known only after apply (msgpack extension 0 on the wire).
    Unknown,
    /// A `bool`.
    Bool(bool),
    /// A `number`.
    Number(Number),
    /// A `string`.
    String(String),
    /// A `list`, elements in order.
    List(Vec<Value>),
    /// A `set`; see the type's note on order.
    Set(Vec<Value>),
    /// A `tuple`, one value per position.
    Tuple(Vec<Value>),
    /// A `map`, by key.
    Map(BTreeMap<String, Value>),
    /// An `object`, by attribute name; every attribute of the type is present, maybe null.
    Object(BTreeMap<String, Value>),
    /// The value of a `dynamic` attribute together with the concrete type it was sent with.
    Dynamic(Box<Type>, Box<Value>),
}

impl Value {
    /// A known string.
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// A known whole number.
    pub fn int(i: i64) -> Value {
        Value::Number(Number::Int(i))
    }

    /// A known number; an integer when `f` is whole and exact, as Terraform would send it.
    pub fn float(f: f64) -> Value {
        if f.fract() == 0.0 && f.abs() < 9.0e15 {
            Value::Number(Number::Int(f as i64))
        } else {
            Value::Number(Number::Float(f))
        }
    }

    /// Builds an object from `(name, value)` pairs.
    pub fn object<I, K>(attributes: I) -> Value
    where
        I: IntoIterator<Item = (K, Value)>,
        K: Into<String>,
    {
        Value::Object(attributes.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// A string, or null when `None`.
    pub fn opt_string(s: Option<impl Into<String>>) -> Value {
        s.map_or(Value::Null, |s| Value::String(s.into()))
    }

    /// Whether the value is null, looking through a dynamic wrapper.
    pub fn is_null(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Dynamic(_, v) => v.is_null(),
            _ => false,
        }
    }

    /// Whether the value itself is unknown; `is_wholly_known` looks inside it too.
    pub fn is_unknown(&self) -> bool {
        match self {
            Value::Unknown => true,
            Value::Dynamic(_, v) => v.is_unknown(),
            _ => false,
        }
    }

    /// True when the value is known all the way down (no unknown anywhere inside).
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => {
                v.iter().all(Value::is_wholly_known)
            }
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_wholly_known),
            Value::Dynamic(_, v) => v.is_wholly_known(),
            _ => true,
        }
    }

    /// The value behind a dynamic wrapper, or the value itself.
    pub fn unwrap_dynamic(&self) -> &Value {
        match self {
            Value::Dynamic(_, v) => v.unwrap_dynamic(),
            v => v,
        }
    }

    /// The text of a known string; `None` for anything else, null and unknown included.
    pub fn as_str(&self) -> Option<&str> {
        match self.unwrap_dynamic() {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// A known bool; `None` for anything else.
    pub fn as_bool(&self) -> Option<bool> {
        match self.unwrap_dynamic() {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A known number; `None` for anything else.
    pub fn as_number(&self) -> Option<&Number> {
        match self.unwrap_dynamic() {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// A known number as an `i64` when it is whole; `None` otherwise.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number().and_then(Number::as_i64)
    }

    /// A known number as an `f64`; `None` for anything else.
    pub fn as_f64(&self) -> Option<f64> {
        self.as_number().and_then(Number::as_f64)
    }

    /// The elements of a list, set or tuple.
    pub fn as_elements(&self) -> Option<&[Value]> {
        match self.unwrap_dynamic() {
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => Some(v),
            _ => None,
        }
    }

    /// The entries of a map or the attributes of an object.
    pub fn as_entries(&self) -> Option<&BTreeMap<String, Value>> {
        match self.unwrap_dynamic() {
            Value::Map(m) | Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// An object attribute or map entry; `None` on anything else or a missing key.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.as_entries().and_then(|m| m.get(name))
    }

    /// A mutable object attribute or map entry.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        match self {
            Value::Map(m) | Value::Object(m) => m.get_mut(name),
            Value::Dynamic(_, v) => v.get_mut(name),
            _ => None,
        }
    }

    /// Sets an attribute of an object (or entry of a map); does nothing on other values.
    pub fn set(&mut self, name: &str, value: Value) {
        match self {
            Value::Map(m) | Value::Object(m) => {
                m.insert(name.to_string(), value);
            }
            Value::Dynamic(_, v) => v.set(name, value),
            _ => {}
        }
    }

    /// The string attribute `name` when it is known and not null.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    /// Follows an attribute path; `None` when a step does not apply.
    pub fn at(&self, path: &AttributePath) -> Option<&Value> {
        let mut cur = self;
        for step in path.steps() {
            cur = match (step, cur.unwrap_dynamic()) {
                (PathStep::Attribute(name), Value::Object(m)) => m.get(name)?,
                (PathStep::ElementKeyString(key), Value::Map(m)) => m.get(key)?,
                (PathStep::ElementKeyInt(i), Value::List(v) | Value::Tuple(v)) => {
                    v.get(usize::try_from(*i).ok()?)?
                }
                _ => return None,
            };
        }
        Some(cur)
    }

    /// A concrete type for this value, used when a dynamic attribute is given a plain value.
    /// Lists and sets take the type of their first element (or dynamic when empty).
    pub fn infer_type(&self) -> Type {
        match self {
            Value::Null | Value::Unknown => Type::Dynamic,
            Value::Bool(_) => Type::Bool,
            Value::Number(_) => Type::Number,
            Value::String(_) => Type::String,
            Value::List(v) => Type::list(v.first().map_or(Type::Dynamic, Value::infer_type)),
            Value::Set(v) => Type::set(v.first().map_or(Type::Dynamic, Value::infer_type)),
            Value::Map(m) => Type::map(m.values().next().map_or(Type::Dynamic, Value::infer_type)),
            Value::Tuple(v) => Type::Tuple(v.iter().map(Value::infer_type).collect()),
            Value::Object(m) => {
                Type::Object(m.iter().map(|(k, v)| (k.clone(), v.infer_type())).collect())
            }
            Value::Dynamic(t, _) => (**t).clone(),
        }
    }

    /// The null value of a type in the shape Terraform expects for a whole schema block:
    /// used for responses that must be null.
    pub fn null() -> Value {
        Value::Null
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::int(i)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::float(f)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_by_value() {
        assert_eq!(Number::Int(3), Number::Float(3.0));
        assert_ne!(Number::Int(3), Number::Float(3.5));
        assert_eq!(Number::Float(2.5).as_i64(), None);
        assert_eq!(Number::Float(2.0).as_i64(), Some(2));
    }

    #[test]
    fn paths_walk_nested_values() {
        let v = Value::object([(
            "a",
            Value::List(vec![Value::object([("b", Value::string("x"))])]),
        )]);
        let p = AttributePath::root().attr("a").index(0).attr("b");
        assert_eq!(v.at(&p).and_then(Value::as_str), Some("x"));
        assert_eq!(v.at(&AttributePath::root().attr("zz")), None);
    }

    #[test]
    fn unknown_inside_is_detected() {
        let v = Value::object([("a", Value::List(vec![Value::Unknown]))]);
        assert!(!v.is_wholly_known());
        assert!(!v.is_unknown());
    }
}
