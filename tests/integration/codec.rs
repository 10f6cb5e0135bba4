//! Property tests and fuzzing of the DynamicValue codec through its public API: every value of
//! every type survives msgpack and JSON round trips, and no input bytes (random, token soup or
//! mutated valid encodings) make a decoder panic. `fuzz_for_a_while` is the long-running variant:
//! `CODEC_FUZZ_SECONDS=300 cargo test --test integration codec:: -- --ignored --nocapture`.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use terraform_provider_hostup::framework::{Number, Type, Value};
use terraform_provider_hostup::tfplugin5::codec::{
    decode_json, decode_msgpack, decode_state_json, encode_json, encode_msgpack,
};

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

fn arb_type() -> impl Strategy<Value = Type> {
    let leaf = prop_oneof![
        Just(Type::String),
        Just(Type::Number),
        Just(Type::Bool),
        Just(Type::Dynamic),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(Type::list),
            inner.clone().prop_map(Type::set),
            inner.clone().prop_map(Type::map),
            prop::collection::btree_map("[a-z_]{1,6}", inner.clone(), 0..4).prop_map(Type::Object),
            prop::collection::vec(inner, 0..4).prop_map(Type::Tuple),
        ]
    })
}

/// A type a dynamic value can carry (the codec never wraps `dynamic` in `dynamic`).
fn arb_concrete_type() -> impl Strategy<Value = Type> {
    arb_type().prop_filter("concrete", |t| *t != Type::Dynamic)
}

fn arb_number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::Int),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Number::Float),
        // A last fractional digit other than 0 and 5 keeps it from being an exact binary
        // fraction, so it must survive as decimal text.
        "-?(0|[1-9][0-9]{0,30})\\.[0-9]{0,20}[1-46-9]".prop_map(Number::Decimal),
    ]
}

/// A value of `ty`; with `unknowns` it may hold unknowns anywhere (msgpack), else none (JSON).
fn arb_value(ty: &Type, unknowns: bool) -> BoxedStrategy<Value> {
    let known: BoxedStrategy<Value> = match ty {
        Type::String => ".{0,12}".prop_map(Value::String).boxed(),
        Type::Number => arb_number().prop_map(Value::Number).boxed(),
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::List(e) => prop::collection::vec(arb_value(e, unknowns), 0..4)
            .prop_map(Value::List)
            .boxed(),
        Type::Set(e) => prop::collection::vec(arb_value(e, unknowns), 0..4)
            .prop_map(Value::Set)
            .boxed(),
        Type::Map(e) => prop::collection::btree_map(".{0,6}", arb_value(e, unknowns), 0..4)
            .prop_map(Value::Map)
            .boxed(),
        Type::Tuple(types) => types
            .iter()
            .map(|t| arb_value(t, unknowns))
            .collect::<Vec<_>>()
            .prop_map(Value::Tuple)
            .boxed(),
        Type::Object(attrs) => attrs
            .iter()
            .map(|(k, t)| {
                let k = k.clone();
                arb_value(t, unknowns).prop_map(move |v| (k.clone(), v))
            })
            .collect::<Vec<_>>()
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<BTreeMap<_, _>>()))
            .boxed(),
        Type::Dynamic => arb_concrete_type()
            .prop_flat_map(move |t| {
                let inner = arb_value(&t, unknowns)
                    .prop_filter("known at the top", |v| !v.is_null() && !v.is_unknown());
                (Just(t), inner)
            })
            .prop_map(|(t, v)| Value::Dynamic(Box::new(t), Box::new(v)))
            .boxed(),
    };
    if unknowns {
        prop_oneof![1 => Just(Value::Null), 1 => Just(Value::Unknown), 6 => known].boxed()
    } else {
        prop_oneof![1 => Just(Value::Null), 6 => known].boxed()
    }
}

fn arb_typed_value(unknowns: bool) -> impl Strategy<Value = (Type, Value)> {
    arb_type().prop_flat_map(move |t| (Just(t.clone()), arb_value(&t, unknowns)))
}

