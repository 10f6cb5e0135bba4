//! The `hostup_vps_restore` state and how it maps to and from HostUp's answers: attribute names,
//! the arguments read from a plan, the facts the checks learn (target name, backup date and size,
//! source type), the job fields written after the POST, the private data that remembers the
//! job's poll URL, and the ids an imported job record must carry.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::api::{poll_url_for, Job, JobStatus, Operation, SourceType, VpsStatus};
use crate::framework::{AttributePath, Diagnostic, IdentityAttribute, IdentitySchema, Value};
use crate::hostup::power::{self, SentAction};
use crate::hostup::values::number;

/// `target_vps_id`: the VPS that is overwritten.
pub const TARGET_VPS_ID: &str = "target_vps_id";
/// `source_vps_id`: the VPS whose backup is restored.
pub const SOURCE_VPS_ID: &str = "source_vps_id";
/// `backup_id`: the backup of the source to restore, `bkp_…`.
pub const BACKUP_ID: &str = "backup_id";
/// `triggers`: arbitrary values; changing any of them restores again.
pub const TRIGGERS: &str = "triggers";
/// `confirm_target_name`: when set, must equal the target's current name.
pub const CONFIRM_TARGET_NAME: &str = "confirm_target_name";
/// `start_after_restore`: when true, the create also brings the target back up (see `power`).
pub const START_AFTER_RESTORE: &str = "start_after_restore";
/// `timeouts`: the block with the create timeout.
pub const TIMEOUTS: &str = "timeouts";
/// `id`: the restore's job id (same as `job_id`).
pub const ID: &str = "id";
/// `job_id`: the HostUp job of the restore.
pub const JOB_ID: &str = "job_id";
/// `status`: the job's last known status.
pub const STATUS: &str = "status";
/// `started_at`: when the restore was requested (RFC 3339).
pub const STARTED_AT: &str = "started_at";
/// `completed_at`: when the job ended (RFC 3339); null while it runs.
pub const COMPLETED_AT: &str = "completed_at";
/// `target_name`: the target's name, known at plan time.
pub const TARGET_NAME: &str = "target_name";
/// `source_type`: `server` or `retained`.
pub const SOURCE_TYPE: &str = "source_type";
/// `backup_created_at`: when the restored backup was taken (RFC 3339).
pub const BACKUP_CREATED_AT: &str = "backup_created_at";
/// `backup_size_gb`: the restored backup's size in GB.
pub const BACKUP_SIZE_GB: &str = "backup_size_gb";

/// `power_state`: the target's power state as last read (`running`, `stopped`, …).
pub const POWER_STATE: &str = "power_state";
/// `running_at`: when the target last started, while it runs (RFC 3339).
pub const RUNNING_AT: &str = "running_at";

/// The `status` of a restore whose request got no usable answer (no answer in time, a 5xx, an
/// unreadable success): HostUp may have started it, and there is no job id to follow.
pub const STATUS_UNANSWERED: &str = "unknown";

/// Every computed attribute, in schema order.
pub const COMPUTED_ATTRIBUTES: [&str; 11] = [
    ID,
    JOB_ID,
    STATUS,
    STARTED_AT,
    COMPLETED_AT,
    TARGET_NAME,
    SOURCE_TYPE,
    BACKUP_CREATED_AT,
    BACKUP_SIZE_GB,
    POWER_STATE,
    RUNNING_AT,
];

/// The computed attributes plan-time checks can fill in, in schema order.
pub const CHECKED_ATTRIBUTES: [&str; 4] =
    [TARGET_NAME, SOURCE_TYPE, BACKUP_CREATED_AT, BACKUP_SIZE_GB];

/// The three ids of a restore and the optional name guard, once all are known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreArgs {
    /// The VPS that is overwritten.
    pub target_vps_id: String,
    /// The VPS whose backup is restored.
    pub source_vps_id: String,
    /// The backup to restore, `bkp_…`.
    pub backup_id: String,
    /// `None` when not set; the check is skipped.
    pub confirm_target_name: Option<String>,
}

