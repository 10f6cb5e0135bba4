//! `data "hostup_vps_backups"`: the backups of one VPS, newest first, from
//! `GET /vps/{id}/backups` (scope `read:vm`). The objects have the same shape as the backups of
//! `hostup_vps_restore_sources`.

use std::sync::Arc;

use async_trait::async_trait;

use super::{failed, id_and_client};
use crate::api::Backup;
use crate::framework::{
    Attribute, Block, Context, DataSource, Diagnostics, ReadResult, Schema, Type, Value,
};
use crate::hostup::attributes::validate_id_attribute;
use crate::hostup::diagnostics::{read_failure, Reading};
use crate::hostup::shared::Shared;
use crate::hostup::values::{backup_type, newest_first, BackupFields, BACKUP_FIELDS_DOC};

const VPS_ID: &str = "vps_id";
const BACKUPS: &str = "backups";

/// The `hostup_vps_backups` data source.
#[derive(Debug)]
pub struct VpsBackupsDataSource {
    shared: Arc<Shared>,
}

impl VpsBackupsDataSource {
    /// The data source, using the provider's shared client.
    pub fn new(shared: Arc<Shared>) -> VpsBackupsDataSource {
        VpsBackupsDataSource { shared }
    }
}

/// The `backups` list, newest first, ties by id.
pub fn backups_value(backups: &[Backup]) -> Value {
    let mut sorted: Vec<_> = backups.iter().collect();
    sorted.sort_by(|a, b| {
        newest_first(
            (a.created_at.as_deref(), &a.id),
            (b.created_at.as_deref(), &b.id),
        )
    });
    Value::List(
        sorted
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
            .collect(),
    )
}

/// The `hostup_vps_backups` schema.
pub fn schema() -> Schema {
    Schema::new(
        Block::new()
            .description(
                "Lists the backups of one HostUp VPS, newest first. To choose a backup to restore \
                 onto *another* VPS, use `hostup_vps_restore_sources`, which lists only what that \
                 target accepts. Needs the API key scope `read:vm`.",
            )
            .attribute(Attribute::string(VPS_ID).required().description(
                "The id of the VPS whose backups to list, e.g. `vps_01hxa3b4c5d6e7f8g9h0j1k2m3`. \
                 It must belong to the account of the provider's API key.",
            ))
            .attribute(
                Attribute::new(BACKUPS, Type::list(backup_type()))
                    .computed()
                    .description(format!(
                        "The backups, sorted newest first (ties by `id`); empty when the VPS has \
                         none. Each has {BACKUP_FIELDS_DOC}"
                    )),
            ),
    )
}

#[async_trait]
impl DataSource for VpsBackupsDataSource {
    fn type_name(&self) -> &str {
        "hostup_vps_backups"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, _ctx: &Context, config: &Value) -> Diagnostics {
        validate_id_attribute(config, VPS_ID, "VPS id")
    }

    async fn read(&self, _ctx: &Context, config: Value) -> ReadResult {
        let (id, client) = match id_and_client(&self.shared, &config, VPS_ID) {
            Ok(found) => found,
            Err(done) => return done,
        };
        match client.list_backups(&id).await {
            Ok(list) => ReadResult {
                new_state: Value::object([
                    (VPS_ID, Value::string(&id)),
                    (BACKUPS, backups_value(&list.backups)),
                ]),
                ..Default::default()
            },
            Err(e) => failed(read_failure(&e, VPS_ID, &id, Reading::BACKUPS)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn backups_are_newest_first_with_nulls_for_missing_fields() {
        let list: Vec<Backup> = serde_json::from_value(json!([
            {"id": "bkp_1", "createdAt": "2026-04-13T02:00:00.000Z", "sizeGb": 12.4,
             "backupType": "scheduled", "note": null},
            {"id": "bkp_2", "createdAt": "2026-04-27T10:00:00.000Z", "sizeGb": 18,
             "backupType": "manual", "note": "Before upgrade", "storageKey": "x.vma.zst"},
            {"id": "bkp_3"}
        ]))
        .unwrap();
        let v = backups_value(&list);
        let items = v.as_elements().unwrap();
        let ids: Vec<&str> = items.iter().map(|b| b.get_str("id").unwrap()).collect();
        assert_eq!(ids, ["bkp_2", "bkp_1", "bkp_3"]);
        assert_eq!(items[0].get_str("note"), Some("Before upgrade"));
        assert_eq!(items[0].get_str("backup_type"), Some("manual"));
        assert_eq!(items[0].get("size_gb").and_then(Value::as_f64), Some(18.0));
        assert_eq!(items[1].get("size_gb").and_then(Value::as_f64), Some(12.4));
        for attr in ["created_at", "size_gb", "backup_type", "note", "display_id"] {
            assert_eq!(items[2].get(attr), Some(&Value::Null), "{attr}");
        }
        assert!(v.is_wholly_known());
    }

    #[test]
    fn schema_types_the_list_and_documents_every_attribute() {
        let s = schema();
        let backups = s.block.find_attribute(BACKUPS).unwrap();
        assert_eq!(backups.ty, Type::list(backup_type()));
        assert!(backups.is_computed() && !backups.is_optional());
        assert!(s.block.find_attribute(VPS_ID).unwrap().is_required());
        assert!(s.block.attributes.iter().all(|a| !a.description.is_empty()));
    }
}
