//! The HostUp resources as this client reads them: VPS summaries and details, action gates,
//! restore sources, backups, operations and jobs. Reading is tolerant on purpose (the public docs
//! are incomplete): unknown fields are ignored, `null` and missing optional fields become `None`,
//! numbers may arrive as integers, floats or numeric strings, and a malformed optional object
//! (a gate, billing) becomes `None` instead of failing the whole answer. Ids stay strict.

use std::fmt;

use serde::de::{DeserializeOwned, Deserializer};
use serde::Deserialize;
use serde_json::Value;

use super::error::ApiError;

/// Field deserializers that turn the odd shapes HostUp may send into `None` instead of errors.
mod de {
    use super::*;

    pub(super) fn lenient<'de, D: Deserializer<'de>, T: DeserializeOwned>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        let v = Value::deserialize(d)?;
        if v.is_null() {
            return Ok(None);
        }
        Ok(serde_json::from_value(v).ok())
    }

    pub(super) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        })
    }

    pub(super) fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Ok(super::number(&Value::deserialize(d)?))
    }

    pub(super) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Ok(super::number(&Value::deserialize(d)?)
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64))
    }

    pub(super) fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        Ok(matches!(Value::deserialize(d)?, Value::Bool(true)))
    }

    pub(super) fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Vec<T>, D::Error> {
        Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
    }
}

/// A number from a JSON number or a numeric string.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

fn non_empty(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

/// An action gate: whether HostUp allows an action now, and if not, why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Gate {
    /// A gate without a readable `allowed` counts as closed.
    #[serde(default, deserialize_with = "de::flag")]
    pub allowed: bool,
    /// Why the action is not allowed, in HostUp's words; usually `None` when it is.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub reason: Option<String>,
    /// Machine-readable blocker, e.g. `pending_order` or `job_in_progress`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub code: Option<String>,
}

/// The `actions` object of a VPS summary or details.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpsActions {
    /// Gate of restoring this VPS from a backup of another VPS (the headline operation).
    #[serde(default, deserialize_with = "de::lenient")]
    pub can_restore_from_another_vps: Option<Gate>,
    /// Gate of restarting the VPS.
    #[serde(default, deserialize_with = "de::lenient")]
    pub can_restart: Option<Gate>,
    /// Gate of resetting the VPS.
    #[serde(default, deserialize_with = "de::lenient")]
    pub can_reset: Option<Gate>,
}

/// The operating system a VPS runs, as HostUp names it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperatingSystem {
    /// For people, e.g. `Ubuntu 24.04`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub display_name: Option<String>,
    /// Lower-case family, e.g. `ubuntu`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub family: Option<String>,
    /// The release, e.g. `24.04`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub version: Option<String>,
    /// An edition within the release, when HostUp names one.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub variant: Option<String>,
}

/// What a VPS costs and how it is billed.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Billing {
    /// The price per billing cycle, in `currency_code`.
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub amount: Option<f64>,
    /// ISO 4217 code, e.g. `SEK`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub currency_code: Option<String>,
    /// `monthly`, `quarterly`, … `free`; pay-as-you-go VPS report `monthly`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub billing_cycle: Option<String>,
    /// `true` for a pay-as-you-go Cloud VPS, `false` for a fixed-cycle one.
    #[serde(default, deserialize_with = "de::lenient")]
    pub is_payg: Option<bool>,
    /// The billing period in years, e.g. `1`.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub period_years: Option<i64>,
}

/// One VPS as `GET /api/v2/vps` and `GET /api/v2/vps/{id}` describe it. Status fields are kept as
/// strings because HostUp's enums are open-ended.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vps {
    /// The VPS id, `vps_…`; the key of every other VPS route.
    pub id: String,
    /// The name the customer gave the VPS, e.g. `app-01`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    /// The primary IP address, e.g. `192.0.2.10`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub primary_ip: Option<String>,
    /// `active`, `suspended`, `terminated`, `pending`, …
    #[serde(default, deserialize_with = "de::opt_string")]
    pub service_status: Option<String>,
    /// `running`, `stopped`, …
    #[serde(default, deserialize_with = "de::opt_string")]
    pub power_state: Option<String>,
    /// The installed operating system, when HostUp says.
    #[serde(default, deserialize_with = "de::lenient")]
    pub operating_system: Option<OperatingSystem>,
    /// What the VPS costs.
    #[serde(default, deserialize_with = "de::lenient")]
    pub billing: Option<Billing>,
    /// The action gates; `None` when this answer carries none.
    #[serde(default, deserialize_with = "de::lenient")]
    pub actions: Option<VpsActions>,
}

