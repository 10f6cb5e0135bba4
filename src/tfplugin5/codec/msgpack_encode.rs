//! msgpack encoding of a `Value` of a given `Type`, byte for byte as cty writes it: integers in
//! their smallest form, integral floats as integers, decimals beyond `f64` as strings, objects
//! with every attribute in name order, `dynamic` as `[type JSON, value]`.

use std::convert::Infallible;

use rmp::encode::{ByteBuf, ValueWriteError};

use super::number::{number_from_f64, Decimal};
use super::{kind_of, wanted, CodecError, Result};
use crate::framework::{Number, PathStep, Type, Value};

/// Writing into a `ByteBuf` cannot fail; these discharge rmp's `Result`s by proving it.
fn infallible<T>(r: std::result::Result<T, ValueWriteError<Infallible>>) {
    match r {
        Ok(_) => {}
        Err(ValueWriteError::InvalidMarkerWrite(e) | ValueWriteError::InvalidDataWrite(e)) => {
            match e {}
        }
    }
}

fn infallible_plain(r: std::result::Result<(), Infallible>) {
    match r {
        Ok(()) => {}
        Err(e) => match e {},
    }
}

/// Encodes `value` as msgpack for a DynamicValue of type `ty`.
pub fn encode_msgpack(value: &Value, ty: &Type) -> Result<Vec<u8>> {
    let mut enc = MsgpackEncoder {
        buf: ByteBuf::new(),
        path: Vec::new(),
    };
    enc.value(value, ty)?;
    Ok(enc.buf.into_vec())
}

struct MsgpackEncoder {
    buf: ByteBuf,
    path: Vec<PathStep>,
}

impl MsgpackEncoder {
    fn err(&self, message: impl Into<String>) -> CodecError {
        CodecError::at(&self.path, message)
    }

    fn len_u32(&self, len: usize) -> Result<u32> {
        u32::try_from(len).map_err(|_| self.err(format!("{len} elements exceed msgpack's limit")))
    }

    fn unknown(&mut self) {
        infallible(rmp::encode::write_ext_meta(&mut self.buf, 1, 0));
        self.buf.as_mut_vec().push(0);
    }

    fn value(&mut self, value: &Value, ty: &Type) -> Result<()> {
        if *ty == Type::Dynamic {
            return self.dynamic(value);
        }
        // A dynamic wrapper where the schema has a concrete type: its content counts.
        let value = value.unwrap_dynamic();
        match (value, ty) {
            (Value::Null, _) => infallible_plain(rmp::encode::write_nil(&mut self.buf)),
            (Value::Unknown, _) => self.unknown(),
            (Value::String(s), Type::String) => {
                infallible(rmp::encode::write_str(&mut self.buf, s));
            }
            (Value::Bool(b), Type::Bool) => {
                infallible_plain(rmp::encode::write_bool(&mut self.buf, *b));
            }
            (Value::Number(n), Type::Number) => self.number(n)?,
            (
                Value::List(items) | Value::Set(items) | Value::Tuple(items),
                Type::List(elem) | Type::Set(elem),
            ) => {
                let len = self.len_u32(items.len())?;
                infallible(rmp::encode::write_array_len(&mut self.buf, len));
                for (i, item) in items.iter().enumerate() {
                    self.path.push(PathStep::ElementKeyInt(i as i64));
                    self.value(item, elem)?;
                    self.path.pop();
                }
            }
            (Value::List(items) | Value::Set(items) | Value::Tuple(items), Type::Tuple(types)) => {
                if items.len() != types.len() {
                    return Err(self.err(format!(
                        "a tuple of {} elements is required ({} given)",
                        types.len(),
                        items.len()
                    )));
                }
                let len = self.len_u32(items.len())?;
                infallible(rmp::encode::write_array_len(&mut self.buf, len));
                for (i, (item, t)) in items.iter().zip(types).enumerate() {
                    self.path.push(PathStep::ElementKeyInt(i as i64));
                    self.value(item, t)?;
                    self.path.pop();
                }
            }
            (Value::Map(entries) | Value::Object(entries), Type::Map(elem)) => {
                let len = self.len_u32(entries.len())?;
                infallible(rmp::encode::write_map_len(&mut self.buf, len));
                for (key, item) in entries {
                    infallible(rmp::encode::write_str(&mut self.buf, key));
                    self.path.push(PathStep::ElementKeyString(key.clone()));
                    self.value(item, elem)?;
                    self.path.pop();
                }
            }
            (Value::Object(entries) | Value::Map(entries), Type::Object(attrs)) => {
                if let Some(extra) = entries.keys().find(|k| !attrs.contains_key(*k)) {
                    return Err(self.err(format!("unsupported attribute {extra:?}")));
                }
                let len = self.len_u32(attrs.len())?;
                infallible(rmp::encode::write_map_len(&mut self.buf, len));
                for (name, attr_ty) in attrs {
                    infallible(rmp::encode::write_str(&mut self.buf, name));
                    self.path.push(PathStep::Attribute(name.clone()));
                    self.value(entries.get(name).unwrap_or(&Value::Null), attr_ty)?;
                    self.path.pop();
                }
            }
            (v, t) => {
                return Err(self.err(format!("{} is required, found {}", wanted(t), kind_of(v))));
            }
        }
        Ok(())
    }

