//! `list "hostup_vps_backup"` (Terraform 1.14+ `terraform query`): finds the backups HostUp keeps,
//! of one VPS (`config { vps_id = … }`) or of every VPS of the account, so that a team adopting the
//! provider can import the backups it made by hand: `terraform query
//! -generate-config-out=generated.tf` writes an `import` block (by identity) and a resource block
//! for each. Results come VPS by VPS in HostUp's order, each VPS's backups newest first. Every
//! VPS's backup list is read once, through the client's shared rate budget; the list stops at
//! the CLI's `limit`. Problems are diagnostics, at `vps_id` when they are about it.
//!
//! There is no list of restores: HostUp's API cannot list a VPS's jobs.

use std::sync::Arc;

use async_trait::async_trait;

use crate::api::{ApiError, Backup, Client};
use crate::framework::{
    Attribute, Block, Context, Diagnostic, Diagnostics, ListRequest, ListResource, ListSender,
    Listed, Schema, Value,
};
use crate::hostup::attributes::validate_id_attribute;
use crate::hostup::cache::MaxAge;
use crate::hostup::diagnostics::{read_failure, Reading};
use crate::hostup::shared::Shared;
use crate::hostup::vps_restore::model::gb;

use super::model::VPS_ID;
use super::resource::{found_state, TYPE_NAME};

/// The list resource; holds the provider's shared client and read cache.
#[derive(Debug)]
pub struct VpsBackupList {
    shared: Arc<Shared>,
}

impl VpsBackupList {
    /// The list resource, using the provider's shared client and cache.
    pub fn new(shared: Arc<Shared>) -> VpsBackupList {
        VpsBackupList { shared }
    }
}

/// The schema of the `config` block.
pub fn schema() -> Schema {
    Schema::new(
        Block::new()
            .description(
                "Finds the backups HostUp keeps, of one VPS or of every VPS of the account, for \
                 `terraform query` (Terraform 1.14+).",
            )
            .attribute(Attribute::string(VPS_ID).optional().description(
                "Only the backups of this VPS, `vps_…`. Without it, the backups of every VPS of \
                 the account.",
            )),
    )
}

/// "db-01 (vps_…): bkp_… of 2026-04-27, 12.4 GB".
fn display_name(vps_label: &str, backup: &Backup) -> String {
    let mut name = format!("{vps_label}: {}", backup.id);
    if let Some(date) = backup.created_at.as_deref() {
        name.push_str(&format!(" of {}", date.get(..10).unwrap_or(date)));
    }
    if let Some(size) = backup.size_gb {
        name.push_str(&format!(", {}", gb(size)));
    }
    name
}

/// "db-01 (vps_…)" or the id.
fn vps_label(id: &str, name: Option<&str>) -> String {
    crate::hostup::vps_restore::checks::label(id, name)
}

/// The error of a list of the account's VPSes that failed.
fn listing_failure(e: &ApiError) -> Diagnostic {
    match e.status() {
        Some(403) => Diagnostic::error(
            "API key lacks the scope read:vm",
            format!(
                "HostUp refused to list the VPSes of this account (HTTP 403): the API key needs \
                 the scope `read:vm`. Give the key that scope in HostUp's API management \
                 (https://cloud.hostup.se/api-management), or configure a key that has it. {e}"
            ),
        ),
        _ => Diagnostic::error(
            "HostUp API error",
            format!("Could not list the VPSes of this account. {e}"),
        ),
    }
}

impl VpsBackupList {
    /// The VPSes to list, as (id, label): the one `config` names (read, so a wrong id is an
    /// error at `vps_id`), or every VPS of the account.
    async fn vpses(
        &self,
        client: &Client,
        config: &Value,
    ) -> Result<Vec<(String, String)>, Diagnostic> {
        match config.get_str(VPS_ID) {
            Some(id) => {
                let vps = self
                    .shared
                    .cache()
                    .vps(client, id, MaxAge::Plan)
                    .await
                    .map_err(|e| read_failure(&e, VPS_ID, id, Reading::VPS))?;
                Ok(vec![(id.to_owned(), vps_label(id, vps.name.as_deref()))])
            }
            None => {
                let all = client.list_vps().await.map_err(|e| listing_failure(&e))?;
                Ok(all
                    .into_iter()
                    .map(|v| {
                        let label = vps_label(&v.id, v.name.as_deref());
                        (v.id, label)
                    })
                    .collect())
            }
        }
    }
}

#[async_trait]
impl ListResource for VpsBackupList {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, _ctx: &Context, config: &Value) -> Diagnostics {
        validate_id_attribute(config, VPS_ID, "VPS id")
    }

    async fn list(&self, ctx: &Context, req: ListRequest, found: ListSender) -> Diagnostics {
        let client = match self.shared.require_client() {
            Ok(c) => c,
            Err(d) => return d.into(),
        };
        let filtered = req.config.get_str(VPS_ID).is_some();
        let vpses = match self.vpses(&client, &req.config).await {
            Ok(v) => v,
            Err(d) => return d.into(),
        };
        for (id, label) in vpses {
            if ctx.is_cancelled() {
                break;
            }
            let mut list = match client.list_backups(&id).await {
                Ok(list) => list,
                Err(e) => {
                    let mut d = read_failure(&e, VPS_ID, &id, Reading::BACKUPS);
                    if !filtered {
                        // Not about the configuration: this VPS came from the account's list.
                        d.attribute = None;
                    }
                    return d.into();
                }
            };
            // Newest first; RFC 3339 times of one format sort as text.
            list.backups
                .sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
            for backup in &list.backups {
                let listed = Listed {
                    state: found_state(&id, backup),
                    display_name: display_name(&label, backup),
                };
                if found.send(listed).await.is_err() {
                    // The CLI has all it asked for.
                    return Diagnostics::new();
                }
            }
        }
        Diagnostics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_say_vps_date_and_size() {
        let backup: Backup = serde_json::from_value(serde_json::json!({
            "id": "bkp_1", "createdAt": "2026-04-27T10:00:00.000Z", "sizeGb": 12.4
        }))
        .unwrap();
        assert_eq!(
            display_name("db-01 (vps_1)", &backup),
            "db-01 (vps_1): bkp_1 of 2026-04-27, 12.4 GB"
        );
        let bare: Backup = serde_json::from_value(serde_json::json!({"id": "bkp_2"})).unwrap();
        assert_eq!(display_name("vps_1", &bare), "vps_1: bkp_2");
    }
}