/// `GET /api/v2/vps/{id}/status`: the live state of a VPS. The provider reads its power state
/// and uptime; the usage figures are left unread.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpsStatus {
    /// The VPS id, `vps_…`, when the answer carries it.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub id: Option<String>,
    /// `running`, `stopped`, `starting`, `stopping`, … (kept open-ended).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub power_state: Option<String>,
    /// Seconds since the VPS last started; `None` when it is not running or HostUp does not say.
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub uptime_seconds: Option<f64>,
}

/// A power action, `POST /api/v2/vps/{id}/actions/{action}` (scope `power:vm`), which HostUp
/// answers with a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PowerAction {
    /// Powers the VPS on.
    Start,
    /// Asks the guest to shut down (ACPI).
    Shutdown,
    /// Powers the VPS off at once.
    Stop,
    /// Asks the guest to reboot.
    Restart,
    /// A hard reset, as the power button does.
    Reset,
}

impl PowerAction {
    /// Every action, in the order HostUp's docs list them.
    pub const ALL: [PowerAction; 5] = [
        PowerAction::Start,
        PowerAction::Shutdown,
        PowerAction::Stop,
        PowerAction::Restart,
        PowerAction::Reset,
    ];

    /// The action's name, as in the path.
    pub fn as_str(self) -> &'static str {
        match self {
            PowerAction::Start => "start",
            PowerAction::Shutdown => "shutdown",
            PowerAction::Stop => "stop",
            PowerAction::Restart => "restart",
            PowerAction::Reset => "reset",
        }
    }

    /// The action named `name`, if HostUp has one by that name.
    pub fn parse(name: &str) -> Option<PowerAction> {
        PowerAction::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

impl fmt::Display for PowerAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Network traffic of a VPS in its current billing period, in gigabytes.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bandwidth {
    /// Traffic used so far.
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub used_gb: Option<f64>,
    /// Traffic included in the plan.
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub limit_gb: Option<f64>,
    /// Traffic received.
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub inbound_gb: Option<f64>,
    /// Traffic sent.
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub outbound_gb: Option<f64>,
    /// `used_gb` as a percentage of `limit_gb`.
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub usage_percent: Option<f64>,
}

/// `GET /api/v2/vps/{id}/details`. `storage_gb` is the target disk size a backup must fit in.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpsDetails {
    /// The VPS id, `vps_…`.
    pub id: String,
    /// The product the VPS was ordered as, e.g. `VPS XS`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub product_name: Option<String>,
    /// The VPS's host name, e.g. `web-01.example.com`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub hostname: Option<String>,
    /// `active`, `suspended`, `terminated`, `pending`, … (kept open-ended).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub service_status: Option<String>,
    /// `running`, `stopped`, … (kept open-ended).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub power_state: Option<String>,
    /// When the VPS was created, ISO 8601 as sent.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub created_at: Option<String>,
    /// When the next invoice is due, ISO 8601 as sent.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub next_due_at: Option<String>,
    /// What the VPS costs.
    #[serde(default, deserialize_with = "de::lenient")]
    pub billing: Option<Billing>,
    /// Virtual CPU cores.
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub cpu_cores: Option<f64>,
    /// Memory, in gigabytes.
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub memory_gb: Option<f64>,
    /// Disk size in gigabytes; a backup restored onto this VPS must fit in it.
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub storage_gb: Option<f64>,
    /// How many backups the plan includes.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub backups_included: Option<i64>,
    /// Network traffic of the billing period.
    #[serde(default, deserialize_with = "de::lenient")]
    pub bandwidth: Option<Bandwidth>,
    /// The action gates; `None` when this answer carries none.
    #[serde(default, deserialize_with = "de::lenient")]
    pub actions: Option<VpsActions>,
}

