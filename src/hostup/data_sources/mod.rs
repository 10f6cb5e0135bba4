//! The HostUp data sources: `hostup_vps`, `hostup_vps_restore_sources` and `hostup_vps_backups`,
//! plus what they share: id validation at the attribute, the translation of API failures into
//! diagnostics a user can act on (404 → "no such VPS for this key", 403 → the missing scope), the
//! one backup object shape both backup lists use, and the "newest first" order.

use std::cmp::Ordering;
use std::sync::Arc;

use chrono::DateTime;

use super::provider::Shared;
use crate::api::{self, ApiError};
use crate::framework::{
    AttributePath, DataSource, Diagnostic, Diagnostics, ReadResult, Type, Value,
};

pub mod vps;
pub mod vps_backups;
pub mod vps_restore_sources;

pub use vps::VpsDataSource;
pub use vps_backups::VpsBackupsDataSource;
pub use vps_restore_sources::VpsRestoreSourcesDataSource;

/// Every data source of the provider, sharing the provider's configured client.
pub fn all(shared: Arc<Shared>) -> Vec<Arc<dyn DataSource>> {
    vec![
        Arc::new(VpsDataSource::new(shared.clone())),
        Arc::new(VpsRestoreSourcesDataSource::new(shared.clone())),
        Arc::new(VpsBackupsDataSource::new(shared)),
    ]
}

/// Checks the id attribute `attr` of a configuration without calling the API. Unknown and null
/// values are skipped: Terraform reports a missing required value itself, and an unknown one is
/// checked once it is known.
pub(crate) fn validate_id_attribute(config: &Value, attr: &str) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if let Some(Value::String(id)) = config.get(attr).map(Value::unwrap_dynamic) {
        if let Err(e) = api::validate_id("VPS id", id) {
            diags.error_at(
                AttributePath::attribute(attr),
                "Invalid VPS id",
                e.to_string(),
            );
        }
    }
    diags
}

/// The known id at `attr` of a data source configuration, or the error that says why it is
/// missing (Terraform only reads a data source once its configuration is known, so this is a
/// safeguard, not a normal path).
pub(crate) fn required_id(config: &Value, attr: &str) -> Result<String, Diagnostic> {
    match config.get(attr).map(Value::unwrap_dynamic) {
        Some(Value::String(id)) => {
            api::validate_id("VPS id", id).map_err(|e| {
                Diagnostic::error("Invalid VPS id", e.to_string())
                    .at(AttributePath::attribute(attr))
            })?;
            Ok(id.clone())
        }
        _ => Err(Diagnostic::error(
            "VPS id not known",
            format!("`{attr}` must be a known string when the data source is read."),
        )
        .at(AttributePath::attribute(attr))),
    }
}

/// A read that ends with one error and no state.
pub(crate) fn failed(d: Diagnostic) -> ReadResult {
    ReadResult {
        diagnostics: d.into(),
        ..Default::default()
    }
}

/// The id a data source reads by, at `attr`, and the client to read with; or the finished read
/// that says why not.
pub(crate) fn id_and_client(
    shared: &Shared,
    config: &Value,
    attr: &str,
) -> Result<(String, api::Client), ReadResult> {
    let id = required_id(config, attr).map_err(failed)?;
    let client = shared.require_client().map_err(failed)?;
    Ok((id, client))
}

/// What a failed call was for, so the diagnostic can name the action and the scope it needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reading {
    /// "read the VPS", "list the restore sources of the VPS"
    pub action: &'static str,
    /// The scope HostUp requires for it (hostup-api.md §15.8).
    pub scope: &'static str,
}

/// Turns an API failure for the VPS `id` (configured at `attr`) into a diagnostic:
/// - 404: the VPS does not exist or belongs to another account, at the id attribute;
/// - 403: the scope the key lacks, read from HostUp's problem detail when it names one;
/// - anything else: HostUp's own account of it, which carries the request id when there is one.
pub(crate) fn api_failure(err: &ApiError, attr: &str, id: &str, reading: Reading) -> Diagnostic {
    let request = err
        .request_id()
        .map(|r| format!(" [request id {r}]"))
        .unwrap_or_default();
    match err {
        ApiError::InvalidId { .. } => {
            Diagnostic::error("Invalid VPS id", err.to_string()).at(AttributePath::attribute(attr))
        }
        ApiError::Http(h) if h.status == 404 => Diagnostic::error(
            "VPS not found",
            format!(
                "HostUp has no VPS {id:?} for this API key: it does not exist, or it is not owned \
                 by the account this API key belongs to. Check the id (it looks like \
                 vps_01hxa3b4c5d6e7f8g9h0j1k2m3) and the API key.{request}"
            ),
        )
        .at(AttributePath::attribute(attr)),
        ApiError::Http(h) if h.status == 403 => {
            let detail = h.problem.as_ref().and_then(|p| p.detail.as_deref());
            let scope = detail.and_then(scope_in).unwrap_or(reading.scope);
            let said = detail
                .map(|d| format!(" HostUp said: {d}"))
                .unwrap_or_default();
            Diagnostic::error(
                format!("API key lacks the scope {scope}"),
                format!(
                    "HostUp refused to {} {id:?} (HTTP 403): the API key needs the scope `{scope}`.\
                     {said} Give the key that scope in HostUp's API management \
                     (https://cloud.hostup.se/api-management), or configure a key that has it.\
                     {request}",
                    reading.action
                ),
            )
        }
        _ => Diagnostic::error(
            "HostUp API error",
            format!("Could not {} {id:?}. {err}", reading.action),
        ),
    }
}