    fn number(&mut self, n: &Number) -> Result<()> {
        match n {
            Number::Int(i) => infallible(rmp::encode::write_sint(&mut self.buf, *i)),
            Number::Float(f) => match number_from_f64(*f) {
                Some(Number::Int(i)) => infallible(rmp::encode::write_sint(&mut self.buf, i)),
                Some(_) => infallible(rmp::encode::write_f64(&mut self.buf, *f)),
                None => return Err(self.err("NaN is not a number Terraform accepts")),
            },
            Number::Decimal(text) => {
                if Decimal::parse(text).is_none() {
                    return Err(self.err(format!("{text:?} is not a decimal number")));
                }
                infallible(rmp::encode::write_str(&mut self.buf, text));
            }
        }
        Ok(())
    }

    /// A `dynamic` slot: `[bin(type JSON), value]`; null and unknown go bare, as cty writes them.
    fn dynamic(&mut self, value: &Value) -> Result<()> {
        let (ty, inner) = match value {
            Value::Dynamic(t, v) => ((**t).clone(), v.as_ref()),
            v => (v.infer_type(), v),
        };
        if inner.is_null() {
            infallible_plain(rmp::encode::write_nil(&mut self.buf));
            return Ok(());
        }
        if inner.is_unknown() {
            self.unknown();
            return Ok(());
        }
        if ty == Type::Dynamic {
            return self.dynamic(inner);
        }
        infallible(rmp::encode::write_array_len(&mut self.buf, 2));
        infallible(rmp::encode::write_bin(&mut self.buf, &ty.to_json_bytes()));
        self.value(inner, &ty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tfplugin5::codec::testing::{decodes, fails, hex, num, obj_ty, to_hex};
    use crate::tfplugin5::codec::{decode_msgpack, encode_json};

    #[track_caller]
    fn golden(value: Value, ty: &Type, bytes: &str) {
        let want = hex(bytes);
        let got = encode_msgpack(&value, ty).unwrap();
        assert_eq!(to_hex(&got), to_hex(&want), "encoding {value:?} as {ty}");
        assert_eq!(
            decode_msgpack(&want, ty).unwrap(),
            value,
            "decoding {bytes}"
        );
    }

    #[test]
    fn null_and_unknown_for_every_type() {
        for ty in [
            Type::String,
            Type::Number,
            Type::Bool,
            Type::Dynamic,
            Type::list(Type::String),
            Type::map(Type::Number),
            obj_ty(&[("a", Type::String)]),
        ] {
            golden(Value::Null, &ty, "c0");
            golden(Value::Unknown, &ty, "d4 00 00");
        }
    }

    #[test]
    fn strings() {
        golden(Value::string("hello"), &Type::String, "a5 68656c6c6f");
        golden(Value::string(""), &Type::String, "a0");
        let long = "x".repeat(40);
        golden(
            Value::string(long.clone()),
            &Type::String,
            &format!("d9 28 {}", "78".repeat(40)),
        );
        golden(
            Value::string("é"),
            &Type::String,
            "a2 c3a9", // UTF-8 bytes, length in bytes
        );
    }

    #[test]
    fn integers_use_the_smallest_form() {
        golden(Value::int(1), &Type::Number, "01");
        golden(Value::int(127), &Type::Number, "7f");
        golden(Value::int(200), &Type::Number, "cc c8");
        golden(Value::int(1000), &Type::Number, "cd 03e8");
        golden(Value::int(70000), &Type::Number, "ce 00011170");
        golden(Value::int(1 << 40), &Type::Number, "cf 0000010000000000");
        golden(Value::int(-1), &Type::Number, "ff");
        golden(Value::int(-32), &Type::Number, "e0");
        golden(Value::int(-33), &Type::Number, "d0 df");
        golden(Value::int(-200), &Type::Number, "d1 ff38");
        golden(Value::int(-100_000), &Type::Number, "d2 fffe7960");
        golden(Value::int(i64::MIN), &Type::Number, "d3 8000000000000000");
    }

    #[test]
    fn floats() {
        golden(
            num(Number::Float(1.5)),
            &Type::Number,
            "cb 3ff8000000000000",
        );
        golden(
            num(Number::Float(f64::INFINITY)),
            &Type::Number,
            "cb 7ff0000000000000",
        );
        golden(
            num(Number::Float(f64::NEG_INFINITY)),
            &Type::Number,
            "cb fff0000000000000",
        );
        // An integral float goes as an integer, as cty writes it.
        assert_eq!(
            to_hex(&encode_msgpack(&num(Number::Float(2.0)), &Type::Number).unwrap()),
            "02"
        );
        assert_eq!(
            decodes("ca 3fc00000", &Type::Number),
            num(Number::Float(1.5))
        );
        assert_eq!(decodes("cb 4000000000000000", &Type::Number), Value::int(2));
        assert!(encode_msgpack(&num(Number::Float(f64::NAN)), &Type::Number).is_err());
        assert!(decode_msgpack(&hex("cb 7ff8000000000000"), &Type::Number).is_err());
    }

    #[test]
    fn decimal_strings() {
        // 0.8 is no f64; cty sends it as the string "0.8" and expects the same back.
        golden(
            num(Number::Decimal("0.8".into())),
            &Type::Number,
            "a3 302e38",
        );
        let nines = "9".repeat(100);
        golden(
            num(Number::Decimal(nines.clone())),
            &Type::Number,
            &format!("d9 64 {}", "39".repeat(100)),
        );
        // Strings holding exact integers or floats read as such.
        assert_eq!(decodes("a2 3432", &Type::Number), Value::int(42));
        assert_eq!(decodes("a3 302e35", &Type::Number), num(Number::Float(0.5)));
        assert_eq!(decodes("a3 316532", &Type::Number), Value::int(100)); // "1e2"
        let e = fails(&hex("a3 616263"), &Type::Number);
        assert!(e.message.contains("not a decimal number"), "{e}");
        assert!(encode_msgpack(&num(Number::Decimal("1.2.3".into())), &Type::Number).is_err());
    }

    #[test]
    fn bools() {
        golden(Value::Bool(true), &Type::Bool, "c3");
        golden(Value::Bool(false), &Type::Bool, "c2");
    }

    #[test]
    fn collections() {
        let hello = || vec![Value::string("hello")];
        golden(
            Value::List(hello()),
            &Type::list(Type::String),
            "91 a568656c6c6f",
        );
        golden(
            Value::Set(hello()),
            &Type::set(Type::String),
            "91 a568656c6c6f",
        );
        golden(Value::List(vec![]), &Type::list(Type::String), "90");
        golden(
            Value::List(vec![Value::Unknown, Value::Null]),
            &Type::list(Type::String),
            "92 d40000 c0",
        );
        let map = Value::Map(
            [("b", "x"), ("a", "y")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), Value::string(v)))
                .collect(),
        );
        golden(map, &Type::map(Type::String), "82 a161 a179 a162 a178");
        golden(
            Value::Tuple(vec![Value::string("a"), Value::Bool(true)]),
            &Type::Tuple(vec![Type::String, Type::Bool]),
            "92 a161 c3",
        );
    }

