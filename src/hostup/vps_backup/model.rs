//! The `hostup_vps_backup` state and how it maps to and from HostUp's answers: attribute names,
//! the facts of a listed backup, the import id `vps_id/backup_id`, the private data that
//! remembers the create job and the backups that existed before it, and how the new backup's id
//! is found once the job has finished (hostup-api.md §15.7).

use serde::{Deserialize, Serialize};

use crate::api::{poll_url_for, validate_id, Backup, Job};
use crate::framework::{AttributePath, Diagnostic, IdentityAttribute, IdentitySchema, Value};
use crate::hostup::values::{number, text};

/// `vps_id`: the VPS to back up; changing it takes a new backup.
pub const VPS_ID: &str = "vps_id";
/// `note`: the note the backup is taken with; changing it takes a new backup.
pub const NOTE: &str = "note";
/// `timeouts`: the block with the create and delete timeouts.
pub const TIMEOUTS: &str = "timeouts";
/// `id`: the backup id, `bkp_…`; null until the create job is seen to finish.
pub const ID: &str = "id";
/// `created_at`: when HostUp took the backup.
pub const CREATED_AT: &str = "created_at";
/// `size_gb`: the backup's size in GB.
pub const SIZE_GB: &str = "size_gb";
/// `backup_type`: `manual` or `scheduled`, as HostUp lists it.
pub const BACKUP_TYPE: &str = "backup_type";
/// `job_id`: the HostUp job that took the backup.
pub const JOB_ID: &str = "job_id";

/// Writes what HostUp's backup list says about `b` into a state value. The note is an input and
/// is left alone: taking HostUp's word for it would plan a replacement, that is, a new backup.
pub fn write_facts(state: &mut Value, b: &Backup) {
    state.set(CREATED_AT, text(b.created_at.as_deref()));
    state.set(SIZE_GB, number(b.size_gb));
    state.set(BACKUP_TYPE, text(b.backup_type.as_deref()));
}

/// The two ids of an import id `vps_id/backup_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportId {
    /// The VPS the backup belongs to.
    pub vps_id: String,
    /// The backup id, `bkp_…`.
    pub backup_id: String,
}

/// `backup_id`: the backup's id in the identity (`id` in state).
pub const IDENTITY_BACKUP_ID: &str = "backup_id";

/// The identity of a backup (Terraform and OpenTofu 1.12+): its VPS and its id, the two halves
/// of its import id.
pub fn identity_schema() -> IdentitySchema {
    IdentitySchema::new(vec![
        IdentityAttribute::required_string(VPS_ID, "Id of the VPS the backup belongs to, `vps_…`."),
        IdentityAttribute::required_string(IDENTITY_BACKUP_ID, "Id of the backup, `bkp_…`."),
    ])
}

/// The identity of the backup `state` records.
pub fn identity_of(state: &Value) -> Value {
    identity_schema().from_state(state, &[(VPS_ID, VPS_ID), (IDENTITY_BACKUP_ID, ID)])
}

/// The import id (`vps_id/backup_id`) an identity names.
pub fn import_id_of(identity: &Value) -> Result<String, Diagnostic> {
    let part = |name: &str| {
        identity.get_str(name).ok_or_else(|| {
            Diagnostic::error(
                format!("Missing {name}"),
                "Import hostup_vps_backup by identity with `identity = { vps_id = \"vps_…\", \
                 backup_id = \"bkp_…\" }`.",
            )
            .at(AttributePath::attribute(name))
        })
    };
    Ok(format!("{}/{}", part(VPS_ID)?, part(IDENTITY_BACKUP_ID)?))
}

/// An example import id for messages.
pub const IMPORT_ID_EXAMPLE: &str = "vps_01j9k2db000000000000000001/bkp_01j9k2db200000000000000001";

impl ImportId {
    /// Parses `vps_id/backup_id`; the error says what was wrong and what the form is.
    pub fn parse(raw: &str) -> Result<ImportId, String> {
        let form = format!(
            "Import hostup_vps_backup by `<vps_id>/<backup_id>`, for example \
             {IMPORT_ID_EXAMPLE} (the VPS the backup belongs to, a slash, the backup id)."
        );
        let Some((vps, backup)) = raw.split_once('/') else {
            return Err(format!("{raw:?} has no slash. {form}"));
        };
        if backup.contains('/') {
            return Err(format!("{raw:?} has more than one slash. {form}"));
        }
        validate_id("VPS id", vps).map_err(|e| format!("{e} {form}"))?;
        validate_id("backup id", backup).map_err(|e| format!("{e} {form}"))?;
        Ok(ImportId {
            vps_id: vps.to_owned(),
            backup_id: backup.to_owned(),
        })
    }
}