/// The first scope-shaped word (`backup:vm`, `read:vm`) in a problem detail.
fn scope_in(detail: &str) -> Option<&str> {
    detail
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == ':' || c == '_'))
        .find(|word| {
            let mut parts = word.split(':');
            matches!(
                (parts.next(), parts.next(), parts.next()),
                (Some(a), Some(b), None)
                    if !a.is_empty() && !b.is_empty()
                        && a.bytes().all(|c| c.is_ascii_lowercase() || c == b'_')
                        && b.bytes().all(|c| c.is_ascii_lowercase() || c == b'_')
            )
        })
}

/// A string the API sent, or null when it sent none or only blanks.
pub(crate) fn text(s: Option<&str>) -> Value {
    match s {
        Some(s) if !s.trim().is_empty() => Value::string(s),
        _ => Value::Null,
    }
}

/// A number the API sent, or null.
pub(crate) fn number(n: Option<f64>) -> Value {
    n.map_or(Value::Null, Value::float)
}

/// The object type of one backup, the same in both backup lists so a user can move an expression
/// from one data source to the other.
pub(crate) fn backup_type() -> Type {
    Type::object([
        ("id", Type::String),
        ("display_id", Type::String),
        ("created_at", Type::String),
        ("size_gb", Type::Number),
        ("backup_type", Type::String),
        ("note", Type::String),
    ])
}

/// The fields of one backup, from whichever endpoint listed it.
pub(crate) struct BackupFields<'a> {
    pub id: &'a str,
    pub display_id: Option<&'a str>,
    pub created_at: Option<&'a str>,
    pub size_gb: Option<f64>,
    pub backup_type: Option<&'a str>,
    pub note: Option<&'a str>,
}

impl BackupFields<'_> {
    pub fn to_value(&self) -> Value {
        Value::object([
            ("id", Value::string(self.id)),
            ("display_id", text(self.display_id)),
            ("created_at", text(self.created_at)),
            ("size_gb", number(self.size_gb)),
            ("backup_type", text(self.backup_type)),
            ("note", text(self.note)),
        ])
    }
}

/// The Markdown description of the backup object's attributes, shared by both data sources.
pub(crate) const BACKUP_FIELDS_DOC: &str = "`id` (the backup id, used as `backup_id` of \
    `hostup_vps_restore`), `display_id` (HostUp's label: the creation time and archive name), \
    `created_at` (RFC 3339 timestamp, as HostUp sends it), `size_gb` (size in GB), `backup_type` \
    (`manual` or `scheduled`) and `note`. Attributes HostUp does not send are null.";