impl RestoreArgs {
    /// The arguments of a configuration or plan; `None` while any id is unknown (or missing).
    /// An unknown `confirm_target_name` counts as not set: the apply-time re-check sees it.
    pub fn from_value(v: &Value) -> Option<RestoreArgs> {
        let id = |name: &str| v.get(name).and_then(Value::as_str).map(str::to_owned);
        Some(RestoreArgs {
            target_vps_id: id(TARGET_VPS_ID)?,
            source_vps_id: id(SOURCE_VPS_ID)?,
            backup_id: id(BACKUP_ID)?,
            confirm_target_name: id(CONFIRM_TARGET_NAME),
        })
    }
}

/// What the checks learned about a restore that may go ahead.
#[derive(Clone, Debug, PartialEq)]
pub struct Checked {
    /// The target VPS id.
    pub target_id: String,
    /// The target's name, when HostUp sent one.
    pub target_name: Option<String>,
    /// The target's disk size in GB, when the details were read.
    pub target_storage_gb: Option<f64>,
    /// The source VPS id.
    pub source_id: String,
    /// The source's name, when HostUp sent one.
    pub source_name: Option<String>,
    /// Whether the source is a live server or a retained backup holder.
    pub source_type: SourceType,
    /// The backup id, found among the source's backups.
    pub backup_id: String,
    /// When the backup was taken, as HostUp sent it.
    pub backup_created_at: Option<String>,
    /// The backup's size in GB, when HostUp sent it.
    pub backup_size_gb: Option<f64>,
    /// False when neither VPS endpoint carried the restore gate, so it could not be checked.
    pub gate_checked: bool,
}

impl Checked {
    /// The values of [`CHECKED_ATTRIBUTES`], as they go into plan and state.
    pub fn computed_values(&self) -> [(&'static str, Value); 4] {
        [
            (TARGET_NAME, Value::opt_string(self.target_name.clone())),
            (SOURCE_TYPE, source_type_value(&self.source_type)),
            (
                BACKUP_CREATED_AT,
                Value::opt_string(self.backup_created_at.clone()),
            ),
            (BACKUP_SIZE_GB, number(self.backup_size_gb)),
        ]
    }

    /// Writes the computed values into `v`.
    pub fn write_into(&self, v: &mut Value) {
        for (name, value) in self.computed_values() {
            v.set(name, value);
        }
    }

    /// The computed values that differ between `planned` (where they are known) and these
    /// fresh facts: `(attribute, planned, now)`.
    pub fn drift_from(&self, planned: &Value) -> Vec<(&'static str, Value, Value)> {
        self.computed_values()
            .into_iter()
            .filter_map(|(name, now)| {
                let was = planned.get(name).cloned().unwrap_or(Value::Null);
                (!was.is_unknown() && was != now).then_some((name, was, now))
            })
            .collect()
    }
}

/// `server` / `retained` / HostUp's own word; null when HostUp did not say.
pub fn source_type_value(t: &SourceType) -> Value {
    match t {
        SourceType::Server => Value::from("server"),
        SourceType::Retained => Value::from("retained"),
        SourceType::Other(s) if !s.is_empty() => Value::from(s.as_str()),
        SourceType::Other(_) | SourceType::Missing => Value::Null,
    }
}

/// Text for messages: "server", "retained", or "unknown type".
pub fn source_type_text(t: &SourceType) -> &str {
    match t {
        SourceType::Server => "server",
        SourceType::Retained => "retained",
        SourceType::Other(s) if !s.is_empty() => s,
        SourceType::Other(_) | SourceType::Missing => "unknown type",
    }
}

/// The private data of a restore, kept with its state as JSON: where its job is polled, whether
/// the job ended in this provider's sight, and, in a plan, whether the replacement is deliberate.
/// Each field says one fact; a restore whose request got no usable answer has no job, and says so
/// in its state (status `unknown`, no job id: see `earlier::EarlierJob::unanswered`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Private {
    /// Where the job is polled, as the restore's answer gave it.
    pub poll_url: String,
    /// True when the provider stopped waiting before the job ended (timeout, Stop, lost answer):
    /// the job may have gone on at HostUp, so a replacement adopts it rather than restoring
    /// again (see `earlier`). Cleared only when a create records the job's end itself.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unsettled: bool,
    /// Set in the plan of a replacement the user asked for (`-replace`, a changed argument) of a
    /// restore that was not tainted: Terraform hands it to the delete of the replaced object,
    /// which then must not offer that object's job for adoption.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replaced_on_purpose: bool,
    /// True when the restore completed but the start that `start_after_restore` asks for did not
    /// finish (refused, timed out, interrupted): a replacement adopts the completed job and
    /// finishes the start rather than restoring again (see `earlier`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub start_pending: bool,
    /// The start sent for `start_after_restore` whose end was not seen: a later run waits for
    /// it and never sends it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<SentAction>,
}