// ---------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(Config { cases: 512, ..Config::default() })]

    #[test]
    fn msgpack_round_trips((ty, value) in arb_typed_value(true)) {
        let bytes = encode_msgpack(&value, &ty).unwrap();
        let back = decode_msgpack(&bytes, &ty).unwrap();
        prop_assert_eq!(&back, &value);
        // The encoding is canonical: encoding the decoded value gives the same bytes.
        prop_assert_eq!(encode_msgpack(&back, &ty).unwrap(), bytes);
    }

    #[test]
    fn json_round_trips((ty, value) in arb_typed_value(false)) {
        let bytes = encode_json(&value, &ty).unwrap();
        prop_assert!(serde_json::from_slice::<serde_json::Value>(&bytes).is_ok(), "not JSON");
        prop_assert_eq!(&decode_json(&bytes, &ty).unwrap(), &value);
        prop_assert_eq!(&decode_state_json(&bytes, &ty).unwrap(), &value);
    }

    #[test]
    fn json_and_msgpack_agree((ty, value) in arb_typed_value(false)) {
        let via_json = decode_json(&encode_json(&value, &ty).unwrap(), &ty).unwrap();
        let via_msgpack = decode_msgpack(&encode_msgpack(&value, &ty).unwrap(), &ty).unwrap();
        prop_assert_eq!(via_json, via_msgpack);
    }
}

// ---------------------------------------------------------------------------------------------
// Fuzzing
// ---------------------------------------------------------------------------------------------

/// Types the fuzz inputs are decoded against: every kind, nested, with dynamic parts.
fn fuzz_types() -> Vec<Type> {
    let inner = Type::object([("c", Type::Number), ("d", Type::Dynamic)]);
    vec![
        Type::String,
        Type::Number,
        Type::Bool,
        Type::Dynamic,
        Type::list(Type::Dynamic),
        Type::map(Type::Number),
        Type::set(Type::String),
        Type::Tuple(vec![Type::String, Type::Number]),
        Type::object([
            ("a", Type::String),
            ("b", Type::list(inner)),
            ("e", Type::map(Type::Bool)),
            ("f", Type::Tuple(vec![Type::String, Type::Dynamic])),
        ]),
        Type::list(Type::list(Type::list(Type::list(Type::String)))),
    ]
}

/// Null and unknown dynamics lose their wrapper on the wire, and a dynamic holding a dynamic
/// is written as its content: compare values modulo those.
fn normalize(v: Value) -> Value {
    match v {
        Value::Dynamic(t, inner) => {
            let inner = normalize(*inner);
            if *t == Type::Dynamic || inner.is_null() || inner.is_unknown() {
                inner
            } else {
                Value::Dynamic(t, Box::new(inner))
            }
        }
        Value::List(items) => Value::List(items.into_iter().map(normalize).collect()),
        Value::Set(items) => Value::Set(items.into_iter().map(normalize).collect()),
        Value::Tuple(items) => Value::Tuple(items.into_iter().map(normalize).collect()),
        Value::Map(m) => Value::Map(m.into_iter().map(|(k, v)| (k, normalize(v))).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, normalize(v))).collect()),
        v => v,
    }
}

/// Feeds `bytes` to every decoder against every fuzz type. Whatever decodes must encode again
/// and decode to the same value: a decoder that accepts what the encoder cannot write back
/// would hand the provider values it cannot answer with.
fn exercise(bytes: &[u8], types: &[Type]) {
    for ty in types {
        if let Ok(v) = decode_msgpack(bytes, ty) {
            let again = encode_msgpack(&v, ty).expect("a decoded value encodes");
            let back = decode_msgpack(&again, ty).expect("an encoded value decodes");
            assert_eq!(normalize(back), normalize(v));
        }
        let decoded = [decode_json(bytes, ty), decode_state_json(bytes, ty)];
        for v in decoded.into_iter().flatten() {
            let again = encode_json(&v, ty).expect("a decoded JSON value encodes");
            let back = decode_json(&again, ty).expect("encoded JSON decodes");
            assert_eq!(normalize(back), normalize(v));
        }
    }
}

