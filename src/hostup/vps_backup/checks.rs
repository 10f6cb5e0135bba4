//! The live checks before a backup is taken, run at plan time and again just before the POST:
//! the VPS exists for this API key, its backup quota has room and its `canCreateBackup` gate is
//! open. Each failure is one error at `vps_id` that names the reason and what to do.

use crate::api::{BackupList, Client};
use crate::framework::{AttributePath, Diagnostic};
use crate::hostup::diagnostics::{closed_gate, read_failure, Reading};

use super::model::VPS_ID;

/// Reads the VPS's backup list and checks that a new backup may be taken. `replaced` are backups
/// of this VPS that the same plan replaces: Terraform deletes them before it creates their
/// successors, so each one still listed frees a place in the quota. `Ok` carries the list (its
/// ids tell the new backup apart later).
pub async fn run(
    client: &Client,
    vps_id: &str,
    replaced: &[String],
) -> Result<BackupList, Diagnostic> {
    let list = client
        .list_backups(vps_id)
        .await
        .map_err(|e| read_failure(&e, VPS_ID, vps_id, Reading::BACKUPS))?;
    let freed = list
        .backups
        .iter()
        .filter(|b| replaced.contains(&b.id))
        .count();
    room_for_backup(vps_id, &list, freed)?;
    Ok(list)
}

/// The quota first (its message says which backups to delete), then the gate. A gate HostUp did
/// not send is not a reason to refuse: the POST would say so. `freed` backups are deleted before
/// the new one is made, so they count as room, and a gate HostUp closed only for the quota does
/// not block then.
pub fn room_for_backup(vps_id: &str, list: &BackupList, freed: usize) -> Result<(), Diagnostic> {
    let at = AttributePath::attribute(VPS_ID);
    let freed_places = i64::try_from(freed).unwrap_or(i64::MAX);
    if let Some(q) = &list.quota_info {
        let short = q.remaining.filter(|r| r.saturating_add(freed_places) <= 0);
        if let Some(remaining) = short {
            let of = match (q.used, q.limit) {
                (Some(u), Some(l)) => format!("{u} of {l} backups used"),
                (_, Some(l)) => format!("limit {l}"),
                _ => format!("{remaining} remaining"),
            };
            return Err(Diagnostic::error(
                "Backup quota of the VPS is full",
                format!(
                    "VPS {vps_id} has no room for another backup ({of}). Delete a backup you no \
                     longer need (the hostup_vps_backups data source lists them, oldest last), \
                     or raise the backup quota in HostUp, then plan again."
                ),
            )
            .at(at));
        }
    }
    let gate = list
        .actions
        .as_ref()
        .and_then(|a| a.can_create_backup.as_ref());
    let quota_only =
        |code: Option<&str>| matches!(code, Some("quota_exceeded" | "backup_quota_exceeded"));
    match gate {
        Some(g) if !g.allowed && freed > 0 && quota_only(g.code.as_deref()) => Ok(()),
        Some(g) if !g.allowed => Err(closed_gate(
            "HostUp does not allow a backup of this VPS now",
            format!("HostUp blocks creating a backup of VPS {vps_id}"),
            g,
        )
        .at(at)),
        Some(_) => Ok(()),
        None => {
            tracing::warn!(
                vps_id,
                "hostup_vps_backup: HostUp sent no canCreateBackup gate; going on without it"
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn list(v: serde_json::Value) -> BackupList {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn open_gate_and_room_pass_and_missing_facts_do_not_block() {
        let ok = list(
            json!({"backups": [], "quotaInfo": {"used": 1, "limit": 3, "remaining": 2},
            "actions": {"canCreateBackup": {"allowed": true}}}),
        );
        assert!(room_for_backup("vps_1", &ok, 0).is_ok());
        let unlimited = list(
            json!({"backups": [], "quotaInfo": {"used": 9, "limit": null,
            "remaining": null}}),
        );
        assert!(room_for_backup("vps_1", &unlimited, 0).is_ok());
    }

    #[test]
    fn a_full_quota_is_named_before_the_gate_it_closes() {
        let full = list(
            json!({"backups": [], "quotaInfo": {"used": 3, "limit": 3, "remaining": 0},
            "actions": {"canCreateBackup": {"allowed": false, "reason": "Backup quota reached",
                "code": "quota_exceeded"}}}),
        );
        let e = room_for_backup("vps_1", &full, 0).unwrap_err();
        assert_eq!(e.attribute, Some(AttributePath::attribute(VPS_ID)));
        assert!(e.summary.contains("quota"), "{e}");
        assert!(e.detail.contains("3 of 3 backups used"), "{e}");
        assert!(e.detail.contains("hostup_vps_backups"), "{e}");
        // A backup this plan replaces is deleted first: its place is free for the new one.
        assert!(room_for_backup("vps_1", &full, 1).is_ok());
    }

    #[test]
    fn a_closed_gate_gives_reason_code_and_advice() {
        let gated = list(
            json!({"backups": [], "quotaInfo": {"used": 0, "limit": 3, "remaining": 3},
            "actions": {"canCreateBackup": {"allowed": false,
                "reason": "Job job_7 (restore) is running on this VPS.", "code": "job_in_progress"}}}),
        );
        let e = room_for_backup("vps_1", &gated, 0).unwrap_err();
        assert_eq!(e.attribute, Some(AttributePath::attribute(VPS_ID)));
        assert!(e.detail.contains("Job job_7 (restore) is running"), "{e}");
        assert!(e.detail.contains("code job_in_progress"), "{e}");
        assert!(e.detail.contains("Wait for the running job"), "{e}");
        // Replacing a backup frees quota, not a running job.
        assert!(room_for_backup("vps_1", &gated, 1).is_err());
    }
}