/// Where a restore gate was read from (§15.1 of the API notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateOrigin {
    /// `GET /api/v2/vps/{id}` → `actions.canRestoreFromAnotherVps`.
    Vps,
    /// `GET /api/v2/vps/{id}/details` → `actions.canRestoreFromAnotherVps`.
    Details,
}

/// The result of looking up the cross-VPS restore gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateLookup {
    /// An answer carried the gate.
    Found {
        /// The gate as HostUp sent it.
        gate: Gate,
        /// Which answer carried it.
        origin: GateOrigin,
    },
    /// Neither endpoint carries the gate; the caller goes on and warns that it could not check.
    Unknown,
}

impl GateLookup {
    /// The cross-VPS restore gate from what was read: the summary's first, else the details'
    /// (when they were read), else unknown. The one place this order is decided.
    pub fn from_answers(vps: &Vps, details: Option<&VpsDetails>) -> GateLookup {
        let gate = |actions: Option<&VpsActions>| {
            actions.and_then(|a| a.can_restore_from_another_vps.clone())
        };
        if let Some(gate) = gate(vps.actions.as_ref()) {
            GateLookup::Found {
                gate,
                origin: GateOrigin::Vps,
            }
        } else if let Some(gate) = details.and_then(|d| gate(d.actions.as_ref())) {
            GateLookup::Found {
                gate,
                origin: GateOrigin::Details,
            }
        } else {
            GateLookup::Unknown
        }
    }

    /// The gate, when one was found.
    pub fn gate(&self) -> Option<&Gate> {
        match self {
            GateLookup::Found { gate, .. } => Some(gate),
            GateLookup::Unknown => None,
        }
    }
}

/// `GET /api/v2/vps` page.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "T: Deserialize<'de>"))]
pub struct Page<T> {
    /// The items of this page; missing counts as none.
    #[serde(default = "Vec::new", deserialize_with = "de::list")]
    pub data: Vec<T>,
    /// Whether another page follows; ask for it with `next_cursor`.
    #[serde(default, deserialize_with = "de::flag")]
    pub has_more: bool,
    /// The cursor of the next page, when `has_more`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub next_cursor: Option<String>,
}

/// Whether a restore source is a live server or a backup retained from a terminated service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SourceType {
    /// `server`: a live VPS of the same client.
    Server,
    /// `retained`: a terminated service whose backups HostUp still keeps.
    Retained,
    /// A value this client does not know, kept verbatim (empty when absent).
    Other(String),
    /// HostUp sent no `sourceType`.
    #[default]
    Missing,
}

impl<'de> Deserialize<'de> for SourceType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match de::opt_string(d)?.as_deref() {
            None => SourceType::Missing,
            Some("server") => SourceType::Server,
            Some("retained") => SourceType::Retained,
            Some(other) => SourceType::Other(other.to_owned()),
        })
    }
}

/// A backup offered by restore-sources.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceBackup {
    /// The backup id, `bkp_…`; what a restore is asked for.
    pub id: String,
    /// For people: the time and the archive name, e.g.
    /// `2026-04-27T10:00:00.000Z (vzdump-qemu-101.vma.zst)`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub display_id: Option<String>,
    /// The archive's name in backup storage, e.g. `vzdump-qemu-101.vma.zst`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub storage_key: Option<String>,
    /// When the backup was taken, ISO 8601 as sent.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub created_at: Option<String>,
    /// Integer in the docs for this endpoint, a number elsewhere; both are accepted.
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub size_gb: Option<f64>,
    /// `manual` or `scheduled`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub backup_type: Option<String>,
    /// The note the backup was taken with, e.g. `Before upgrade`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub note: Option<String>,
}

