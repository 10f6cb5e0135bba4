//! The DynamicValue codec: turns tfplugin5 `DynamicValue` bytes (msgpack, or JSON for RawState)
//! into framework `Value`s and back, always driven by the `Type` the schema implies. It owns the
//! wire rules of cty: unknown is msgpack extension 0, null is nil, objects carry every attribute,
//! numbers travel as integer, float64 or decimal string, and a `dynamic` value travels with its
//! type JSON. Input comes from another process, so every decoder is bounded in depth and length
//! and reports malformed input as a `CodecError` with the attribute path, never as a panic.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;

use rmp::encode::{ByteBuf, ValueWriteError};
use rmp::Marker;

use crate::framework::{AttributePath, Number, PathStep, Type, Value};

/// Deepest nesting of arrays / maps (msgpack) or arrays / objects (JSON) a decoder follows.
/// Real schemas stay far below it; it exists so hostile input cannot exhaust the stack.
pub const MAX_DEPTH: usize = 64;

/// A value that does not fit its type, or bytes that are not a value of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodecError {
    /// Where in the value the problem is; the root for whole-document problems.
    pub path: AttributePath,
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

// ---------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------

/// A decimal number taken apart: `digits × 10^exp`, with no leading or trailing zeros in
/// `digits` (empty for zero). Two texts denote the same number exactly when their parts match,
/// which is how the codec decides whether a decimal is exactly an `i64` or an `f64`.
#[derive(Debug, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    digits: String,
    exp: i64,
}

impl Decimal {
    /// Parses `[+-]digits[.digits][(e|E)[+-]digits]` (either side of the point may be empty,
    /// not both). `None` for anything else, including exponents beyond `i64`.
    fn parse(text: &str) -> Option<Decimal> {
        let b = text.as_bytes();
        let mut i = 0;
        let negative = match b.first() {
            Some(b'-') => {
                i = 1;
                true
            }
            Some(b'+') => {
                i = 1;
                false
            }
            _ => false,
        };
        let int_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let int_part = text.get(int_start..i)?;
        let mut frac_part = "";
        if b.get(i) == Some(&b'.') {
            i += 1;
            let frac_start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            frac_part = text.get(frac_start..i)?;
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let mut exp: i64 = 0;
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            let exp_negative = match b.get(i) {
                Some(b'-') => {
                    i += 1;
                    true
                }
                Some(b'+') => {
                    i += 1;
                    false
                }
                _ => false,
            };
            let exp_start = i;
            while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
                exp = exp.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
                i += 1;
            }
            if i == exp_start {
                return None;
            }
            if exp_negative {
                exp = -exp;
            }
        }
        if i != b.len() {
            return None;
        }
        let frac_len = i64::try_from(frac_part.len()).ok()?;
        let mut exp = exp.checked_sub(frac_len)?;
        let all = format!("{int_part}{frac_part}");
        let trimmed = all.trim_start_matches('0');
        let without_trailing = trimmed.trim_end_matches('0');
        let trailing = i64::try_from(trimmed.len() - without_trailing.len()).ok()?;
        exp = exp.checked_add(trailing)?;
        if without_trailing.is_empty() {
            exp = 0;
        }
        Some(Decimal {
            negative: negative && !without_trailing.is_empty(),
            digits: without_trailing.to_string(),
            exp,
        })
    }

    /// The exact decimal value of a finite float. Every binary fraction has a finite decimal
    /// expansion; it has as many fractional digits as the float has fractional bits.
    fn of_f64(f: f64) -> Option<Decimal> {
        if !f.is_finite() {
            return None;
        }
        let bits = f.to_bits();
        let exp_bits = ((bits >> 52) & 0x7ff) as i64;
        let fraction = bits & ((1u64 << 52) - 1);
        let (mantissa, exp2) = if exp_bits == 0 {
            (fraction, -1074)
        } else {
            (fraction | (1u64 << 52), exp_bits - 1075)
        };
        if mantissa == 0 {
            return Decimal::parse("0");
        }
        let exp2 = exp2 + i64::from(mantissa.trailing_zeros());
        let precision = usize::try_from(-exp2).unwrap_or(0);
        Decimal::parse(&format!("{:.*}", precision, f))
    }

    /// The number as an `i64` when it is an integer in range.
    fn to_i64(&self) -> Option<i64> {
        if self.digits.is_empty() {
            return Some(0);
        }
        let zeros = usize::try_from(self.exp).ok()?;
        if self.digits.len() + zeros > 19 {
            return None;
        }
        let text = format!(
            "{}{}{}",
            if self.negative { "-" } else { "" },
            self.digits,
            "0".repeat(zeros)
        );
        text.parse().ok()
    }

    /// A JSON number text for this value.
    fn to_json_text(&self) -> String {
        let digits = if self.digits.is_empty() {
            "0"
        } else {
            &self.digits
        };
        let sign = if self.negative { "-" } else { "" };
        if self.exp == 0 {
            format!("{sign}{digits}")
        } else {
            format!("{sign}{digits}e{}", self.exp)
        }
    }
}

