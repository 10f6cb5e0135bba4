//! HostUp's answers as Terraform values, the same wherever they appear: blank strings and missing
//! numbers as null, the one backup object both backup lists use, and the newest-first order of
//! backups (by parsed creation time) that data sources and error messages share.

use std::cmp::Ordering;

use chrono::DateTime;

use crate::framework::{Type, Value};

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
    pub(crate) fn to_value(&self) -> Value {
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