/// Pieces of msgpack that steer random input towards deep and odd structures.
fn msgpack_tokens() -> Vec<Vec<u8>> {
    let mut t: Vec<Vec<u8>> = vec![
        vec![0xc0],
        vec![0xc2],
        vec![0xc3],
        vec![0xd4, 0x00, 0x00],
        vec![0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc2],
        vec![0x91],
        vec![0x92],
        vec![0x94],
        vec![0x81],
        vec![0x82],
        vec![0xdc, 0xff, 0xff],
        vec![0xdd, 0xff, 0xff, 0xff, 0xff],
        vec![0xdf, 0x00, 0x00, 0x00, 0x02],
        vec![0xa1, b'a'],
        vec![0xa1, b'b'],
        vec![0xa1, b'c'],
        vec![0xa1, b'd'],
        vec![0xa1, b'e'],
        vec![0xa1, b'f'],
        vec![0xa3, b'0', b'.', b'8'],
        vec![0xa4, b'1', b'e', b'9', b'9'],
        vec![0xa2, 0xff, 0xfe],
        vec![0xdb, 0xff, 0xff, 0xff, 0xff],
        vec![0x7f],
        vec![0xff],
        vec![0xcc, 0xc8],
        vec![0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        vec![0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0],
        vec![0xca, 0x3f, 0xc0, 0, 0],
        vec![0xc1],
    ];
    for ty in [
        "\"string\"",
        "\"number\"",
        "\"dynamic\"",
        "[\"list\",\"dynamic\"]",
        "[\"object\",{\"a\":\"string\"}]",
        "[\"tuple\",[\"bool\"]]",
        "[\"map\"",
    ] {
        let mut tok = vec![0x92, 0xc4, ty.len() as u8];
        tok.extend_from_slice(ty.as_bytes());
        t.push(tok);
    }
    t
}

fn json_tokens() -> Vec<&'static str> {
    vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "null",
        "true",
        "false",
        "0",
        "-1",
        "1e400",
        "0.1",
        "12345678901234567890123",
        "\"a\"",
        "\"b\"",
        "\"c\"",
        "\"value\"",
        "\"type\"",
        "\"string\"",
        "\"dynamic\"",
        "[\"list\",\"string\"]",
        "\"\\u00e9\"",
        "\"\\ud800\"",
        " ",
        "\"",
        "\\",
        "-",
        ".",
        "e",
        "nul",
    ]
}

fn arb_fuzz_input() -> BoxedStrategy<Vec<u8>> {
    let msgpack = msgpack_tokens();
    let json = json_tokens();
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(prop::sample::select(msgpack), 0..40).prop_map(|t| t.concat()),
        prop::collection::vec(prop::sample::select(json), 0..40)
            .prop_map(|t| t.concat().into_bytes()),
        // Valid encodings, then damaged: a byte changed, cut short, or a byte inserted.
        (
            arb_typed_value(true),
            any::<prop::sample::Index>(),
            any::<u8>(),
            0..3u8
        )
            .prop_map(|((ty, value), at, byte, how)| {
                let mut bytes = encode_msgpack(&value, &ty).unwrap_or_default();
                if bytes.is_empty() {
                    return vec![byte];
                }
                let i = at.index(bytes.len());
                match how {
                    0 => bytes[i] = byte,
                    1 => bytes.truncate(i),
                    _ => bytes.insert(i, byte),
                }
                bytes
            }),
        (
            arb_typed_value(false),
            any::<prop::sample::Index>(),
            any::<u8>()
        )
            .prop_map(|((ty, value), at, byte)| {
                let mut bytes = encode_json(&value, &ty).unwrap_or_default();
                if !bytes.is_empty() {
                    let i = at.index(bytes.len());
                    bytes[i] = byte;
                }
                bytes
            }),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(Config { cases: 1000, ..Config::default() })]

    #[test]
    fn decoders_never_panic(bytes in arb_fuzz_input()) {
        exercise(&bytes, &fuzz_types());
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs the fuzz inputs for `CODEC_FUZZ_SECONDS` (default 10) and reports the case count.
#[test]
#[ignore = "long-running; set CODEC_FUZZ_SECONDS"]
fn fuzz_for_a_while() {
    let seconds: u64 = std::env::var("CODEC_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let strategy = arb_fuzz_input();
    let types = fuzz_types();
    let mut runner = TestRunner::new(Config::default());
    let mut cases: u64 = 0;
    let mut bytes_total: u64 = 0;
    while Instant::now() < deadline {
        let Ok(tree) = strategy.new_tree(&mut runner) else {
            continue;
        };
        let input = tree.current();
        if catch_unwind(AssertUnwindSafe(|| exercise(&input, &types))).is_err() {
            panic!("decoder panicked on input {}", hex(&input));
        }
        cases += 1;
        bytes_total += input.len() as u64;
    }
    println!(
        "codec fuzz: {cases} inputs ({bytes_total} bytes) x {} types x 3 decoders in {seconds} s, no panic",
        types.len()
    );
    assert!(cases > 0);
}