impl Private {
    /// The private data of a restore HostUp accepted as `op`; `unsettled` when the wait for it
    /// ended before the job did.
    pub fn from_operation(op: &Operation, unsettled: bool) -> Private {
        Private {
            poll_url: op.poll_url.clone(),
            unsettled,
            ..Private::default()
        }
    }

    /// The private data as it is stored with the state (JSON).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The recorded private data, or an empty record when there is none or it is unreadable.
    pub fn from_bytes(bytes: &[u8]) -> Private {
        serde_json::from_slice(bytes).unwrap_or_default()
    }

    /// The recorded poll URL, or the documented job location for `job_id` (an imported restore,
    /// or a state without private data); `None` when neither is usable.
    pub fn poll_url_for(&self, job_id: &str) -> Option<String> {
        poll_url_for(&self.poll_url, job_id)
    }
}

/// The identity of a restore (Terraform and OpenTofu 1.12+): the HostUp job that ran it, which is
/// what its import id names too.
pub fn identity_schema() -> IdentitySchema {
    IdentitySchema::new(vec![IdentityAttribute::required_string(
        JOB_ID,
        "The HostUp job id of the restore, `job_…`.",
    )])
}

/// The identity of the restore `state` records.
pub fn identity_of(state: &Value) -> Value {
    identity_schema().from_state(state, &[(JOB_ID, JOB_ID)])
}

/// The import id an identity names: its job id.
pub fn import_id_of(identity: &Value) -> Result<String, Diagnostic> {
    identity.get_str(JOB_ID).map(str::to_owned).ok_or_else(|| {
        Diagnostic::error(
            "Missing job_id",
            "Import hostup_vps_restore by identity with `identity = { job_id = \"job_…\" }`.",
        )
        .at(AttributePath::attribute(JOB_ID))
    })
}

/// An RFC 3339 timestamp (UTC, whole seconds) of now.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Writes the job fields into a state value.
pub fn write_job(
    v: &mut Value,
    job_id: &str,
    status: &JobStatus,
    started_at: &str,
    completed_at: Option<&str>,
) {
    v.set(ID, Value::from(job_id));
    v.set(JOB_ID, Value::from(job_id));
    v.set(STATUS, Value::from(status.as_str()));
    v.set(STARTED_AT, Value::from(started_at));
    v.set(COMPLETED_AT, Value::opt_string(completed_at));
    write_power(v, None);
}

/// Writes the target's power state as `status` reports it (null when unread): `power_state`,
/// and `running_at` (kept when the start it reports is the one already recorded, see
/// [`power::running_at`]).
pub fn write_power(v: &mut Value, status: Option<&VpsStatus>) {
    let prior = v.get_str(RUNNING_AT).map(str::to_owned);
    v.set(
        POWER_STATE,
        Value::opt_string(status.map(|s| power::state_of(s).to_owned())),
    );
    v.set(RUNNING_AT, power::running_at(status, prior.as_deref()));
}

/// Whether the configuration (or plan) asks to start the target after the restore.
pub fn starts_after_restore(v: &Value) -> bool {
    v.get(START_AFTER_RESTORE).and_then(Value::as_bool) == Some(true)
}

/// Writes the record of a restore whose request got no usable answer: no job, status
/// [`STATUS_UNANSWERED`], the time it was sent.
pub fn write_unanswered(v: &mut Value, started_at: &str) {
    v.set(ID, Value::Null);
    v.set(JOB_ID, Value::Null);
    v.set(STATUS, Value::from(STATUS_UNANSWERED));
    v.set(STARTED_AT, Value::from(started_at));
    v.set(COMPLETED_AT, Value::Null);
    write_power(v, None);
}

