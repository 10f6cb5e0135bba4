//! msgpack decoding against a `Type`: every extension reads as unknown, the bytes must hold
//! exactly one value, nesting is bounded by `MAX_DEPTH`, and a declared length the remaining
//! bytes cannot hold fails before anything is allocated for it.

use std::collections::BTreeMap;

use rmp::Marker;

use super::number::{number_from_f64, number_from_text, number_from_u64};
use super::{missing_message, wanted, CodecError, Result, MAX_DEPTH};
use crate::framework::{Number, PathStep, Type, Value};

/// Decodes msgpack bytes of a DynamicValue of type `ty`. Every extension type reads as unknown
/// (refinements of type 12 are dropped). The bytes must hold exactly one value.
pub fn decode_msgpack(bytes: &[u8], ty: &Type) -> Result<Value> {
    let mut dec = MsgpackDecoder {
        buf: bytes,
        pos: 0,
        path: Vec::new(),
    };
    let value = dec.value(ty, 0)?;
    if dec.pos != bytes.len() {
        return Err(CodecError::root(format!(
            "{} unexpected bytes after the value",
            bytes.len() - dec.pos
        )));
    }
    Ok(value)
}

struct MsgpackDecoder<'a> {
    buf: &'a [u8],
    pos: usize,
    path: Vec<PathStep>,
}

fn describe(m: Marker) -> &'static str {
    match m {
        Marker::Null => "null",
        Marker::True | Marker::False => "a bool",
        Marker::FixPos(_)
        | Marker::FixNeg(_)
        | Marker::U8
        | Marker::U16
        | Marker::U32
        | Marker::U64
        | Marker::I8
        | Marker::I16
        | Marker::I32
        | Marker::I64 => "an integer",
        Marker::F32 | Marker::F64 => "a float",
        Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => "a string",
        Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => "binary data",
        Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => "an array",
        Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => "a map",
        Marker::FixExt1
        | Marker::FixExt2
        | Marker::FixExt4
        | Marker::FixExt8
        | Marker::FixExt16
        | Marker::Ext8
        | Marker::Ext16
        | Marker::Ext32 => "an extension",
        Marker::Reserved => "the reserved byte 0xc1",
    }
}

