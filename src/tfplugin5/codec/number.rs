//! Numbers on the wire: decimal texts taken apart so the codec can tell whether a value is
//! exactly an `i64`, exactly an `f64`, or neither (then its text travels untouched), and the JSON
//! text that reads back as exactly a given float.

use crate::framework::Number;

/// A decimal number taken apart: `digits × 10^exp`, with no leading or trailing zeros in
/// `digits` (empty for zero). Two texts denote the same number exactly when their parts match,
/// which is how the codec decides whether a decimal is exactly an `i64` or an `f64`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Decimal {
    negative: bool,
    digits: String,
    exp: i64,
}

impl Decimal {
    /// Parses `[+-]digits[.digits][(e|E)[+-]digits]` (either side of the point may be empty,
    /// not both). `None` for anything else, including exponents beyond `i64`.
    pub(super) fn parse(text: &str) -> Option<Decimal> {
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
    pub(super) fn to_json_text(&self) -> String {
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
pub(super) fn number_from_f64(f: f64) -> Option<Number> {
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
pub(super) fn number_from_text(text: &str) -> Option<Number> {
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
pub(super) fn number_from_u64(u: u64) -> Number {
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
pub(super) fn json_float_text(f: f64) -> Option<String> {
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