/// A VPS (live or terminated) whose backups may be restored onto a given target.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreSource {
    /// The source VPS id, `vps_…`; passed as `sourceVpsId` to a restore.
    pub id: String,
    /// The name the customer gave the source VPS.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    /// `active`, `terminated`, … (kept open-ended).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub service_status: Option<String>,
    /// A live server or a retained backup holder.
    #[serde(default)]
    pub source_type: SourceType,
    /// The backups of this source that may be restored onto the target.
    #[serde(default = "Vec::new", deserialize_with = "de::list")]
    pub backups: Vec<SourceBackup>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct RestoreSourcesBody {
    #[serde(default = "Vec::new", deserialize_with = "de::list")]
    pub sources: Vec<RestoreSource>,
}

/// A backup of a VPS, from `GET /api/v2/vps/{id}/backups`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backup {
    /// The backup id, `bkp_…`.
    pub id: String,
    /// For people: the time and the archive name, e.g.
    /// `2026-04-27T10:00:00.000Z (vzdump-qemu-101.vma.zst)`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub display_id: Option<String>,
    /// The archive's name in backup storage, e.g. `vzdump-qemu-101.vma.zst`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub storage_key: Option<String>,
    /// When the backup was taken, ISO 8601 as sent.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub created_at: Option<String>,
    /// Size in gigabytes; it must fit in the target's `storage_gb` to be restored there.
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub size_gb: Option<f64>,
    /// `manual` or `scheduled`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub backup_type: Option<String>,
    /// The note the backup was taken with, e.g. `Before upgrade`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub note: Option<String>,
}

/// How many backups a VPS may keep (`quotaInfo` of the backups list).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaInfo {
    /// Backups held now.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub used: Option<i64>,
    /// `None` when HostUp sends `null` (unlimited or unknown).
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub limit: Option<i64>,
    /// Backups that can still be taken; `None` when HostUp sends `null`.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub remaining: Option<i64>,
}

/// The backup gates of a VPS (`actions` of the backups list). HostUp folds service status, quota,
/// permission and in-flight jobs into them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupActions {
    /// Gate of taking a new backup.
    #[serde(default, deserialize_with = "de::lenient")]
    pub can_create_backup: Option<Gate>,
    /// Gate of restoring one of this VPS's own backups onto it.
    #[serde(default, deserialize_with = "de::lenient")]
    pub can_restore: Option<Gate>,
    /// Gate of restoring a backup of another VPS onto this one.
    #[serde(default, deserialize_with = "de::lenient")]
    pub can_restore_from_another_vps: Option<Gate>,
}

/// `GET /api/v2/vps/{id}/backups`: the backups, the quota and the backup gates.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupList {
    /// The backups, in HostUp's order; missing counts as none.
    #[serde(default = "Vec::new", deserialize_with = "de::list")]
    pub backups: Vec<Backup>,
    /// How many backups the VPS may keep, when HostUp says.
    #[serde(default, deserialize_with = "de::lenient")]
    pub quota_info: Option<QuotaInfo>,
    /// The backup gates, when HostUp sends them.
    #[serde(default, deserialize_with = "de::lenient")]
    pub actions: Option<BackupActions>,
}

/// What `delete_backup` found.
#[derive(Debug, Clone, PartialEq)]
pub enum DeleteOutcome {
    /// HostUp deleted the backup (204, or a body without a job).
    Deleted,
    /// HostUp queued the deletion as a job (an answer carrying an operation envelope, which the
    /// docs do not show but the contract's "wait where a job is returned" allows for).
    Queued(Operation),
    /// HostUp answered 404: the backup (or its VPS) no longer exists. A destroy treats this as
    /// done; `code` tells which (`not_found`, `vps_not_found`, …) when HostUp said.
    AlreadyGone {
        /// The problem document's `code`, when HostUp sent one.
        code: Option<String>,
        /// HostUp's id of the 404 answer, when it sent one.
        request_id: Option<String>,
    },
}

