//! The `timeouts` block users know from other providers: Go-style duration strings per operation,
//! checked at validate time and turned into `Duration`s for the waits. The protocol has no
//! timeout field, so the block is ordinary schema; it never forces a replacement.

use std::time::Duration;

use super::diagnostics::Diagnostics;
use super::path::AttributePath;
use super::schema::{Attribute, Block, NestedBlock};
use super::value::Value;

/// The forms `parse_duration` accepts, for error messages and docs.
const ACCEPTED: &str = "a number with a unit, optionally repeated: \"30s\", \"10m\", \"2h\", \
                        \"1h30m\", \"1.5h\" or \"500ms\" (units: ns, us, ms, s, m, h)";

/// Parses a Go-style duration, the form Terraform users write in `timeouts` blocks.
/// Signs, bare numbers and spaces are rejected, as is anything beyond Go's ~292 years.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let invalid = |why: &str| format!("invalid duration {s:?}: {why}; expected {ACCEPTED}");
    if s.is_empty() {
        return Err(invalid("it is empty"));
    }
    // Nanoseconds, capped where Go's time.Duration (an i64) ends.
    const MAX_NANOS: u128 = i64::MAX as u128;
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(digits_end);
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && frac.is_empty() {
            return Err(invalid("a number must come before each unit"));
        }
        if frac.contains('.') {
            return Err(invalid("a number has more than one decimal point"));
        }
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(invalid("a number has no unit")),
            other => return Err(invalid(&format!("unknown unit {other:?}"))),
        };
        let too_long = || invalid("it is too long");
        let whole_value: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| too_long())?
        };
        let mut nanos = whole_value.checked_mul(unit_nanos).ok_or_else(too_long)?;
        // Fractions beyond nanosecond precision are dropped, as Go does.
        let mut scale = unit_nanos;
        for d in frac.bytes().map(|b| u128::from(b - b'0')) {
            scale /= 10;
            if scale == 0 {
                break;
            }
            nanos += d * scale;
        }
        total = total.checked_add(nanos).ok_or_else(too_long)?;
        if total > MAX_NANOS {
            return Err(too_long());
        }
        rest = next;
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| invalid("it is too long"))?;
    Ok(Duration::new(secs, (total % 1_000_000_000) as u32))
}

/// A duration as users write it in a `timeouts` block, for messages: "1h30m", "45s", "300ms".
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// The single nested block `timeouts { create = "30m" ... }` with one optional string per
/// operation. Not `requires_replace`: changing a timeout is an in-place update of state only.
pub fn timeouts_block(operations: &[&str]) -> NestedBlock {
    let mut block = Block::new().description(
        "How long each operation may take before the provider gives up waiting. Values are \
         durations such as `30s`, `10m`, `2h` or `1h30m`.",
    );
    for op in operations {
        block = block.attribute(Attribute::string(*op).optional().description(format!(
            "How long a {op} may take, for example `30m`. Defaults to a per-resource value."
        )));
    }
    NestedBlock::single("timeouts", block)
}

/// Errors at `timeouts.<operation>` for every value that is not a positive duration. Unknown
/// values pass: they are checked again once known.
pub fn validate_timeouts(config: &Value, operations: &[&str]) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let Some(block) = config.get("timeouts") else {
        return diags;
    };
    for op in operations {
        let Some(value) = block.get(op) else {
            continue;
        };
        if value.is_null() || value.is_unknown() {
            continue;
        }
        let path = AttributePath::attribute("timeouts").attr(*op);
        let problem = match value.as_str().map(parse_duration) {
            Some(Ok(d)) if d.is_zero() => Some(format!(
                "The {op} timeout must be longer than zero; expected {ACCEPTED}."
            )),
            Some(Ok(_)) => None,
            Some(Err(message)) => Some(message),
            None => Some(format!(
                "The {op} timeout must be a string; expected {ACCEPTED}."
            )),
        };
        if let Some(detail) = problem {
            diags.error_at(path, "Invalid timeout", detail);
        }
    }
    diags
}

