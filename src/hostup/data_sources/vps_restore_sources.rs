//! `data "hostup_vps_restore_sources"`: what can be restored onto a target VPS: the other VPSes
//! of the account and the retained backups of terminated ones, each with its backups newest first.
//! Reads `GET /vps/{id}/backups/restore-sources`, which needs the `backup:vm` scope. The order is
//! fixed here (sources by name then id, backups newest first) so plans never churn on API order.

use std::borrow::Borrow;
use std::sync::Arc;

use async_trait::async_trait;

use super::{failed, id_and_client};
use crate::api::{RestoreSource, SourceType};
use crate::framework::{
    Attribute, Block, Context, DataSource, Diagnostics, ReadResult, Schema, Type, Value,
};
use crate::hostup::attributes::validate_id_attribute;
use crate::hostup::cache::MaxAge;
use crate::hostup::diagnostics::{read_failure, Reading};
use crate::hostup::shared::Shared;
use crate::hostup::values::{backup_type, newest_first, text, BackupFields, BACKUP_FIELDS_DOC};

const TARGET: &str = "target_vps_id";
const SOURCES: &str = "sources";

/// The `hostup_vps_restore_sources` data source.
#[derive(Debug)]
pub struct VpsRestoreSourcesDataSource {
    shared: Arc<Shared>,
}

impl VpsRestoreSourcesDataSource {
    /// The data source, using the provider's shared client.
    pub fn new(shared: Arc<Shared>) -> VpsRestoreSourcesDataSource {
        VpsRestoreSourcesDataSource { shared }
    }
}

fn source_type() -> Type {
    Type::object([
        ("id", Type::String),
        ("name", Type::String),
        ("service_status", Type::String),
        ("source_type", Type::String),
        ("backups", Type::list(backup_type())),
    ])
}

/// The attribute value of `source_type`: `server`, `retained`, whatever new word HostUp sends, or
/// null when it sends none.
fn source_type_value(t: &SourceType) -> Value {
    match t {
        SourceType::Server => Value::string("server"),
        SourceType::Retained => Value::string("retained"),
        SourceType::Other(s) => text(Some(s)),
        SourceType::Missing => Value::Null,
    }
}

fn source_value(source: &RestoreSource) -> Value {
    let mut backups: Vec<_> = source.backups.iter().collect();
    backups.sort_by(|a, b| {
        newest_first(
            (a.created_at.as_deref(), &a.id),
            (b.created_at.as_deref(), &b.id),
        )
    });
    let backups = backups
        .into_iter()
        .map(|b| {
            BackupFields {
                id: &b.id,
                display_id: b.display_id.as_deref(),
                created_at: b.created_at.as_deref(),
                size_gb: b.size_gb,
                backup_type: b.backup_type.as_deref(),
                note: b.note.as_deref(),
            }
            .to_value()
        })
        .collect();
    Value::object([
        ("id", Value::string(&source.id)),
        ("name", text(source.name.as_deref())),
        ("service_status", text(source.service_status.as_deref())),
        ("source_type", source_type_value(&source.source_type)),
        ("backups", Value::List(backups)),
    ])
}

/// The `sources` list: by name (sources without one last), then id.
pub fn sources_value<S: Borrow<RestoreSource>>(sources: &[S]) -> Value {
    let mut sorted: Vec<&RestoreSource> = sources.iter().map(Borrow::borrow).collect();
    sorted.sort_by(|a, b| {
        let name = |s: &RestoreSource| (s.name.is_none(), s.name.clone().unwrap_or_default());
        name(a).cmp(&name(b)).then_with(|| a.id.cmp(&b.id))
    });
    Value::List(sorted.into_iter().map(source_value).collect())
}

/// The `hostup_vps_restore_sources` schema.
pub fn schema() -> Schema {
    Schema::new(
        Block::new()
            .description(
                "Lists what can be restored onto a target VPS with `hostup_vps_restore`: the other \
                 VPSes of the account that have backups (`source_type = \"server\"`) and the \
                 retained backups of terminated services (`source_type = \"retained\"`), each with \
                 its backups, newest first. Needs the API key scope `backup:vm`.",
            )
            .attribute(Attribute::string(TARGET).required().description(
                "The id of the VPS to restore onto, e.g. `vps_01hxa3b4c5d6e7f8g9h0j1k2m3`. It must \
                 belong to the account of the provider's API key; it is never among its own sources.",
            ))
            .attribute(
                Attribute::new(SOURCES, Type::list(source_type()))
                    .computed()
                    .description(format!(
                        "The restore sources, sorted by `name`, then `id`. Each has `id` (the \
                         source VPS id, used as `source_vps_id` of `hostup_vps_restore`), `name`, \
                         `service_status` (e.g. `active`, or `terminated` for a retained source), \
                         `source_type` (`server` or `retained`) and `backups`, a list sorted newest \
                         first (ties by `id`) whose objects have {BACKUP_FIELDS_DOC}"
                    )),
            ),
    )
}

