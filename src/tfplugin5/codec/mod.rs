//! The DynamicValue codec: turns tfplugin5 `DynamicValue` bytes (msgpack, or JSON for RawState)
//! into framework `Value`s and back, always driven by the `Type` the schema implies. It owns the
//! wire rules of cty: unknown is msgpack extension 0, null is nil, objects carry every attribute,
//! numbers travel as integer, float64 or decimal string, and a `dynamic` value travels with its
//! type JSON. Input comes from another process, so every decoder is bounded in depth and length
//! and reports malformed input as a `CodecError` with the attribute path, never as a panic.
//!
//! One file per concern: `number` (decimal texts and exactness), `msgpack_encode`,
//! `msgpack_decode` and `json` (the RawState / JSON form, parse and write). This file holds the
//! public API, the error type and the wording the error messages share.

mod json;
mod msgpack_decode;
mod msgpack_encode;
mod number;
#[cfg(test)]
mod testing;

use std::collections::BTreeMap;
use std::fmt;

use crate::framework::{AttributePath, PathStep, Type, Value};

pub use json::{decode_json, decode_state_json, encode_json};
pub use msgpack_decode::decode_msgpack;
pub use msgpack_encode::encode_msgpack;

/// Deepest nesting of arrays / maps (msgpack) or arrays / objects (JSON) a decoder follows.
/// Real schemas stay far below it; it exists so hostile input cannot exhaust the stack.
pub const MAX_DEPTH: usize = 64;

/// A value that does not fit its type, or bytes that are not a value of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodecError {
    /// Where in the value the problem is; the root for whole-document problems.
    pub path: AttributePath,
    /// What is wrong there, as a sentence fragment ("expected a string, found an integer").
    pub message: String,
}

impl CodecError {
    fn at(path: &[PathStep], message: impl Into<String>) -> CodecError {
        CodecError {
            path: AttributePath::from_steps(path.to_vec()),
            message: message.into(),
        }
    }

    fn root(message: impl Into<String>) -> CodecError {
        CodecError::at(&[], message)
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_root() {
            f.write_str(&self.message)
        } else {
            write!(f, "at {}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for CodecError {}

type Result<T> = std::result::Result<T, CodecError>;

/// How an error names what a type needs: "a string", or the type itself for structures.
fn wanted(ty: &Type) -> String {
    match ty {
        Type::String => "a string".into(),
        Type::Number => "a number".into(),
        Type::Bool => "a bool".into(),
        Type::Dynamic => "a dynamic value".into(),
        t => t.to_string(),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Unknown => "an unknown value",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::List(_) => "a list",
        Value::Set(_) => "a set",
        Value::Tuple(_) => "a tuple",
        Value::Map(_) => "a map",
        Value::Object(_) => "an object",
        Value::Dynamic(_, v) => kind_of(v),
    }
}

fn missing_message(attrs: &BTreeMap<String, Type>, given: &BTreeMap<String, Value>) -> String {
    let missing: Vec<String> = attrs
        .keys()
        .filter(|k| !given.contains_key(*k))
        .map(|k| format!("{k:?}"))
        .collect();
    format!(
        "an object with {} attributes is required ({} given); missing {}",
        attrs.len(),
        given.len(),
        missing.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tfplugin5::codec::testing::{fails, hex};

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        // 10 000 nested arrays against a dynamic list type that would accept them.
        let mut ty = Type::Dynamic;
        for _ in 0..100 {
            ty = Type::list(ty);
        }
        let mut bytes = vec![0x91u8; 10_000];
        bytes.push(0xc0);
        let e = fails(&bytes, &ty);
        assert!(e.message.contains("nested deeper"), "{e}");

        // Dynamic inside dynamic inside dynamic...: the type never runs out.
        let level = hex("92 c409 2264796e616d696322");
        let mut bytes = level.repeat(10_000);
        bytes.push(0xc0);
        let e = fails(&bytes, &Type::Dynamic);
        assert!(e.message.contains("nested deeper"), "{e}");

        let json = "[".repeat(10_000);
        let e = decode_json(json.as_bytes(), &ty).unwrap_err();
        assert!(e.message.contains("nested deeper"), "{e}");

        // The limit leaves room to spare on a stack a quarter of a default thread's, for
        // input at the limit and beyond, in every decoder and in the encoders.
        let deepest_json = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        let mut deepest_msgpack = vec![0x91u8; MAX_DEPTH];
        deepest_msgpack.push(0xc0);
        std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || {
                let e = decode_msgpack(&bytes, &Type::Dynamic).unwrap_err();
                assert!(e.message.contains("nested deeper"), "{e}");
                let v = decode_msgpack(&deepest_msgpack, &ty).unwrap();
                assert_eq!(encode_msgpack(&v, &ty).unwrap(), deepest_msgpack);
                for decode in [decode_json, decode_state_json] {
                    let v = decode(deepest_json.as_bytes(), &ty).unwrap();
                    assert_eq!(encode_json(&v, &ty).unwrap(), deepest_json.as_bytes());
                }
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn errors_display_their_path() {
        let root = CodecError::root("boom");
        assert_eq!(root.to_string(), "boom");
        let at = CodecError::at(
            &[PathStep::Attribute("a".into()), PathStep::ElementKeyInt(2)],
            "x",
        );
        assert_eq!(at.to_string(), "at a[2]: x");
    }
}