/// The timeout for `operation` from a state or configuration value, or `default` when it is not
/// set (or not valid: validation has already reported that).
pub fn timeout_for(state_or_config: &Value, operation: &str, default: Duration) -> Duration {
    state_or_config
        .get("timeouts")
        .and_then(|t| t.get_str(operation))
        .and_then(|s| parse_duration(s).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_shown_as_users_write_them() {
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h");
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(45)), "45s");
        assert_eq!(format_duration(Duration::from_millis(300)), "300ms");
    }
    use crate::framework::schema::Nesting;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn parses_the_forms_terraform_users_write() {
        assert_eq!(parse_duration("30s"), Ok(secs(30)));
        assert_eq!(parse_duration("10m"), Ok(secs(600)));
        assert_eq!(parse_duration("2h"), Ok(secs(7200)));
        assert_eq!(parse_duration("1h30m"), Ok(secs(5400)));
        assert_eq!(parse_duration("90s"), Ok(secs(90)));
        assert_eq!(parse_duration("1.5h"), Ok(secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m0.5s"), Ok(Duration::from_millis(60_500)));
        assert_eq!(parse_duration(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2us"), Ok(Duration::from_micros(2)));
        assert_eq!(parse_duration("7ns"), Ok(Duration::from_nanos(7)));
    }

    #[test]
    fn rejects_what_go_would_not_read_as_a_positive_duration() {
        for bad in [
            "",
            "10",
            "-5m",
            "+5m",
            "10 minutes",
            "10 m",
            "5x",
            "m",
            "1.2.3s",
            "1h30",
            ".s",
            "3d",
        ] {
            let err = parse_duration(bad).expect_err(bad);
            assert!(
                err.contains("\"30s\""),
                "message lists accepted forms: {err}"
            );
            assert!(
                err.contains(&format!("{bad:?}")),
                "message quotes the input: {err}"
            );
        }
    }

    #[test]
    fn rejects_overflow_instead_of_wrapping() {
        assert!(parse_duration("2562047h").is_ok(), "just under Go's limit");
        let err = parse_duration("2562048h").unwrap_err();
        assert!(err.contains("too long"), "{err}");
        assert!(parse_duration("99999999999999999999999999999999999999999h").is_err());
        assert!(parse_duration("2562047h2562047h").is_err());
    }

    #[test]
    fn block_is_single_optional_strings_and_never_replaces() {
        let b = timeouts_block(&["create", "delete"]);
        assert_eq!(b.type_name, "timeouts");
        assert_eq!(b.nesting, Nesting::Single);
        assert!(!b.requires_replace);
        let names: Vec<&str> = b.block.attributes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, vec!["create", "delete"]);
        for a in &b.block.attributes {
            assert!(a.is_optional() && !a.is_computed() && !a.requires_replace);
            assert!(a.description.contains(&a.name));
        }
    }

    fn config(create: Value) -> Value {
        Value::object([(
            "timeouts",
            Value::object([("create", create), ("delete", Value::Null)]),
        )])
    }

    #[test]
    fn validation_points_at_the_bad_operation() {
        let diags = validate_timeouts(&config("10 minutes".into()), &["create", "delete"]);
        assert_eq!(diags.len(), 1);
        let d = diags.iter().next().unwrap();
        assert!(d.is_error());
        assert_eq!(d.attribute.as_ref().unwrap().to_string(), "timeouts.create");
        assert!(d.detail.contains("10 minutes"));

        let zero = validate_timeouts(&config("0s".into()), &["create"]);
        assert!(zero.has_errors());
    }

    #[test]
    fn validation_accepts_good_unknown_and_absent_values() {
        let ops = ["create", "delete"];
        assert!(validate_timeouts(&config("45m".into()), &ops).is_empty());
        assert!(validate_timeouts(&config(Value::Unknown), &ops).is_empty());
        assert!(validate_timeouts(&Value::object([("timeouts", Value::Null)]), &ops).is_empty());
        assert!(validate_timeouts(&Value::object([("timeouts", Value::Unknown)]), &ops).is_empty());
        assert!(validate_timeouts(&Value::Null, &ops).is_empty());
    }

    #[test]
    fn timeout_for_uses_the_value_or_falls_back() {
        let default = secs(1200);
        assert_eq!(
            timeout_for(&config("1h".into()), "create", default),
            secs(3600)
        );
        assert_eq!(
            timeout_for(&config("1h".into()), "delete", default),
            default
        );
        assert_eq!(
            timeout_for(&config("bogus".into()), "create", default),
            default
        );
        assert_eq!(
            timeout_for(&config(Value::Unknown), "create", default),
            default
        );
        assert_eq!(timeout_for(&Value::Null, "create", default), default);
    }

    #[test]
    fn changing_only_timeouts_plans_an_update_without_replacement() {
        use crate::framework::plan::plan_change;
        use crate::framework::provider::PlanRequest;
        use crate::framework::schema::Schema;
        let schema = Schema::new(
            Block::new()
                .attribute(Attribute::string("name").required().requires_replace())
                .block(timeouts_block(&["create"])),
        );
        let with = |t: &str| {
            Value::object([
                ("name", "a".into()),
                ("timeouts", Value::object([("create", t.into())])),
            ])
        };
        let plan = plan_change(
            &schema,
            &PlanRequest {
                prior: with("10m"),
                config: with("20m"),
                proposed: with("20m"),
                prior_private: vec![],
            },
        );
        assert!(plan.requires_replace.is_empty());
        assert_eq!(timeout_for(&plan.planned, "create", secs(1)), secs(1200));
    }
}