impl DeleteOutcome {
    /// Reads a successful DELETE answer: an operation envelope means a queued job; an empty body,
    /// or any other body, means the backup is gone (the documented 204).
    pub(crate) fn from_success_body(body: &[u8]) -> DeleteOutcome {
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return DeleteOutcome::Deleted;
        };
        let carries_job =
            value.get("operation").is_some_and(Value::is_object) || value.get("jobId").is_some();
        match carries_job.then(|| Operation::from_value(&value)) {
            Some(Ok(op)) => DeleteOutcome::Queued(op),
            _ => DeleteOutcome::Deleted,
        }
    }
}

/// A job's status. Only `Completed` and `Failed` are terminal; every other value, including
/// strings this client has never seen, means "still running".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    /// `pending`: not started yet.
    Pending,
    /// `queued`: accepted and queued, the status of a fresh operation.
    Queued,
    /// `waiting`: not running yet.
    Waiting,
    /// `active`: running.
    Active,
    /// `in_progress`: running.
    InProgress,
    /// `completed`: ended successfully (terminal).
    Completed,
    /// `failed`: ended in failure (terminal).
    Failed,
    /// A status this client does not know, kept trimmed (empty when absent); still running.
    Other(String),
}

impl JobStatus {
    /// Reads a status, ignoring case and surrounding whitespace; anything unknown is `Other`.
    pub fn parse(s: &str) -> JobStatus {
        match s.trim().to_ascii_lowercase().as_str() {
            "pending" => JobStatus::Pending,
            "queued" => JobStatus::Queued,
            "waiting" => JobStatus::Waiting,
            "active" => JobStatus::Active,
            "in_progress" => JobStatus::InProgress,
            "completed" => JobStatus::Completed,
            "failed" => JobStatus::Failed,
            _ => JobStatus::Other(s.trim().to_owned()),
        }
    }

    /// The status as HostUp spells it; `unknown` for an empty `Other`.
    pub fn as_str(&self) -> &str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Queued => "queued",
            JobStatus::Waiting => "waiting",
            JobStatus::Active => "active",
            JobStatus::InProgress => "in_progress",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Other(s) if s.is_empty() => "unknown",
            JobStatus::Other(s) => s,
        }
    }

    /// Whether the job has ended (completed or failed), so waiting stops.
    pub fn is_terminal(&self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Failed)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The documented location of job `job_id` (`/api/jobs/{jobId}`, outside `/api/v2`), for a
/// job whose answer carried no `pollUrl` or whose poll URL was not kept. Refuses an id that is
/// not a HostUp id, so nothing odd is put into a URL.
pub fn job_poll_path(job_id: &str) -> Result<String, ApiError> {
    super::endpoint::validate_id("job id", job_id)?;
    Ok(format!("/api/jobs/{job_id}"))
}

/// Where to poll job `job_id`: the URL recorded from HostUp's answer, or else (nothing recorded:
/// an import, an older state) the documented job location; `None` when neither is usable.
pub fn poll_url_for(recorded: &str, job_id: &str) -> Option<String> {
    if !recorded.trim().is_empty() {
        return Some(recorded.to_owned());
    }
    job_poll_path(job_id).ok()
}

/// The answer of an asynchronous write: a queued job and where to poll it.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// The job's status when HostUp answered; `queued` when it sent none.
    pub status: JobStatus,
    /// HostUp's job id, `job_…`.
    pub job_id: String,
    /// As HostUp sent it, normally a path like `/api/jobs/job_…` (not under `/api/v2`).
    pub poll_url: String,
    /// What HostUp put in `result`; usually `None` until the job ends.
    pub result: Option<Value>,
}

impl Operation {
    /// Reads `{operation: {status, jobId, pollUrl, result}}` (or the same fields unwrapped).
    /// A missing `pollUrl` falls back to `/api/jobs/{jobId}`, the documented job location.
    pub(crate) fn from_value(v: &Value) -> Result<Operation, String> {
        let obj = v
            .get("operation")
            .filter(|o| o.is_object())
            .unwrap_or(v)
            .as_object()
            .ok_or("the body is not a JSON object")?;
        let job_id = non_empty(obj.get("jobId")).ok_or("`operation.jobId` is missing")?;
        let poll_url = match non_empty(obj.get("pollUrl")) {
            Some(p) => p,
            None => job_poll_path(&job_id).map_err(|e| e.to_string())?,
        };
        let status = non_empty(obj.get("status"))
            .map(|s| JobStatus::parse(&s))
            .unwrap_or(JobStatus::Queued);
        Ok(Operation {
            status,
            job_id,
            poll_url,
            result: obj.get("result").filter(|r| !r.is_null()).cloned(),
        })
    }
}

