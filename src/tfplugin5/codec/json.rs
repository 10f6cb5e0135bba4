//! The JSON form of a DynamicValue (RawState, and `DynamicValue.json`): our own small parser
//! that keeps each number's text, decoding in a strict mode and a lenient stored-state mode, and
//! the writer. JSON has no unknown.

use std::collections::BTreeMap;

use super::number::{json_float_text, number_from_f64, number_from_text, Decimal};
use super::{kind_of, missing_message, wanted, CodecError, Result, MAX_DEPTH};
use crate::framework::{Number, PathStep, Type, Value};

/// A parsed JSON document that keeps each number's text, so that decimals beyond `f64` survive
/// (serde_json's own `Value` would round them, and its `arbitrary_precision` is a crate-wide
/// switch other code must not see).
#[derive(Debug)]
enum Json<'a> {
    Null,
    Bool(bool),
    Number(&'a str),
    String(String),
    Array(Vec<Json<'a>>),
    Object(Vec<(String, Json<'a>)>),
}

struct JsonParser<'a> {
    text: &'a [u8],
    pos: usize,
}

/// Length of the JSON number (RFC 8259 grammar) starting at `start`, if there is one.
fn json_number_len(b: &[u8], start: usize) -> Option<usize> {
    let digits = |mut i: usize| {
        let from = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i > from).then_some(i)
    };
    let mut i = start;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(i)?,
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        i = digits(i + 1)?;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = digits(i)?;
    }
    Some(i - start)
}

impl<'a> JsonParser<'a> {
    fn err(&self, message: &str) -> CodecError {
        CodecError::root(format!("invalid JSON at byte {}: {message}", self.pos))
    }

    fn skip_ws(&mut self) {
        while matches!(self.text.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn literal(&mut self, word: &[u8], value: Json<'a>) -> Result<Json<'a>> {
        if self.text.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.err("unexpected character"))
        }
    }

    fn document(mut self) -> Result<Json<'a>> {
        let value = self.value(0)?;
        self.skip_ws();
        if self.pos != self.text.len() {
            return Err(self.err("unexpected data after the value"));
        }
        Ok(value)
    }

    fn value(&mut self, depth: usize) -> Result<Json<'a>> {
        self.skip_ws();
        match self.text.get(self.pos) {
            None => Err(self.err("unexpected end of input")),
            Some(b'n') => self.literal(b"null", Json::Null),
            Some(b't') => self.literal(b"true", Json::Bool(true)),
            Some(b'f') => self.literal(b"false", Json::Bool(false)),
            Some(b'"') => self.string().map(Json::String),
            Some(b'[') => {
                if depth >= MAX_DEPTH {
                    return Err(self.err(&format!("nested deeper than {MAX_DEPTH} levels")));
                }
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_ws();
                if self.text.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.skip_ws();
                    match self.text.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Json::Array(items));
                        }
                        _ => return Err(self.err("expected ',' or ']'")),
                    }
                }
            }
            Some(b'{') => {
                if depth >= MAX_DEPTH {
                    return Err(self.err(&format!("nested deeper than {MAX_DEPTH} levels")));
                }
                self.pos += 1;
                let mut members = Vec::new();
                self.skip_ws();
                if self.text.get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                    return Ok(Json::Object(members));
                }
                loop {
                    self.skip_ws();
                    if self.text.get(self.pos) != Some(&b'"') {
                        return Err(self.err("expected a string key"));
                    }
                    let key = self.string()?;
                    self.skip_ws();
                    if self.text.get(self.pos) != Some(&b':') {
                        return Err(self.err("expected ':'"));
                    }
                    self.pos += 1;
                    let value = self.value(depth + 1)?;
                    members.push((key, value));
                    self.skip_ws();
                    match self.text.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Json::Object(members));
                        }
                        _ => return Err(self.err("expected ',' or '}'")),
                    }
                }
            }
            Some(_) => {
                let len = json_number_len(self.text, self.pos)
                    .ok_or_else(|| self.err("unexpected character"))?;
                let raw = &self.text[self.pos..self.pos + len];
                let text = std::str::from_utf8(raw).map_err(|_| self.err("bad number"))?;
                self.pos += len;
                Ok(Json::Number(text))
            }
        }
    }

    /// A string token; finding its end is ours, unescaping and UTF-8 checks are serde_json's.
    fn string(&mut self) -> Result<String> {
        let start = self.pos;
        let mut i = start + 1;
        loop {
            match self.text.get(i) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => break,
                Some(b'\\') => i += 2,
                Some(_) => i += 1,
            }
        }
        let token = &self.text[start..=i];
        let s: String =
            serde_json::from_slice(token).map_err(|e| self.err(&format!("bad string: {e}")))?;
        self.pos = i + 1;
        Ok(s)
    }
}