/// Orders backups newest first: by creation time (parsed, so offsets and fractions compare
/// correctly), then backups whose time cannot be parsed, then those without one; equal times by
/// id, so the order never depends on the API's.
pub(crate) fn newest_first(a: (Option<&str>, &str), b: (Option<&str>, &str)) -> Ordering {
    fn rank(created: Option<&str>) -> (u8, Option<(i64, u32)>, Option<&str>) {
        match created {
            Some(s) => match DateTime::parse_from_rfc3339(s.trim()) {
                Ok(t) => (0, Some((t.timestamp(), t.timestamp_subsec_nanos())), None),
                Err(_) => (1, None, Some(s)),
            },
            None => (2, None, None),
        }
    }
    let (ra, rb) = (rank(a.0), rank(b.0));
    ra.0.cmp(&rb.0)
        .then_with(|| rb.1.cmp(&ra.1))
        .then_with(|| rb.2.cmp(&ra.2))
        .then_with(|| a.1.cmp(b.1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{HttpError, Problem};

    fn http(status: u16, body: &str) -> ApiError {
        ApiError::Http(Box::new(HttpError {
            method: "GET".into(),
            path: "/api/v2/vps/vps_1".into(),
            status,
            problem: Problem::from_body(body.as_bytes()),
            body_excerpt: None,
            retry_after: None,
            attempts: 1,
        }))
    }

    const READ: Reading = Reading {
        action: "read the VPS",
        scope: "read:vm",
    };

    #[test]
    fn not_found_points_at_the_id_and_says_why() {
        let err = http(
            404,
            r#"{"code":"vps_not_found","detail":"No such VPS","requestId":"req_404"}"#,
        );
        let d = api_failure(&err, "target_vps_id", "vps_1", READ);
        assert!(d.is_error());
        assert_eq!(d.attribute, Some(AttributePath::attribute("target_vps_id")));
        assert!(d.detail.contains("does not exist"), "{}", d.detail);
        assert!(d.detail.contains("not owned"), "{}", d.detail);
        assert!(d.detail.contains("req_404"), "{}", d.detail);
    }

    #[test]
    fn forbidden_names_the_scope_from_the_detail_or_the_one_needed() {
        let err = http(
            403,
            r#"{"code":"forbidden","detail":"This API key lacks the required scope backup:vm.","requestId":"req_403"}"#,
        );
        let d = api_failure(&err, "id", "vps_1", READ);
        assert!(d.summary.contains("backup:vm"), "{}", d.summary);
        assert!(d.detail.contains("`backup:vm`"), "{}", d.detail);
        assert!(d.detail.contains("req_403"), "{}", d.detail);
        let err = http(403, r#"{"code":"forbidden","detail":"Not allowed."}"#);
        let d = api_failure(&err, "id", "vps_1", READ);
        assert!(d.summary.contains("read:vm"), "{}", d.summary);
    }

    #[test]
    fn other_errors_carry_the_request_id() {
        let err = http(
            500,
            r#"{"code":"internal_error","title":"Internal error","requestId":"req_500"}"#,
        );
        let d = api_failure(&err, "id", "vps_1", READ);
        assert_eq!(d.attribute, None);
        assert!(d.detail.contains("req_500"), "{}", d.detail);
        assert!(d.detail.contains("read the VPS"), "{}", d.detail);
    }

    #[test]
    fn scope_words_are_found_and_urls_are_not() {
        assert_eq!(scope_in("lacks the scope backup:vm."), Some("backup:vm"));
        assert_eq!(
            scope_in("see https://x.example/ for read:vm"),
            Some("read:vm")
        );
        assert_eq!(scope_in("at 10:30 nothing"), None);
        assert_eq!(scope_in("a:b:c"), None);
    }

    #[test]
    fn validation_flags_bad_ids_at_the_attribute_and_skips_unknown() {
        let bad = Value::object([("vps_id", Value::string("vps/../x"))]);
        let d = validate_id_attribute(&bad, "vps_id");
        let first = d.iter().next().expect("an error");
        assert_eq!(first.attribute, Some(AttributePath::attribute("vps_id")));
        assert!(first.detail.contains("not allowed"), "{}", first.detail);
        let empty = Value::object([("vps_id", Value::string(""))]);
        assert!(validate_id_attribute(&empty, "vps_id").has_errors());
        for skip in [Value::Unknown, Value::Null, Value::string("vps_01ok")] {
            let cfg = Value::object([("vps_id", skip)]);
            assert!(validate_id_attribute(&cfg, "vps_id").is_empty());
        }
    }

    #[test]
    fn newest_first_parses_times_and_breaks_ties_by_id() {
        let mut items = [
            (None, "bkp_none"),
            (Some("2026-04-20T02:00:00Z"), "bkp_b"),
            (Some("garbage"), "bkp_bad"),
            // Same instant as bkp_b, written with an offset.
            (Some("2026-04-20T04:00:00+02:00"), "bkp_a"),
            (Some("2026-04-27T10:00:00.000Z"), "bkp_new"),
            (Some("2026-04-20T02:00:00.5Z"), "bkp_half"),
        ];
        items.sort_by(|a, b| newest_first(*a, *b));
        let ids: Vec<&str> = items.iter().map(|i| i.1).collect();
        assert_eq!(
            ids,
            ["bkp_new", "bkp_half", "bkp_a", "bkp_b", "bkp_bad", "bkp_none"]
        );
    }

    #[test]
    fn blank_strings_become_null() {
        assert_eq!(text(Some("  ")), Value::Null);
        assert_eq!(text(None), Value::Null);
        assert_eq!(text(Some("x")), Value::string("x"));
        assert_eq!(number(Some(12.4)), Value::float(12.4));
        assert_eq!(number(Some(18.0)), Value::int(18));
    }
}