    #[test]
    fn objects_carry_every_attribute_sorted() {
        let ty = obj_ty(&[("b", Type::String), ("a", Type::String)]);
        let bytes = encode_msgpack(&Value::object([("a", Value::string("x"))]), &ty).unwrap();
        assert_eq!(to_hex(&bytes), "82a161a178a162c0");
        golden(
            Value::object([("a", Value::string("x")), ("b", Value::Null)]),
            &ty,
            "82 a161 a178 a162 c0",
        );
        golden(
            Value::object([("greeting", Value::Unknown)]),
            &obj_ty(&[("greeting", Type::String)]),
            "81 a8 6772656574696e67 d40000",
        );
        let list_of_obj = Type::list(obj_ty(&[("id", Type::Number)]));
        golden(
            Value::List(vec![Value::object([("id", Value::int(1))])]),
            &list_of_obj,
            "91 81 a26964 01",
        );
        // A resource with a LIST block and no blocks given: an empty array, never nil.
        let with_block = obj_ty(&[("disk", list_of_obj.clone())]);
        golden(
            Value::object([("disk", Value::List(vec![]))]),
            &with_block,
            "81 a4 6469736b 90",
        );
        golden(
            Value::object(Vec::<(String, Value)>::new()),
            &obj_ty(&[]),
            "80",
        );
    }