impl Json<'_> {
    fn describe(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a bool",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }

    /// The serde_json form, for handing a dynamic value's type to `Type::from_json`.
    fn to_serde(&self) -> serde_json::Value {
        match self {
            Json::Null => serde_json::Value::Null,
            Json::Bool(b) => serde_json::Value::Bool(*b),
            Json::Number(text) => serde_json::from_str(text).unwrap_or(serde_json::Value::Null),
            Json::String(s) => serde_json::Value::String(s.clone()),
            Json::Array(items) => {
                serde_json::Value::Array(items.iter().map(Json::to_serde).collect())
            }
            Json::Object(members) => serde_json::Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_serde()))
                    .collect(),
            ),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum JsonMode {
    /// Objects must carry exactly the type's attributes.
    Strict,
    /// Stored state: absent attributes are null, attributes the schema dropped are ignored.
    State,
}

/// Decodes the JSON form of a DynamicValue. Objects must have exactly the type's attributes.
pub fn decode_json(bytes: &[u8], ty: &Type) -> Result<Value> {
    decode_json_mode(bytes, ty, JsonMode::Strict)
}

/// Decodes stored state (`RawState.json`) against the current schema type: attributes the JSON
/// lacks become null (collections too, not empty), attributes the type lacks are dropped.
pub fn decode_state_json(bytes: &[u8], ty: &Type) -> Result<Value> {
    decode_json_mode(bytes, ty, JsonMode::State)
}

fn decode_json_mode(bytes: &[u8], ty: &Type, mode: JsonMode) -> Result<Value> {
    let doc = JsonParser {
        text: bytes,
        pos: 0,
    }
    .document()?;
    let mut path = Vec::new();
    json_to_value(&doc, ty, mode, &mut path)
}