/// A job record, read from either envelope of the job endpoint: the legacy
/// `{success, data: {jobId, status, state, progress, …}}` or the v2 `{operation: {…}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Empty only if HostUp left it out; `wait_for_job` fills it from the operation.
    pub job_id: String,
    /// `Failed` when `isFailed` or status `failed`; else `Completed` when `isCompleted` or status
    /// `completed`; else the reported status (or `state`).
    pub status: JobStatus,
    /// The legacy record's `state`, as sent.
    pub state: Option<String>,
    /// `progressDetails.percentage`, else a numeric `progress`.
    pub percentage: Option<f64>,
    /// `progressDetails.message`, else `progressMessage`.
    pub message: Option<String>,
    /// The legacy `progressMessage`, as sent.
    pub progress_message: Option<String>,
    /// `failedReason`, set on some failed jobs.
    pub failed_reason: Option<String>,
    /// The job's `result`; a finished backup job may carry the new backup's id in it.
    pub result: Option<Value>,
    /// When the job was created, ISO 8601 as sent.
    pub created_at: Option<String>,
    /// When the job ended, ISO 8601 as sent; `None` while it runs.
    pub finished_at: Option<String>,
}

impl Job {
    pub(crate) fn from_value(v: &Value) -> Result<Job, String> {
        if let Some(op) = v.get("operation").filter(|o| o.is_object()) {
            let op = Operation::from_value(op)?;
            return Ok(Job {
                job_id: op.job_id,
                status: op.status,
                state: None,
                percentage: None,
                message: None,
                progress_message: None,
                failed_reason: None,
                result: op.result,
                created_at: None,
                finished_at: None,
            });
        }
        let data = v
            .get("data")
            .filter(|d| d.is_object())
            .or_else(|| v.get("jobId").map(|_| v))
            .and_then(Value::as_object)
            .ok_or("neither a legacy `data` job record nor an `operation` envelope")?;
        let flag = |k: &str| data.get(k).and_then(Value::as_bool).unwrap_or(false);
        let state = non_empty(data.get("state"));
        let reported = non_empty(data.get("status"))
            .or_else(|| state.clone())
            .map(|s| JobStatus::parse(&s))
            .unwrap_or(JobStatus::Other(String::new()));
        let status = if flag("isFailed") || reported == JobStatus::Failed {
            JobStatus::Failed
        } else if flag("isCompleted") || reported == JobStatus::Completed {
            JobStatus::Completed
        } else {
            reported
        };
        let details = data.get("progressDetails").and_then(Value::as_object);
        let progress_message = non_empty(data.get("progressMessage"));
        Ok(Job {
            job_id: non_empty(data.get("jobId")).unwrap_or_default(),
            status,
            state,
            percentage: details
                .and_then(|d| d.get("percentage"))
                .and_then(number)
                .or_else(|| data.get("progress").and_then(number)),
            message: details
                .and_then(|d| non_empty(d.get("message")))
                .or_else(|| progress_message.clone()),
            progress_message,
            failed_reason: non_empty(data.get("failedReason")),
            result: data.get("result").filter(|r| !r.is_null()).cloned(),
            created_at: non_empty(data.get("createdAt")),
            finished_at: non_empty(data.get("finishedAt")),
        })
    }

    /// Whether the job ended successfully.
    pub fn is_completed(&self) -> bool {
        self.status == JobStatus::Completed
    }

    /// Whether the job ended in failure.
    pub fn is_failed(&self) -> bool {
        self.status == JobStatus::Failed
    }