    #[test]
    fn dynamic_values_carry_their_type() {
        golden(
            Value::Dynamic(Box::new(Type::String), Box::new(Value::string("hello"))),
            &Type::Dynamic,
            "92 c408 22737472696e6722 a568656c6c6f",
        );
        golden(
            Value::Dynamic(
                Box::new(Type::list(Type::String)),
                Box::new(Value::List(vec![Value::string("hello")])),
            ),
            &Type::Dynamic,
            "92 c411 5b226c697374222c22737472696e67225d 91 a568656c6c6f",
        );
        // A plain value in a dynamic slot takes its inferred type.
        assert_eq!(
            to_hex(&encode_msgpack(&Value::Bool(true), &Type::Dynamic).unwrap()),
            "92c40622626f6f6c22c3"
        );
        // Null and unknown dynamics go bare, whatever type they were wrapped with.
        let typed_null = Value::Dynamic(Box::new(Type::String), Box::new(Value::Null));
        assert_eq!(
            to_hex(&encode_msgpack(&typed_null, &Type::Dynamic).unwrap()),
            "c0"
        );
        golden(
            Value::object([("a", Value::Null)]),
            &obj_ty(&[("a", Type::Dynamic)]),
            "81 a161 c0",
        );
        // terraform-plugin-go writes a typed null as [type, nil]; we read it.
        assert_eq!(
            decodes("92 c408 22737472696e6722 c0", &Type::Dynamic),
            typed_null
        );
        // A list of dynamic elements: each element carries its own type.
        assert_eq!(
            decodes(
                "91 92c40822737472696e6722 a568656c6c6f",
                &Type::list(Type::Dynamic)
            ),
            Value::List(vec![Value::Dynamic(
                Box::new(Type::String),
                Box::new(Value::string("hello"))
            )])
        );
        let e = fails(&hex("93 c0 c0 c0"), &Type::Dynamic);
        assert!(e.message.contains("[type, value]"), "{e}");
        let e = fails(&hex("92 a3 626164 c0"), &Type::Dynamic);
        assert!(e.message.contains("dynamic value"), "{e}");
    }

    #[test]
    fn wrappers_and_sequence_kinds_follow_the_type() {
        // A dynamic wrapper under a concrete type writes its content.
        let wrapped = Value::Dynamic(Box::new(Type::String), Box::new(Value::string("x")));
        assert_eq!(
            to_hex(&encode_msgpack(&wrapped, &Type::String).unwrap()),
            "a178"
        );
        assert_eq!(encode_json(&wrapped, &Type::String).unwrap(), b"\"x\"");
        // Any sequence value fits a list, set or tuple type; decoding gives the type's kind.
        let items = Value::List(vec![Value::string("a")]);
        let bytes = encode_msgpack(&items, &Type::set(Type::String)).unwrap();
        assert_eq!(
            decode_msgpack(&bytes, &Type::set(Type::String)).unwrap(),
            Value::Set(vec![Value::string("a")])
        );
        let e = encode_msgpack(
            &Value::Dynamic(Box::new(Type::Number), Box::new(Value::string("x"))),
            &Type::Dynamic,
        )
        .unwrap_err();
        assert_eq!(e.message, "a number is required, found a string");
    }
}