#[async_trait]
impl DataSource for VpsRestoreSourcesDataSource {
    fn type_name(&self) -> &str {
        "hostup_vps_restore_sources"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, _ctx: &Context, config: &Value) -> Diagnostics {
        validate_id_attribute(config, TARGET, "VPS id")
    }

    async fn read(&self, _ctx: &Context, config: Value) -> ReadResult {
        let (id, client) = match id_and_client(&self.shared, &config, TARGET) {
            Ok(found) => found,
            Err(done) => return done,
        };
        // Shared with the restore resource's plan-time checks: one read per target and run.
        match self
            .shared
            .cache()
            .restore_sources(&client, &id, MaxAge::Plan)
            .await
        {
            Ok(sources) => ReadResult {
                new_state: Value::object([
                    (TARGET, Value::string(&id)),
                    (SOURCES, sources_value(&sources)),
                ]),
                ..Default::default()
            },
            Err(e) => failed(read_failure(&e, TARGET, &id, Reading::RESTORE_SOURCES)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sources(body: serde_json::Value) -> Vec<RestoreSource> {
        serde_json::from_value(body).expect("sources")
    }

    fn ids(list: &Value) -> Vec<&str> {
        list.as_elements()
            .unwrap()
            .iter()
            .map(|v| v.get_str("id").unwrap())
            .collect()
    }

    #[test]
    fn sources_sort_by_name_then_id_and_backups_newest_first() {
        let v = sources_value(&sources(json!([
            {"id": "vps_z", "name": "web", "sourceType": "server", "backups": []},
            {"id": "vps_nameless", "sourceType": "server"},
            {"id": "vps_b", "name": "db", "serviceStatus": "active", "sourceType": "server",
             "backups": [
                {"id": "bkp_old", "createdAt": "2026-04-13T02:00:00.000Z", "sizeGb": 12.4},
                {"id": "bkp_tie_b", "createdAt": "2026-04-27T10:00:00.000Z", "sizeGb": 18},
                {"id": "bkp_tie_a", "createdAt": "2026-04-27T10:00:00.000Z", "sizeGb": "18",
                 "displayId": "2026-04-27T10:00:00.000Z (vzdump.vma.zst)"}
             ]},
            {"id": "vps_a", "name": "web", "sourceType": "retained", "serviceStatus": "terminated"}
        ])));
        assert_eq!(ids(&v), ["vps_b", "vps_a", "vps_z", "vps_nameless"]);
        let db = &v.as_elements().unwrap()[0];
        assert_eq!(db.get_str("source_type"), Some("server"));
        assert_eq!(db.get_str("service_status"), Some("active"));
        let backups = db.get("backups").unwrap();
        assert_eq!(ids(backups), ["bkp_tie_a", "bkp_tie_b", "bkp_old"]);
        let first = &backups.as_elements().unwrap()[0];
        assert_eq!(
            first.get_str("display_id"),
            Some("2026-04-27T10:00:00.000Z (vzdump.vma.zst)")
        );
        assert_eq!(first.get("size_gb").and_then(Value::as_f64), Some(18.0));
        assert_eq!(first.get("note"), Some(&Value::Null));
        let nameless = &v.as_elements().unwrap()[3];
        assert_eq!(nameless.get("name"), Some(&Value::Null));
        assert_eq!(nameless.get("backups"), Some(&Value::List(vec![])));
        assert!(v.is_wholly_known());
    }

    #[test]
    fn values_match_the_declared_type() {
        let v = sources_value(&sources(json!([
            {"id": "vps_b", "name": "db", "sourceType": "mirror",
             "backups": [{"id": "bkp_1", "createdAt": null, "sizeGb": 3}]}
        ])));
        let Type::List(elem) = source_type_list() else {
            panic!("sources is a list")
        };
        let Type::Object(attrs) = *elem else {
            panic!("of objects")
        };
        let src = &v.as_elements().unwrap()[0];
        let keys: Vec<&String> = src.as_entries().unwrap().keys().collect();
        assert_eq!(keys, attrs.keys().collect::<Vec<_>>());
        assert_eq!(src.get_str("source_type"), Some("mirror"));
        let Type::Object(battrs) = backup_type() else {
            panic!("backup is an object")
        };
        let b = &src.get("backups").unwrap().as_elements().unwrap()[0];
        let bkeys: Vec<&String> = b.as_entries().unwrap().keys().collect();
        assert_eq!(bkeys, battrs.keys().collect::<Vec<_>>());
    }

    fn source_type_list() -> Type {
        schema()
            .block
            .find_attribute(SOURCES)
            .expect("sources attribute")
            .ty
            .clone()
    }

    #[test]
    fn source_type_missing_is_null() {
        assert_eq!(source_type_value(&SourceType::Missing), Value::Null);
        assert_eq!(
            source_type_value(&SourceType::Retained),
            Value::string("retained")
        );
    }
}