    /// Why the job failed: the first non-empty of `failedReason`, `result.error`,
    /// `result.message`, `progressMessage`.
    pub fn failure_reason(&self) -> Option<String> {
        let from_result = |key: &str| {
            let v = self.result.as_ref()?.get(key)?;
            non_empty(Some(v)).or_else(|| non_empty(v.get("message")))
        };
        self.failed_reason
            .clone()
            .or_else(|| from_result("error"))
            .or_else(|| from_result("message"))
            .or_else(|| self.progress_message.clone())
    }

    /// The id of the backup a finished backup job created: `result.result.backupId`, or
    /// `result.backupId`.
    pub fn result_backup_id(&self) -> Option<String> {
        let r = self.result.as_ref()?;
        non_empty(r.get("result").and_then(|i| i.get("backupId")))
            .or_else(|| non_empty(r.get("backupId")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn power_actions_are_named_as_in_the_path() {
        let names: Vec<&str> = PowerAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names, ["start", "shutdown", "stop", "restart", "reset"]);
        for action in PowerAction::ALL {
            assert_eq!(PowerAction::parse(action.as_str()), Some(action));
            assert_eq!(action.to_string(), action.as_str());
        }
        assert_eq!(PowerAction::parse("Start"), None);
        assert_eq!(PowerAction::parse("hibernate"), None);
    }

    #[test]
    fn status_reads_power_and_uptime_and_tolerates_the_rest() {
        let s: VpsStatus = serde_json::from_value(json!({
            "id": "vps_1", "powerState": "running", "uptimeSeconds": 3600,
            "cpuUsagePercent": 4.5, "pendingTasks": [{"x": 1}], "futureField": true
        }))
        .unwrap();
        assert_eq!(s.power_state.as_deref(), Some("running"));
        assert_eq!(s.uptime_seconds, Some(3600.0));
        let stopped: VpsStatus =
            serde_json::from_value(json!({"powerState": "stopped", "uptimeSeconds": null}))
                .unwrap();
        assert_eq!(stopped.id, None);
        assert_eq!(stopped.uptime_seconds, None);
    }

    #[test]
    fn delete_answers_are_gone_unless_they_carry_a_job() {
        assert_eq!(
            DeleteOutcome::from_success_body(b""),
            DeleteOutcome::Deleted
        );
        assert_eq!(
            DeleteOutcome::from_success_body(br#"{"success":true}"#),
            DeleteOutcome::Deleted
        );
        let queued = DeleteOutcome::from_success_body(
            br#"{"operation":{"status":"queued","jobId":"job_d1","pollUrl":"/api/jobs/job_d1"}}"#,
        );
        match queued {
            DeleteOutcome::Queued(op) => {
                assert_eq!(op.job_id, "job_d1");
                assert_eq!(op.poll_url, "/api/jobs/job_d1");
            }
            other => panic!("expected a queued delete, got {other:?}"),
        }
        // A job id that cannot be polled is not a job to wait for.
        assert_eq!(
            DeleteOutcome::from_success_body(br#"{"jobId":"../x"}"#),
            DeleteOutcome::Deleted
        );
    }

    #[test]
    fn vps_tolerates_nulls_unknowns_and_odd_gates() {
        let v: Vps = serde_json::from_value(json!({
            "id": "vps_1", "name": null, "primaryIp": "192.0.2.10", "serviceStatus": "active",
            "powerState": "", "futureField": {"x": 1}, "billing": "weird",
            "actions": {"canRestoreFromAnotherVps": {"allowed": true, "reason": null},
                        "canRestart": true, "canNew": {"allowed": false}}
        }))
        .unwrap();
        assert_eq!(v.name, None);
        assert_eq!(v.billing, None);
        let actions = v.actions.unwrap();
        assert_eq!(
            actions.can_restore_from_another_vps,
            Some(Gate {
                allowed: true,
                reason: None,
                code: None
            })
        );
        assert_eq!(actions.can_restart, None);
        assert!(serde_json::from_value::<Vps>(json!({"name": "x"})).is_err());
    }

    #[test]
    fn size_gb_accepts_integer_float_and_string() {
        for (raw, want) in [
            (json!(12), Some(12.0)),
            (json!(12.4), Some(12.4)),
            (json!("7.5"), Some(7.5)),
            (json!(null), None),
        ] {
            let b: SourceBackup =
                serde_json::from_value(json!({"id": "bkp_1", "sizeGb": raw})).unwrap();
            assert_eq!(b.size_gb, want);
        }
    }

    #[test]
    fn source_type_is_typed_and_open() {
        let s: RestoreSource = serde_json::from_value(json!({
            "id": "vps_2", "name": "old", "serviceStatus": "terminated", "sourceType": "retained",
            "backups": null
        }))
        .unwrap();
        assert_eq!(s.source_type, SourceType::Retained);
        assert!(s.backups.is_empty());
        let s: RestoreSource =
            serde_json::from_value(json!({"id": "vps_3", "sourceType": "mirror"})).unwrap();
        assert_eq!(s.source_type, SourceType::Other("mirror".into()));
    }

    #[test]
    fn legacy_job_envelope_is_read() {
        let j = Job::from_value(&json!({"success": true, "data": {
            "jobId": "job_1", "status": "active", "state": "active", "progress": 10,
            "progressMessage": "Copying", "progressDetails": {"percentage": 42.5, "message": "Copying disk"},
            "isCompleted": false, "isFailed": false, "isRunning": true, "isWaiting": false,
            "result": null, "failedReason": null, "createdAt": "2026-01-01T00:00:00Z", "finishedAt": null
        }}))
        .unwrap();
        assert_eq!(j.job_id, "job_1");
        assert_eq!(j.status, JobStatus::Active);
        assert_eq!(j.percentage, Some(42.5));
        assert_eq!(j.message.as_deref(), Some("Copying disk"));
        assert!(!j.status.is_terminal());
    }

    #[test]
    fn legacy_flags_decide_terminal_state_and_failure_wins() {
        let done =
            Job::from_value(&json!({"data": {"jobId": "j", "status": "x", "isCompleted": true}}))
                .unwrap();
        assert!(done.is_completed());
        let failed = Job::from_value(
            &json!({"data": {"jobId": "j", "isCompleted": true, "isFailed": true,
            "failedReason": "", "result": {"error": "disk too small"}, "progressMessage": "later"}}),
        )
        .unwrap();
        assert!(failed.is_failed());
        assert_eq!(failed.failure_reason().as_deref(), Some("disk too small"));
        let by_message = Job::from_value(&json!({"data": {"jobId": "j", "status": "failed",
            "result": {"message": "quota"}}}))
        .unwrap();
        assert_eq!(by_message.failure_reason().as_deref(), Some("quota"));
        let by_progress = Job::from_value(&json!({"data": {"jobId": "j", "status": "failed",
            "progressMessage": "stopped"}}))
        .unwrap();
        assert_eq!(by_progress.failure_reason().as_deref(), Some("stopped"));
    }

    #[test]
    fn v2_job_envelope_and_unknown_status() {
        let j = Job::from_value(
            &json!({"operation": {"status": "completed", "jobId": "job_2",
            "pollUrl": "/api/jobs/job_2", "result": {"result": {"backupId": "bkp_9"}}}}),
        )
        .unwrap();
        assert!(j.is_completed());
        assert_eq!(j.result_backup_id().as_deref(), Some("bkp_9"));
        let j = Job::from_value(
            &json!({"operation": {"status": "defragmenting", "jobId": "job_2",
            "pollUrl": "/api/jobs/job_2"}}),
        )
        .unwrap();
        assert_eq!(j.status, JobStatus::Other("defragmenting".into()));
        assert!(!j.status.is_terminal());
        assert!(Job::from_value(&json!({"hello": 1})).is_err());
    }

    #[test]
    fn operation_defaults_poll_url_from_job_id() {
        let op = Operation::from_value(&json!({"operation": {"status": "queued", "jobId": "job_7",
            "result": null}}))
        .unwrap();
        assert_eq!(op.poll_url, "/api/jobs/job_7");
        assert_eq!(op.status, JobStatus::Queued);
        assert!(Operation::from_value(&json!({"operation": {"status": "queued"}})).is_err());
        assert!(Operation::from_value(&json!({"operation": {"jobId": "../x"}})).is_err());
    }
}
