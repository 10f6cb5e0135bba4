//! Helpers the codec's unit tests share: hex byte literals, and decoding that must succeed or fail.

use super::{decode_msgpack, CodecError};
use crate::framework::{Number, Type, Value};

pub(super) fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub(super) fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[track_caller]
pub(super) fn decodes(bytes: &str, ty: &Type) -> Value {
    decode_msgpack(&hex(bytes), ty).unwrap()
}

#[track_caller]
pub(super) fn fails(bytes: &[u8], ty: &Type) -> CodecError {
    match decode_msgpack(bytes, ty) {
        Ok(v) => panic!("decoded {v:?} from {}", to_hex(bytes)),
        Err(e) => e,
    }
}

pub(super) fn num(n: Number) -> Value {
    Value::Number(n)
}

pub(super) fn obj_ty(attrs: &[(&str, Type)]) -> Type {
    Type::object(attrs.iter().cloned())
}