/// The private data of a backup: where its create job is polled and which backups the VPS had
/// before it, so the new one can still be found after a timeout or an interrupt.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Private {
    /// Where the create job is polled.
    #[serde(default)]
    pub poll_url: String,
    /// The ids of the backups the VPS had before the create; the new one is the one not among them.
    #[serde(default)]
    pub known_before: Vec<String>,
    /// True when the create stopped waiting before its job ended (a timeout, Stop): the job may
    /// still make the backup, so the replacement of the tainted object adopts it (`earlier`).
    /// Cleared only when a create records the job's end itself.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unsettled: bool,
    /// Set in the plan of a replacement that adopts the replaced object's job: Terraform hands
    /// it to that object's delete, which then keeps the backup instead of deleting it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopted: bool,
}

impl Private {
    /// The private data as it is stored with the state (JSON).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The recorded private data, or an empty record when there is none or it is unreadable.
    pub fn from_bytes(bytes: &[u8]) -> Private {
        serde_json::from_slice(bytes).unwrap_or_default()
    }

    /// The recorded poll URL, or the documented job location for `job_id`; `None` when neither
    /// is usable.
    pub fn poll_url_for(&self, job_id: &str) -> Option<String> {
        poll_url_for(&self.poll_url, job_id)
    }

    /// The record a create leaves once it stops following its job (sent or adopted): `unsettled`
    /// unless the job `ended` in sight, and without the plan-only `adopted` mark.
    pub fn recorded(self, ended: bool) -> Private {
        Private {
            unsettled: !ended,
            adopted: false,
            ..self
        }
    }
}

/// Which backup a finished create job made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NewBackup {
    /// The job named it, or exactly one backup appeared.
    Found(String),
    /// Nothing new in the list and the job named nothing.
    Missing,
    /// More than one backup appeared (a scheduled backup ran at the same time) and the job named
    /// none of them: guessing could later delete the wrong backup.
    Ambiguous(Vec<String>),
}