fn json_to_value(j: &Json, ty: &Type, mode: JsonMode, path: &mut Vec<PathStep>) -> Result<Value> {
    let mismatch = |path: &[PathStep], wanted: &str| {
        CodecError::at(
            path,
            format!("{wanted} is required, found {}", j.describe()),
        )
    };
    if let Json::Null = j {
        return Ok(Value::Null);
    }
    match (ty, j) {
        (Type::String, Json::String(s)) => Ok(Value::String(s.clone())),
        (Type::Bool, Json::Bool(b)) => Ok(Value::Bool(*b)),
        (Type::Number, Json::Number(text)) => number_from_text(text)
            .map(Value::Number)
            .ok_or_else(|| CodecError::at(path, format!("{text:?} is not a number"))),
        (Type::List(elem) | Type::Set(elem), Json::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(PathStep::ElementKeyInt(i as i64));
                out.push(json_to_value(item, elem, mode, path)?);
                path.pop();
            }
            Ok(if matches!(ty, Type::Set(_)) {
                Value::Set(out)
            } else {
                Value::List(out)
            })
        }
        (Type::Tuple(types), Json::Array(items)) => {
            if items.len() != types.len() {
                return Err(CodecError::at(
                    path,
                    format!(
                        "a tuple of {} elements is required ({} given)",
                        types.len(),
                        items.len()
                    ),
                ));
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, (item, t)) in items.iter().zip(types).enumerate() {
                path.push(PathStep::ElementKeyInt(i as i64));
                out.push(json_to_value(item, t, mode, path)?);
                path.pop();
            }
            Ok(Value::Tuple(out))
        }
        (Type::Map(elem), Json::Object(members)) => {
            let mut out = BTreeMap::new();
            for (key, item) in members {
                if out.contains_key(key) {
                    return Err(CodecError::at(path, format!("duplicate map key {key:?}")));
                }
                path.push(PathStep::ElementKeyString(key.clone()));
                let v = json_to_value(item, elem, mode, path)?;
                path.pop();
                out.insert(key.clone(), v);
            }
            Ok(Value::Map(out))
        }
        (Type::Object(attrs), Json::Object(members)) => {
            let mut out = BTreeMap::new();
            for (key, item) in members {
                let Some(attr_ty) = attrs.get(key) else {
                    if mode == JsonMode::State {
                        continue;
                    }
                    return Err(CodecError::at(
                        path,
                        format!("unsupported attribute {key:?}"),
                    ));
                };
                if out.contains_key(key) {
                    return Err(CodecError::at(path, format!("duplicate attribute {key:?}")));
                }
                path.push(PathStep::Attribute(key.clone()));
                let v = json_to_value(item, attr_ty, mode, path)?;
                path.pop();
                out.insert(key.clone(), v);
            }
            if out.len() != attrs.len() {
                if mode == JsonMode::Strict {
                    return Err(CodecError::at(path, missing_message(attrs, &out)));
                }
                for name in attrs.keys() {
                    out.entry(name.clone()).or_insert(Value::Null);
                }
            }
            Ok(Value::Object(out))
        }
        (Type::Dynamic, Json::Object(members)) => {
            let field = |name: &str| members.iter().find(|(k, _)| k == name).map(|(_, v)| v);
            let (Some(type_json), Some(value_json), 2) =
                (field("type"), field("value"), members.len())
            else {
                return Err(CodecError::at(
                    path,
                    "a dynamic value must be an object with exactly \"value\" and \"type\"",
                ));
            };
            let inner_ty = Type::from_json(&type_json.to_serde())
                .map_err(|e| CodecError::at(path, format!("dynamic value: {e}")))?;
            let inner = json_to_value(value_json, &inner_ty, mode, path)?;
            Ok(Value::Dynamic(Box::new(inner_ty), Box::new(inner)))
        }
        (Type::Dynamic, _) => Err(mismatch(path, "a {\"value\", \"type\"} object")),
        (t, _) => Err(mismatch(path, &wanted(t))),
    }
}

/// Encodes `value` as the JSON form of type `ty`. JSON has no unknown, so one is an error.
pub fn encode_json(value: &Value, ty: &Type) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut path = Vec::new();
    write_json(&mut out, value, ty, &mut path)?;
    Ok(out)
}

