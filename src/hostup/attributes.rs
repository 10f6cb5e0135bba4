//! Configured attributes checked without the API: HostUp ids are checked where they are
//! configured, so a malformed one is an error at its attribute before any request is built.

use crate::api;
use crate::framework::{AttributePath, Diagnostic, Diagnostics, Value};

/// `id`, configured at `attr`, as a HostUp id of `role` ("VPS id", "backup id"); otherwise the
/// error at `attr` that says what is wrong with it.
fn checked_id(attr: &str, role: &'static str, id: &str) -> Result<(), Diagnostic> {
    api::validate_id(role, id).map_err(|e| {
        Diagnostic::error(format!("Invalid {role}"), e.to_string())
            .at(AttributePath::attribute(attr))
    })
}

/// Checks the id attribute `attr` of a configuration, a HostUp id of `role`. Unknown and null
/// values are skipped: Terraform reports a missing required value itself, and an unknown one is
/// checked once it is known.
pub(crate) fn validate_id_attribute(config: &Value, attr: &str, role: &'static str) -> Diagnostics {
    match config.get(attr).map(Value::unwrap_dynamic) {
        Some(Value::String(id)) => match checked_id(attr, role, id) {
            Ok(()) => Diagnostics::new(),
            Err(d) => d.into(),
        },
        _ => Diagnostics::new(),
    }
}

/// The known VPS id at `attr` of a data source configuration, or the error that says why it is
/// missing (Terraform only reads a data source once its configuration is known, so this is a
/// safeguard, not a normal path).
pub(crate) fn required_id(config: &Value, attr: &str) -> Result<String, Diagnostic> {
    match config.get(attr).map(Value::unwrap_dynamic) {
        Some(Value::String(id)) => {
            checked_id(attr, "VPS id", id)?;
            Ok(id.clone())
        }
        _ => Err(Diagnostic::error(
            "VPS id not known",
            format!("`{attr}` must be a known string when the data source is read."),
        )
        .at(AttributePath::attribute(attr))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_flags_bad_ids_at_the_attribute_and_skips_unknown() {
        let bad = Value::object([("vps_id", Value::string("vps/../x"))]);
        let d = validate_id_attribute(&bad, "vps_id", "VPS id");
        let first = d.iter().next().expect("an error");
        assert_eq!(first.summary, "Invalid VPS id");
        assert_eq!(first.attribute, Some(AttributePath::attribute("vps_id")));
        assert!(first.detail.contains("not allowed"), "{}", first.detail);
        let empty = Value::object([("vps_id", Value::string(""))]);
        assert!(validate_id_attribute(&empty, "vps_id", "VPS id").has_errors());
        for skip in [Value::Unknown, Value::Null, Value::string("vps_01ok")] {
            let cfg = Value::object([("vps_id", skip)]);
            assert!(validate_id_attribute(&cfg, "vps_id", "VPS id").is_empty());
        }
    }
}