/// A float as Terraform would send it: integral values in `i64` range become integers.
fn number_from_f64(f: f64) -> Option<Number> {
    if f.is_nan() {
        return None;
    }
    if f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)
    {
        return Some(Number::Int(f as i64));
    }
    Some(Number::Float(f))
}

/// Reads a number from its decimal text (a msgpack decimal string or a JSON number): an exact
/// integer in `i64` range becomes `Int`, a value an `f64` holds exactly becomes `Float`, and
/// anything else stays `Decimal` with the text untouched, so that sending it back gives
/// Terraform the very value it sent (`0.1` is not an `f64`; cty writes it as a string).
fn number_from_text(text: &str) -> Option<Number> {
    let decimal = Decimal::parse(text)?;
    if let Some(i) = decimal.to_i64() {
        return Some(Number::Int(i));
    }
    if let Ok(f) = text.parse::<f64>() {
        if Decimal::of_f64(f).as_ref() == Some(&decimal) {
            return number_from_f64(f);
        }
    }
    Some(Number::Decimal(text.to_string()))
}

/// A `u64` beyond `i64`: a float when exact, else its decimal text.
fn number_from_u64(u: u64) -> Number {
    if let Ok(i) = i64::try_from(u) {
        return Number::Int(i);
    }
    let f = u as f64;
    if f < 18_446_744_073_709_551_616.0 && f as u64 == u {
        Number::Float(f)
    } else {
        Number::Decimal(u.to_string())
    }
}

/// JSON text that reads back as exactly this float.
fn json_float_text(f: f64) -> Option<String> {
    let exact = Decimal::of_f64(f)?;
    let shortest = if f == 0.0 || (1e-5..1e16).contains(&f.abs()) {
        format!("{f}")
    } else {
        format!("{f:e}")
    };
    if Decimal::parse(&shortest).as_ref() == Some(&exact) {
        return Some(shortest);
    }
    Some(exact.to_json_text())
}

// ---------------------------------------------------------------------------------------------
// msgpack encoding
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// msgpack decoding
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

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

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn to_hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Encodes to the exact bytes cty writes and decodes them back to the same value.
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

    #[track_caller]
    fn decodes(bytes: &str, ty: &Type) -> Value {
        decode_msgpack(&hex(bytes), ty).unwrap()
    }

    #[track_caller]
    fn fails(bytes: &[u8], ty: &Type) -> CodecError {
        match decode_msgpack(bytes, ty) {
            Ok(v) => panic!("decoded {v:?} from {}", to_hex(bytes)),
            Err(e) => e,
        }
    }

    fn num(n: Number) -> Value {
        Value::Number(n)
    }

    fn obj_ty(attrs: &[(&str, Type)]) -> Type {
        Type::object(attrs.iter().cloned())
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