impl<'a> MsgpackDecoder<'a> {
    fn err(&self, message: impl Into<String>) -> CodecError {
        CodecError::at(&self.path, message)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let remaining = self.buf.len() - self.pos;
        if n > remaining {
            return Err(self.err(format!(
                "unexpected end of input: {n} bytes needed, {remaining} left"
            )));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Refuses a declared count that the remaining bytes cannot hold (each item takes at least
    /// `min_item_bytes`), before anything is allocated for it.
    fn check_count(&self, count: usize, min_item_bytes: usize) -> Result<()> {
        let remaining = self.buf.len() - self.pos;
        match count.checked_mul(min_item_bytes) {
            Some(needed) if needed <= remaining => Ok(()),
            _ => Err(self.err(format!(
                "declared length {count} exceeds the {remaining} bytes left"
            ))),
        }
    }

    fn str_len(&mut self, m: Marker) -> Result<Option<usize>> {
        Ok(Some(match m {
            Marker::FixStr(n) => usize::from(n),
            Marker::Str8 => usize::from(self.u8()?),
            Marker::Str16 => usize::from(self.u16()?),
            Marker::Str32 => self.u32()? as usize,
            _ => return Ok(None),
        }))
    }

    fn bin_len(&mut self, m: Marker) -> Result<Option<usize>> {
        Ok(Some(match m {
            Marker::Bin8 => usize::from(self.u8()?),
            Marker::Bin16 => usize::from(self.u16()?),
            Marker::Bin32 => self.u32()? as usize,
            _ => return Ok(None),
        }))
    }

    fn array_len(&mut self, m: Marker) -> Result<Option<usize>> {
        let n = match m {
            Marker::FixArray(n) => usize::from(n),
            Marker::Array16 => usize::from(self.u16()?),
            Marker::Array32 => self.u32()? as usize,
            _ => return Ok(None),
        };
        self.check_count(n, 1)?;
        Ok(Some(n))
    }

    fn map_len(&mut self, m: Marker) -> Result<Option<usize>> {
        let n = match m {
            Marker::FixMap(n) => usize::from(n),
            Marker::Map16 => usize::from(self.u16()?),
            Marker::Map32 => self.u32()? as usize,
            _ => return Ok(None),
        };
        self.check_count(n, 2)?;
        Ok(Some(n))
    }

    /// Consumes an extension's type byte and payload, whatever the type.
    fn skip_ext(&mut self, m: Marker) -> Result<bool> {
        let len = match m {
            Marker::FixExt1 => 1,
            Marker::FixExt2 => 2,
            Marker::FixExt4 => 4,
            Marker::FixExt8 => 8,
            Marker::FixExt16 => 16,
            Marker::Ext8 => usize::from(self.u8()?),
            Marker::Ext16 => usize::from(self.u16()?),
            Marker::Ext32 => self.u32()? as usize,
            _ => return Ok(false),
        };
        self.take(1)?;
        self.take(len)?;
        Ok(true)
    }

    fn text(&mut self, len: usize) -> Result<&'a str> {
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map_err(|_| self.err("string is not valid UTF-8"))
    }

    fn mismatch(&self, wanted: &str, found: Marker) -> CodecError {
        self.err(format!("{wanted} is required, found {}", describe(found)))
    }

    /// Dispatches on the type; the structural cases live in their own functions so that the
    /// frame repeated at each nesting level stays small (debug builds included).
    fn value(&mut self, ty: &Type, depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH {
            return Err(self.too_deep());
        }
        let marker = Marker::from_u8(self.u8()?);
        if marker == Marker::Null {
            return Ok(Value::Null);
        }
        if self.skip_ext(marker)? {
            return Ok(Value::Unknown);
        }
        match ty {
            Type::String => self.string_value(marker),
            Type::Bool => match marker {
                Marker::True => Ok(Value::Bool(true)),
                Marker::False => Ok(Value::Bool(false)),
                m => Err(self.mismatch("a bool", m)),
            },
            Type::Number => self.number(marker).map(Value::Number),
            Type::List(elem) => self.sequence(marker, ty, elem, depth).map(Value::List),
            Type::Set(elem) => self.sequence(marker, ty, elem, depth).map(Value::Set),
            Type::Tuple(types) => self.tuple(marker, ty, types, depth),
            Type::Map(elem) => self.map(marker, ty, elem, depth),
            Type::Object(attrs) => self.object(marker, ty, attrs, depth),
            Type::Dynamic => self.dynamic(marker, depth),
        }
    }

    #[cold]
    #[inline(never)]
    fn too_deep(&self) -> CodecError {
        self.err(format!("value nested deeper than {MAX_DEPTH} levels"))
    }

    #[inline(never)]
    fn string_value(&mut self, marker: Marker) -> Result<Value> {
        let len = match self.str_len(marker)? {
            Some(len) => len,
            None => match self.bin_len(marker)? {
                Some(len) => len,
                None => return Err(self.mismatch("a string", marker)),
            },
        };
        Ok(Value::String(self.text(len)?.to_string()))
    }

    #[inline(never)]
    fn sequence(
        &mut self,
        marker: Marker,
        ty: &Type,
        elem: &Type,
        depth: usize,
    ) -> Result<Vec<Value>> {
        let Some(len) = self.array_len(marker)? else {
            return Err(self.mismatch(&wanted(ty), marker));
        };
        let mut items = Vec::with_capacity(len);
        for i in 0..len {
            self.path.push(PathStep::ElementKeyInt(i as i64));
            items.push(self.value(elem, depth + 1)?);
            self.path.pop();
        }
        Ok(items)
    }

    #[inline(never)]
    fn tuple(&mut self, marker: Marker, ty: &Type, types: &[Type], depth: usize) -> Result<Value> {
        let Some(len) = self.array_len(marker)? else {
            return Err(self.mismatch(&wanted(ty), marker));
        };
        if len != types.len() {
            return Err(self.err(format!(
                "a tuple of {} elements is required ({len} given)",
                types.len()
            )));
        }
        let mut items = Vec::with_capacity(len);
        for (i, t) in types.iter().enumerate() {
            self.path.push(PathStep::ElementKeyInt(i as i64));
            items.push(self.value(t, depth + 1)?);
            self.path.pop();
        }
        Ok(Value::Tuple(items))
    }

    #[inline(never)]
    fn map(&mut self, marker: Marker, ty: &Type, elem: &Type, depth: usize) -> Result<Value> {
        let Some(len) = self.map_len(marker)? else {
            return Err(self.mismatch(&wanted(ty), marker));
        };
        let mut entries = BTreeMap::new();
        for _ in 0..len {
            let key = self.key()?;
            if entries.contains_key(&key) {
                return Err(self.err(format!("duplicate map key {key:?}")));
            }
            self.path.push(PathStep::ElementKeyString(key.clone()));
            let item = self.value(elem, depth + 1)?;
            self.path.pop();
            entries.insert(key, item);
        }
        Ok(Value::Map(entries))
    }

    #[inline(never)]
    fn object(
        &mut self,
        marker: Marker,
        ty: &Type,
        attrs: &BTreeMap<String, Type>,
        depth: usize,
    ) -> Result<Value> {
        let Some(len) = self.map_len(marker)? else {
            return Err(self.mismatch(&wanted(ty), marker));
        };
        let mut entries = BTreeMap::new();
        for _ in 0..len {
            let key = self.key()?;
            let Some(attr_ty) = attrs.get(&key) else {
                return Err(self.err(format!("unsupported attribute {key:?}")));
            };
            if entries.contains_key(&key) {
                return Err(self.err(format!("duplicate attribute {key:?}")));
            }
            self.path.push(PathStep::Attribute(key.clone()));
            let item = self.value(attr_ty, depth + 1)?;
            self.path.pop();
            entries.insert(key, item);
        }
        if entries.len() != attrs.len() {
            return Err(self.err(missing_message(attrs, &entries)));
        }
        Ok(Value::Object(entries))
    }

    /// `[type JSON, value]`; the type JSON may come as bin (cty) or str.
    #[inline(never)]
    fn dynamic(&mut self, marker: Marker, depth: usize) -> Result<Value> {
        let Some(len) = self.array_len(marker)? else {
            return Err(self.mismatch("a [type, value] pair for a dynamic value", marker));
        };
        if len != 2 {
            return Err(self.err(format!(
                "a dynamic value must be a [type, value] pair ({len} elements given)"
            )));
        }
        let type_marker = Marker::from_u8(self.u8()?);
        let type_len = match self.bin_len(type_marker)? {
            Some(len) => len,
            None => match self.str_len(type_marker)? {
                Some(len) => len,
                None => return Err(self.mismatch("type JSON of a dynamic value", type_marker)),
            },
        };
        let type_json = self.take(type_len)?;
        let inner_ty = Type::from_json_bytes(type_json)
            .map_err(|e| self.err(format!("dynamic value: {e}")))?;
        let inner = self.value(&inner_ty, depth + 1)?;
        Ok(Value::Dynamic(Box::new(inner_ty), Box::new(inner)))
    }

    fn key(&mut self) -> Result<String> {
        let marker = Marker::from_u8(self.u8()?);
        match self.str_len(marker)? {
            Some(len) => Ok(self.text(len)?.to_string()),
            None => Err(self.mismatch("a string map key", marker)),
        }
    }

    fn number(&mut self, marker: Marker) -> Result<Number> {
        let n = match marker {
            Marker::FixPos(n) => Number::Int(i64::from(n)),
            Marker::FixNeg(n) => Number::Int(i64::from(n)),
            Marker::U8 => Number::Int(i64::from(self.u8()?)),
            Marker::U16 => Number::Int(i64::from(self.u16()?)),
            Marker::U32 => Number::Int(i64::from(self.u32()?)),
            Marker::U64 => number_from_u64(self.u64()?),
            Marker::I8 => Number::Int(i64::from(i8::from_be_bytes(self.array()?))),
            Marker::I16 => Number::Int(i64::from(i16::from_be_bytes(self.array()?))),
            Marker::I32 => Number::Int(i64::from(i32::from_be_bytes(self.array()?))),
            Marker::I64 => Number::Int(i64::from_be_bytes(self.array()?)),
            Marker::F32 => {
                let f = f64::from(f32::from_bits(self.u32()?));
                number_from_f64(f).ok_or_else(|| self.err("NaN is not a number"))?
            }
            Marker::F64 => {
                let f = f64::from_bits(self.u64()?);
                number_from_f64(f).ok_or_else(|| self.err("NaN is not a number"))?
            }
            m => match self.str_len(m)? {
                Some(len) => {
                    let text = self.text(len)?;
                    number_from_text(text)
                        .ok_or_else(|| self.err(format!("{text:?} is not a decimal number")))?
                }
                None => return Err(self.mismatch("a number", m)),
            },
        };
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::AttributePath;
    use crate::tfplugin5::codec::encode_msgpack;
    use crate::tfplugin5::codec::testing::{decodes, fails, hex, num, obj_ty};

    #[test]
    fn every_integer_width_decodes() {
        for bytes in [
            "01",
            "cc 01",
            "cd 0001",
            "ce 00000001",
            "cf 0000000000000001",
            "d0 01",
            "d1 0001",
            "d2 00000001",
            "d3 0000000000000001",
        ] {
            assert_eq!(decodes(bytes, &Type::Number), Value::int(1), "{bytes}");
        }
        for bytes in [
            "ff",
            "d0 ff",
            "d1 ffff",
            "d2 ffffffff",
            "d3 ffffffffffffffff",
        ] {
            assert_eq!(decodes(bytes, &Type::Number), Value::int(-1), "{bytes}");
        }
        // Beyond i64: an exact float when one holds it, else the decimal text.
        assert!(matches!(
            decodes("cf 8000000000000000", &Type::Number),
            Value::Number(Number::Float(f)) if f == 9_223_372_036_854_775_808.0
        ));
        assert_eq!(
            decodes("cf ffffffffffffffff", &Type::Number),
            num(Number::Decimal("18446744073709551615".into()))
        );
    }

    #[test]
    fn every_extension_is_unknown() {
        assert_eq!(decodes("c7 00 00", &Type::String), Value::Unknown);
        // A refined unknown (type 12): "definitely not null".
        assert_eq!(decodes("c7 03 0c 81 01 c2", &Type::String), Value::Unknown);
        assert_eq!(decodes("d5 05 aaaa", &Type::Number), Value::Unknown);
        assert_eq!(
            decodes("81 a161 d4 0c 00", &obj_ty(&[("a", Type::Bool)])),
            Value::object([("a", Value::Unknown)])
        );
    }

    #[test]
    fn object_shape_errors_name_the_attribute() {
        let ty = obj_ty(&[("a", Type::String), ("b", Type::String)]);
        let e = fails(&hex("81 a161 c0"), &ty);
        assert!(
            e.message
                .starts_with("an object with 2 attributes is required (1 given)"),
            "{e}"
        );
        assert!(e.message.contains("\"b\""), "{e}");
        let e = fails(&hex("83 a161 c0 a162 c0 a17a c0"), &ty);
        assert_eq!(e.message, "unsupported attribute \"z\"");
        let e = fails(&hex("82 a161 c0 a161 c0"), &ty);
        assert!(e.message.contains("duplicate"), "{e}");

        let nested = obj_ty(&[("outer", Type::list(obj_ty(&[("n", Type::Number)])))]);
        let e = fails(&hex("81 a5 6f75746572 91 81 a16e c3"), &nested);
        assert_eq!(
            e.to_string(),
            "at outer[0].n: a number is required, found a bool"
        );
        assert_eq!(e.path, AttributePath::attribute("outer").index(0).attr("n"));

        let e = encode_msgpack(&Value::object([("zz", Value::Null)]), &ty).unwrap_err();
        assert_eq!(e.to_string(), "unsupported attribute \"zz\"");
        let e = encode_msgpack(&Value::object([("a", Value::int(1))]), &ty).unwrap_err();
        assert_eq!(e.to_string(), "at a: a string is required, found a number");
    }

    #[test]
    fn wrong_kinds_are_errors() {
        fails(&hex("01"), &Type::String);
        fails(&hex("a161"), &Type::Bool);
        fails(&hex("c3"), &Type::Number);
        fails(&hex("81 a161 c0"), &Type::list(Type::String));
        fails(&hex("91 c0"), &Type::map(Type::String));
        fails(&hex("91 c0"), &obj_ty(&[("a", Type::String)]));
        fails(&hex("81 01 c0"), &Type::map(Type::String)); // non-string key
        fails(
            &hex("91 c0"),
            &Type::Tuple(vec![Type::String, Type::String]),
        );
        fails(&hex("c1"), &Type::String);
        fails(&hex("a2 ff fe"), &Type::String); // not UTF-8
        assert!(encode_msgpack(&Value::string("x"), &Type::Number).is_err());
        assert!(encode_msgpack(&Value::List(vec![]), &Type::map(Type::String)).is_err());
        assert!(encode_msgpack(
            &Value::Tuple(vec![Value::Null]),
            &Type::Tuple(vec![Type::String, Type::String])
        )
        .is_err());
    }

    #[test]
    fn truncated_and_trailing_input_is_rejected() {
        for bytes in [
            "",
            "a5 6865",
            "92 01",
            "cd 01",
            "cb 3ff8",
            "81 a161",
            "c7 05 00 01",
            "dc 00",
        ] {
            let e = fails(&hex(bytes), &Type::list(Type::Number));
            let _ = e.to_string();
        }
        let e = fails(&hex("c0 c0"), &Type::String);
        assert!(e.message.contains("after the value"), "{e}");
        let e = fails(&hex("a161 00"), &Type::String);
        assert!(e.message.contains("after the value"), "{e}");
    }

    #[test]
    fn huge_declared_lengths_fail_before_allocating() {
        for (bytes, ty) in [
            ("dd ffffffff", Type::list(Type::String)),
            ("dd ffffffff c0 c0", Type::Tuple(vec![Type::Bool; 4])),
            ("df ffffffff", Type::map(Type::String)),
            ("df ffffffff", obj_ty(&[("a", Type::String)])),
            ("db ffffffff 61", Type::String),
            ("c6 ffffffff 61", Type::String),
            ("c9 ffffffff 00", Type::String),
            ("92 c6 ffffffff 22", Type::Dynamic),
        ] {
            let e = fails(&hex(bytes), &ty);
            assert!(
                e.message.contains("bytes left") || e.message.contains("bytes needed"),
                "{bytes}: {e}"
            );
        }
    }
}