/// The id of the backup a finished job created: the job result's `backupId` when present;
/// otherwise the backup in `after` that was not in `before`, narrowed by `note` when several
/// appeared.
pub fn resolve_new_backup(
    job: Option<&Job>,
    before: &[String],
    after: &[Backup],
    note: Option<&str>,
) -> NewBackup {
    if let Some(id) = job.and_then(Job::result_backup_id) {
        return NewBackup::Found(id);
    }
    let fresh: Vec<&Backup> = after
        .iter()
        .filter(|b| !before.iter().any(|old| old == &b.id))
        .collect();
    let narrowed: Vec<&Backup> = if fresh.len() > 1 {
        fresh
            .iter()
            .copied()
            .filter(|b| b.note.as_deref() == note)
            .collect()
    } else {
        fresh.clone()
    };
    match narrowed.as_slice() {
        [one] => NewBackup::Found(one.id.clone()),
        [] if fresh.is_empty() => NewBackup::Missing,
        _ => NewBackup::Ambiguous(fresh.iter().map(|b| b.id.clone()).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn backups(v: serde_json::Value) -> Vec<Backup> {
        serde_json::from_value(v).unwrap()
    }

    fn job(result: serde_json::Value) -> Job {
        Job::from_value(&json!({"data": {"jobId": "job_1", "status": "completed",
            "result": result}}))
        .unwrap()
    }

    #[test]
    fn import_ids_need_two_valid_ids_and_one_slash() {
        assert_eq!(
            ImportId::parse("vps_01a/bkp_01b"),
            Ok(ImportId {
                vps_id: "vps_01a".into(),
                backup_id: "bkp_01b".into()
            })
        );
        for bad in [
            "bkp_01b",
            "vps_01a/",
            "/bkp_01b",
            "vps_01a/bkp_01b/x",
            "vps 01a/bkp_01b",
            "vps_01a/../bkp",
            "",
        ] {
            let e = ImportId::parse(bad).expect_err(bad);
            assert!(e.contains("<vps_id>/<backup_id>"), "{bad}: {e}");
            assert!(e.contains(IMPORT_ID_EXAMPLE), "{bad}: {e}");
        }
    }

    #[test]
    fn the_job_result_names_the_backup_first() {
        let after = backups(json!([{"id": "bkp_new"}, {"id": "bkp_other"}]));
        let j = job(json!({"success": true, "result": {"backupId": "bkp_named"}}));
        assert_eq!(
            resolve_new_backup(Some(&j), &[], &after, None),
            NewBackup::Found("bkp_named".into())
        );
    }

    #[test]
    fn the_identity_is_the_vps_and_the_backup_and_names_the_import_id() {
        let state = Value::object([
            (VPS_ID, Value::from("vps_1")),
            (ID, Value::from("bkp_1")),
            (NOTE, Value::from("nightly")),
        ]);
        let identity = identity_of(&state);
        assert_eq!(
            identity,
            Value::object([
                (VPS_ID, Value::from("vps_1")),
                (IDENTITY_BACKUP_ID, Value::from("bkp_1"))
            ])
        );
        let id = import_id_of(&identity).unwrap();
        assert_eq!(id, "vps_1/bkp_1");
        let parsed = ImportId::parse(&id).unwrap();
        assert_eq!(
            (parsed.vps_id.as_str(), parsed.backup_id.as_str()),
            ("vps_1", "bkp_1")
        );
        let half = Value::object([
            (VPS_ID, Value::from("vps_1")),
            (IDENTITY_BACKUP_ID, Value::Null),
        ]);
        let e = import_id_of(&half).unwrap_err();
        assert_eq!(
            e.attribute,
            Some(AttributePath::attribute(IDENTITY_BACKUP_ID))
        );
    }

    #[test]
    fn without_a_named_id_the_one_new_backup_is_taken() {
        let before = vec!["bkp_old".to_string()];
        let after = backups(json!([{"id": "bkp_old"}, {"id": "bkp_new"}]));
        let j = job(json!({"success": true}));
        assert_eq!(
            resolve_new_backup(Some(&j), &before, &after, None),
            NewBackup::Found("bkp_new".into())
        );
        assert_eq!(
            resolve_new_backup(None, &before, &after[..1], None),
            NewBackup::Missing
        );
    }

    #[test]
    fn several_new_backups_are_narrowed_by_note_or_refused() {
        let after = backups(json!([
            {"id": "bkp_sched", "note": null},
            {"id": "bkp_mine", "note": "before upgrade"}
        ]));
        assert_eq!(
            resolve_new_backup(None, &[], &after, Some("before upgrade")),
            NewBackup::Found("bkp_mine".into())
        );
        assert_eq!(
            resolve_new_backup(None, &[], &after, Some("other")),
            NewBackup::Ambiguous(vec!["bkp_sched".into(), "bkp_mine".into()])
        );
        let twins = backups(json!([{"id": "bkp_a"}, {"id": "bkp_b"}]));
        assert!(matches!(
            resolve_new_backup(None, &[], &twins, None),
            NewBackup::Ambiguous(_)
        ));
    }

    #[test]
    fn facts_come_from_the_list_and_blanks_are_null() {
        let b = &backups(json!([{"id": "bkp_1", "createdAt": "2026-05-01T00:00:00Z",
            "sizeGb": 12.4, "backupType": "manual", "note": "from HostUp"}]))[0];
        let mut state = Value::object([(NOTE, Value::from("mine"))]);
        write_facts(&mut state, b);
        assert_eq!(state.get_str(CREATED_AT), Some("2026-05-01T00:00:00Z"));
        assert_eq!(state.get(SIZE_GB).and_then(Value::as_f64), Some(12.4));
        assert_eq!(state.get_str(BACKUP_TYPE), Some("manual"));
        assert_eq!(state.get_str(NOTE), Some("mine"), "the note is an input");
        let bare = &backups(json!([{"id": "bkp_2", "backupType": " "}]))[0];
        write_facts(&mut state, bare);
        assert_eq!(state.get(BACKUP_TYPE), Some(&Value::Null));
        assert_eq!(state.get(SIZE_GB), Some(&Value::Null));
    }

    #[test]
    fn a_create_records_its_job_unsettled_only_when_it_stopped_following_it() {
        let planned = Private {
            poll_url: "/api/jobs/job_9".into(),
            known_before: vec!["bkp_1".into()],
            unsettled: true,
            adopted: true,
        };
        let stopped = planned.clone().recorded(false);
        assert!(stopped.unsettled, "the next plan adopts the job again");
        assert!(!stopped.adopted, "a plan-only mark never reaches the state");
        let ended = planned.clone().recorded(true);
        assert!(!ended.unsettled && !ended.adopted);
        assert_eq!(ended.known_before, planned.known_before, "the rest is kept");
    }

    #[test]
    fn private_data_round_trips_and_falls_back_to_the_job_path() {
        let p = Private {
            poll_url: "/api/jobs/job_9".into(),
            known_before: vec!["bkp_1".into()],
            ..Private::default()
        };
        assert_eq!(
            p.to_bytes(),
            br#"{"poll_url":"/api/jobs/job_9","known_before":["bkp_1"]}"#,
            "the marks are written only when set"
        );
        assert_eq!(Private::from_bytes(&p.to_bytes()), p);
        let marked = Private {
            unsettled: true,
            adopted: true,
            ..p
        };
        assert_eq!(Private::from_bytes(&marked.to_bytes()), marked);
        let empty = Private::from_bytes(b"not json");
        assert_eq!(
            empty.poll_url_for("job_7").as_deref(),
            Some("/api/jobs/job_7")
        );
        assert_eq!(empty.poll_url_for("../x"), None);
    }
}