fn write_json_str(out: &mut Vec<u8>, s: &str) {
    // serde_json's escaping of a &str into a Vec cannot fail.
    if serde_json::to_writer(&mut *out, s).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

fn write_json(out: &mut Vec<u8>, value: &Value, ty: &Type, path: &mut Vec<PathStep>) -> Result<()> {
    if *ty == Type::Dynamic {
        let (inner_ty, inner) = match value {
            Value::Dynamic(t, v) => ((**t).clone(), v.as_ref()),
            v => (v.infer_type(), v),
        };
        if inner.is_unknown() {
            return Err(CodecError::at(
                path,
                "an unknown value cannot be written as JSON",
            ));
        }
        if inner.is_null() {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        if inner_ty == Type::Dynamic {
            return write_json(out, inner, &inner_ty, path);
        }
        out.extend_from_slice(b"{\"value\":");
        write_json(out, inner, &inner_ty, path)?;
        out.extend_from_slice(b",\"type\":");
        out.extend_from_slice(&inner_ty.to_json_bytes());
        out.push(b'}');
        return Ok(());
    }
    let value = value.unwrap_dynamic();
    match (value, ty) {
        (Value::Null, _) => out.extend_from_slice(b"null"),
        (Value::Unknown, _) => {
            return Err(CodecError::at(
                path,
                "an unknown value cannot be written as JSON",
            ));
        }
        (Value::String(s), Type::String) => write_json_str(out, s),
        (Value::Bool(b), Type::Bool) => {
            out.extend_from_slice(if *b { b"true" } else { b"false" });
        }
        (Value::Number(n), Type::Number) => {
            let text = match n {
                Number::Int(i) => i.to_string(),
                Number::Float(f) => match number_from_f64(*f) {
                    Some(Number::Int(i)) => i.to_string(),
                    _ => json_float_text(*f).ok_or_else(|| {
                        CodecError::at(path, format!("{f} cannot be written as JSON"))
                    })?,
                },
                Number::Decimal(text) => {
                    if json_number_len(text.as_bytes(), 0) == Some(text.len()) {
                        text.clone()
                    } else {
                        Decimal::parse(text)
                            .ok_or_else(|| {
                                CodecError::at(path, format!("{text:?} is not a decimal number"))
                            })?
                            .to_json_text()
                    }
                }
            };
            out.extend_from_slice(text.as_bytes());
        }
        (
            Value::List(items) | Value::Set(items) | Value::Tuple(items),
            Type::List(_) | Type::Set(_) | Type::Tuple(_),
        ) => {
            if let Type::Tuple(types) = ty {
                if types.len() != items.len() {
                    return Err(CodecError::at(
                        path,
                        format!(
                            "a tuple of {} elements is required ({} given)",
                            types.len(),
                            items.len()
                        ),
                    ));
                }
            }
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let item_ty = match ty {
                    Type::Tuple(types) => types.get(i),
                    Type::List(e) | Type::Set(e) => Some(e.as_ref()),
                    _ => None,
                }
                .ok_or_else(|| CodecError::at(path, "tuple element without a type"))?;
                path.push(PathStep::ElementKeyInt(i as i64));
                write_json(out, item, item_ty, path)?;
                path.pop();
            }
            out.push(b']');
        }
        (Value::Map(entries) | Value::Object(entries), Type::Map(elem)) => {
            out.push(b'{');
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_str(out, key);
                out.push(b':');
                path.push(PathStep::ElementKeyString(key.clone()));
                write_json(out, item, elem, path)?;
                path.pop();
            }
            out.push(b'}');
        }
        (Value::Object(entries) | Value::Map(entries), Type::Object(attrs)) => {
            if let Some(extra) = entries.keys().find(|k| !attrs.contains_key(*k)) {
                return Err(CodecError::at(
                    path,
                    format!("unsupported attribute {extra:?}"),
                ));
            }
            out.push(b'{');
            for (i, (name, attr_ty)) in attrs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_str(out, name);
                out.push(b':');
                path.push(PathStep::Attribute(name.clone()));
                write_json(
                    out,
                    entries.get(name).unwrap_or(&Value::Null),
                    attr_ty,
                    path,
                )?;
                path.pop();
            }
            out.push(b'}');
        }
        (v, t) => {
            return Err(CodecError::at(
                path,
                format!("{} is required, found {}", wanted(t), kind_of(v)),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tfplugin5::codec::testing::{num, obj_ty};

    #[test]
    fn json_maps_the_same_values() {
        let ty = obj_ty(&[
            ("id", Type::String),
            ("size", Type::Number),
            ("tags", Type::map(Type::String)),
            ("ips", Type::list(Type::String)),
            ("ok", Type::Bool),
            ("extra", Type::Dynamic),
        ]);
        let value = Value::object([
            ("id", Value::string("vps-1")),
            ("size", Value::int(42)),
            (
                "tags",
                Value::Map([("k".to_string(), Value::string("v"))].into()),
            ),
            ("ips", Value::List(vec![Value::string("10.0.0.1")])),
            ("ok", Value::Null),
            (
                "extra",
                Value::Dynamic(Box::new(Type::String), Box::new(Value::string("x"))),
            ),
        ]);
        let text = String::from_utf8(encode_json(&value, &ty).unwrap()).unwrap();
        assert_eq!(
            text,
            r#"{"extra":{"value":"x","type":"string"},"id":"vps-1","ips":["10.0.0.1"],"ok":null,"size":42,"tags":{"k":"v"}}"#
        );
        assert_eq!(decode_json(text.as_bytes(), &ty).unwrap(), value);
        assert_eq!(decode_state_json(text.as_bytes(), &ty).unwrap(), value);
    }

    #[test]
    fn json_numbers_keep_their_precision() {
        let n = |text: &str| decode_json(text.as_bytes(), &Type::Number).unwrap();
        assert_eq!(n("42"), Value::int(42));
        assert_eq!(n("-0"), Value::int(0));
        assert_eq!(n("1e2"), Value::int(100));
        assert_eq!(n("2.0"), Value::int(2));
        assert_eq!(n("0.5"), num(Number::Float(0.5)));
        assert_eq!(n("9223372036854775807"), Value::int(i64::MAX));
        let big = "123456789012345678901234567890.000000000000000000001";
        assert_eq!(n(big), num(Number::Decimal(big.into())));
        assert_eq!(n("0.1"), num(Number::Decimal("0.1".into())));
        assert_eq!(
            n("18446744073709551615"),
            num(Number::Decimal("18446744073709551615".into()))
        );
        for v in [
            num(Number::Float(0.1)),
            num(Number::Float(-1.25e-300)),
            num(Number::Float(6.02214076e23)),
            num(Number::Decimal(big.into())),
            Value::int(i64::MIN),
        ] {
            let bytes = encode_json(&v, &Type::Number).unwrap();
            let back = decode_json(&bytes, &Type::Number).unwrap();
            match (&v, &back) {
                (Value::Number(Number::Float(a)), Value::Number(Number::Float(b))) => {
                    assert_eq!(a.to_bits(), b.to_bits())
                }
                _ => assert_eq!(back, v),
            }
        }
        // Not JSON numbers in JSON, but a decimal string must still come out as valid JSON.
        let bytes = encode_json(&num(Number::Decimal("+.5e1".into())), &Type::Number).unwrap();
        assert_eq!(bytes, b"5");
        assert!(encode_json(&num(Number::Float(f64::INFINITY)), &Type::Number).is_err());
        assert!(decode_json(b"01", &Type::Number).is_err());
        assert!(decode_json(b"\"1\"", &Type::Number).is_err());
    }

    #[test]
    fn json_strict_and_state_modes_differ_on_shape() {
        let ty = obj_ty(&[
            ("name", Type::String),
            ("disks", Type::list(Type::String)),
            ("added_later", Type::Number),
        ]);
        let stored = br#"{"name":"a","disks":["x"],"removed":true}"#;
        let e = decode_json(stored, &ty).unwrap_err();
        assert_eq!(e.message, "unsupported attribute \"removed\"");
        let e = decode_json(br#"{"name":"a","disks":[]}"#, &ty).unwrap_err();
        assert!(
            e.message
                .starts_with("an object with 3 attributes is required (2 given)"),
            "{e}"
        );
        assert_eq!(
            decode_state_json(stored, &ty).unwrap(),
            Value::object([
                ("name", Value::string("a")),
                ("disks", Value::List(vec![Value::string("x")])),
                ("added_later", Value::Null),
            ])
        );
        assert_eq!(
            decode_state_json(br#"{"name":"a"}"#, &ty).unwrap(),
            Value::object([
                ("name", Value::string("a")),
                ("disks", Value::Null),
                ("added_later", Value::Null),
            ])
        );
        // The leniency is about attributes only: wrong kinds still fail, with the path.
        let e = decode_state_json(br#"{"name":1}"#, &ty).unwrap_err();
        assert_eq!(
            e.to_string(),
            "at name: a string is required, found a number"
        );
    }

    #[test]
    fn json_syntax_and_unknowns() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\" 1}",
            "nul",
            "\"abc",
            "[1] x",
            "{\"a\":1,}",
            "\"\\u12\"",
            "\"\u{1}\"",
        ] {
            assert!(
                decode_json(bad.as_bytes(), &Type::list(Type::Number)).is_err(),
                "{bad:?}"
            );
        }
        assert_eq!(
            decode_json(b" \"a\\u00e9\\n\" ", &Type::String).unwrap(),
            Value::string("a\u{e9}\n")
        );
        let e = encode_json(
            &Value::object([("a", Value::Unknown)]),
            &obj_ty(&[("a", Type::String)]),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "at a: an unknown value cannot be written as JSON"
        );
        let e = decode_json(br#"{"value":1}"#, &Type::Dynamic).unwrap_err();
        assert!(e.message.contains("\"value\" and \"type\""), "{e}");
    }
}