/// Updates status and completion time from a refreshed job record. A record without a finish
/// time keeps the completion time already in state.
pub fn refresh_job(v: &mut Value, job: &Job) {
    v.set(STATUS, Value::from(job.status.as_str()));
    if let Some(done) = &job.finished_at {
        v.set(COMPLETED_AT, Value::from(done.as_str()));
    }
}

/// A string under `key` in the job's result, either at its top level or one level down in
/// `result` (HostUp wraps the worker's own result in its job envelope).
fn result_string(result: &Json, key: &str) -> Option<String> {
    let pick = |v: Option<&Json>| {
        v.and_then(Json::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    pick(result.get("result").and_then(|r| r.get(key))).or_else(|| pick(result.get(key)))
}

/// The target, source and backup ids a restore job's record names, when it names all three.
pub fn ids_from_job(job: &Job) -> Option<(String, String, String)> {
    let r = job.result.as_ref()?;
    Some((
        result_string(r, "targetVpsId")?,
        result_string(r, "sourceVpsId")?,
        result_string(r, "backupId")?,
    ))
}

/// A GB figure for messages: "18 GB", "12.4 GB".
pub fn gb(size: f64) -> String {
    if size.fract() == 0.0 && size.abs() < 1.0e15 {
        format!("{} GB", size as i64)
    } else {
        format!("{} GB", (size * 100.0).round() / 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn checked() -> Checked {
        Checked {
            target_id: "vps_t".into(),
            target_name: Some("web-01".into()),
            target_storage_gb: Some(80.0),
            source_id: "vps_s".into(),
            source_name: Some("db-01".into()),
            source_type: SourceType::Retained,
            backup_id: "bkp_1".into(),
            backup_created_at: Some("2026-04-27T10:00:00.000Z".into()),
            backup_size_gb: Some(18.0),
            gate_checked: true,
        }
    }

    #[test]
    fn args_need_all_three_ids_known() {
        let mut v = Value::object([
            (TARGET_VPS_ID, Value::from("vps_t")),
            (SOURCE_VPS_ID, Value::from("vps_s")),
            (BACKUP_ID, Value::Unknown),
            (CONFIRM_TARGET_NAME, Value::Unknown),
        ]);
        assert_eq!(RestoreArgs::from_value(&v), None);
        v.set(BACKUP_ID, Value::from("bkp_1"));
        let args = RestoreArgs::from_value(&v).expect("known ids");
        assert_eq!(args.backup_id, "bkp_1");
        assert_eq!(args.confirm_target_name, None, "unknown guard is deferred");
    }

    #[test]
    fn checked_facts_map_to_state_values() {
        let mut state = Value::object([(TARGET_NAME, Value::Unknown)]);
        checked().write_into(&mut state);
        assert_eq!(state.get_str(TARGET_NAME), Some("web-01"));
        assert_eq!(state.get_str(SOURCE_TYPE), Some("retained"));
        assert_eq!(
            state.get_str(BACKUP_CREATED_AT),
            Some("2026-04-27T10:00:00.000Z")
        );
        assert_eq!(
            state.get(BACKUP_SIZE_GB).and_then(Value::as_f64),
            Some(18.0)
        );
        let mut odd = checked();
        odd.source_type = SourceType::Missing;
        odd.backup_size_gb = None;
        odd.write_into(&mut state);
        assert_eq!(state.get(SOURCE_TYPE), Some(&Value::Null));
        assert_eq!(state.get(BACKUP_SIZE_GB), Some(&Value::Null));
    }

    #[test]
    fn drift_ignores_unknown_and_reports_changed_known_values() {
        let mut planned = Value::object([
            (TARGET_NAME, Value::from("web-01")),
            (SOURCE_TYPE, Value::Unknown),
            (BACKUP_CREATED_AT, Value::from("2026-04-27T10:00:00.000Z")),
            (BACKUP_SIZE_GB, Value::float(18.0)),
        ]);
        assert!(checked().drift_from(&planned).is_empty());
        planned.set(TARGET_NAME, Value::from("web-old"));
        let drift = checked().drift_from(&planned);
        assert_eq!(drift.len(), 1);
        assert_eq!(drift[0].0, TARGET_NAME);
        assert_eq!(drift[0].2, Value::from("web-01"));
    }

    #[test]
    fn private_data_round_trips_and_falls_back_to_the_job_path() {
        let p = Private {
            poll_url: "/api/jobs/job_9".into(),
            ..Private::default()
        };
        assert_eq!(p.to_bytes(), br#"{"poll_url":"/api/jobs/job_9"}"#);
        assert_eq!(Private::from_bytes(&p.to_bytes()), p);
        let marked = Private {
            unsettled: true,
            replaced_on_purpose: true,
            start_pending: true,
            start: Some(SentAction::Unanswered),
            ..p.clone()
        };
        assert_eq!(Private::from_bytes(&marked.to_bytes()), marked);
        assert_eq!(p.poll_url_for("job_7").as_deref(), Some("/api/jobs/job_9"));
        let none = Private::from_bytes(b"not json");
        assert_eq!(none, Private::default());
        assert_eq!(
            none.poll_url_for("job_7").as_deref(),
            Some("/api/jobs/job_7")
        );
        assert_eq!(
            none.poll_url_for(""),
            None,
            "an unanswered restore has no job"
        );
        assert_eq!(none.poll_url_for("../etc"), None);
    }

    #[test]
    fn job_fields_are_written_and_refreshed() {
        let mut v = Value::object([(COMPLETED_AT, Value::Unknown)]);
        write_job(
            &mut v,
            "job_1",
            &JobStatus::Queued,
            "2026-05-01T00:00:00Z",
            None,
        );
        assert_eq!(v.get_str(ID), Some("job_1"));
        assert_eq!(v.get_str(JOB_ID), Some("job_1"));
        assert_eq!(v.get_str(STATUS), Some("queued"));
        assert_eq!(v.get(COMPLETED_AT), Some(&Value::Null));
        let job = Job::from_value(&json!({"data": {"jobId": "job_1", "status": "completed",
            "finishedAt": "2026-05-01T00:05:00Z"}}))
        .unwrap();
        refresh_job(&mut v, &job);
        assert_eq!(v.get_str(STATUS), Some("completed"));
        assert_eq!(v.get_str(COMPLETED_AT), Some("2026-05-01T00:05:00Z"));
    }

    #[test]
    fn job_ids_are_found_nested_or_flat_and_absent_is_none() {
        let nested = Job::from_value(&json!({"data": {"jobId": "j", "status": "completed",
            "result": {"success": true, "result": {"targetVpsId": "vps_t",
            "sourceVpsId": "vps_s", "backupId": "bkp_1"}}}}))
        .unwrap();
        assert_eq!(
            ids_from_job(&nested),
            Some(("vps_t".into(), "vps_s".into(), "bkp_1".into()))
        );
        let flat = Job::from_value(&json!({"data": {"jobId": "j", "status": "completed",
            "result": {"targetVpsId": "vps_t", "sourceVpsId": "vps_s", "backupId": "bkp_1"}}}))
        .unwrap();
        assert!(ids_from_job(&flat).is_some());
        let partial = Job::from_value(&json!({"data": {"jobId": "j", "status": "failed",
            "result": {"error": "x", "targetVpsId": "vps_t"}}}))
        .unwrap();
        assert_eq!(ids_from_job(&partial), None);
    }

    #[test]
    fn the_identity_is_the_job_and_names_the_import_id() {
        let state = Value::object([(JOB_ID, Value::from("job_1")), (STATUS, Value::Null)]);
        let identity = identity_of(&state);
        assert_eq!(identity, Value::object([(JOB_ID, Value::from("job_1"))]));
        assert_eq!(import_id_of(&identity).unwrap(), "job_1");
        assert_eq!(
            identity_of(&Value::Null),
            Value::Null,
            "no object, no identity"
        );
        // A restore whose request went unanswered has no job: its identity says so.
        let unanswered = identity_of(&Value::object([(JOB_ID, Value::Null)]));
        assert_eq!(unanswered, Value::object([(JOB_ID, Value::Null)]));
        let e = import_id_of(&unanswered).unwrap_err();
        assert_eq!(e.attribute, Some(AttributePath::attribute(JOB_ID)));
        let t = identity_schema().value_type();
        assert_eq!(
            t,
            crate::framework::Type::object([(JOB_ID, crate::framework::Type::String)])
        );
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(gb(18.0), "18 GB");
        assert_eq!(gb(12.4), "12.4 GB");
        assert_eq!(gb(96.5), "96.5 GB");
    }
}
