//! The simulated HostUp account world: clients, keys, VPSes, backups, retained sources and jobs,
//! plus the rules that change them (restores, backup creation and deletion, gate evaluation).
//!
//! Time is the simulator's wall clock. Jobs are not driven by a background task: every request
//! first calls [`World::advance`], which finishes the jobs whose time has come and applies their
//! effects, then drops job records past their retention. Anything a client can observe goes
//! through a request, so the outcome is the same as with a ticking worker, and deterministic.
//!
//! This is the model only; the HostUp JSON shapes a client sees of it are `render.rs`'s.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::fixture::{parse_time, Fixture, FixtureBackup, FixtureGate};
use crate::problem::Problem;
use crate::settings::Settings;

#[derive(Clone, Debug)]
pub(crate) struct Gate {
    pub allowed: bool,
    pub reason: Option<String>,
    pub code: Option<String>,
}

impl Gate {
    pub(crate) fn open() -> Gate {
        Gate {
            allowed: true,
            reason: None,
            code: None,
        }
    }
    fn closed(code: &str, reason: String) -> Gate {
        Gate {
            allowed: false,
            reason: Some(reason),
            code: Some(code.to_string()),
        }
    }
    fn from_fixture(g: &Option<FixtureGate>) -> Gate {
        match g {
            Some(g) => Gate {
                allowed: g.allowed,
                reason: g.reason.clone(),
                code: g.code.clone(),
            },
            None => Gate::open(),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Backup {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub size_gb: f64,
    pub backup_type: String,
    pub note: Option<String>,
    pub storage_key: String,
    pub fail_restore: Option<String>,
}

impl Backup {
    /// The `n`th made-up backup of VPS `vps_id` (the fixture's `generatedBackups`).
    fn generated(vps_id: &str, n: u32) -> Backup {
        let short = vps_id.strip_prefix("vps_").unwrap_or(vps_id);
        let first = DateTime::parse_from_rfc3339("2026-01-01T02:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        Backup {
            id: format!("bkp_{short}_{n:03}"),
            created_at: first + chrono::Duration::days(i64::from(n)),
            size_gb: f64::from(4 + n % 5),
            backup_type: "scheduled".into(),
            note: None,
            storage_key: format!("backups/{vps_id}/generated-{n}.qcow2"),
            fail_restore: None,
        }
    }

    fn from_fixture(b: &FixtureBackup, index: usize) -> anyhow::Result<Backup> {
        Ok(Backup {
            id: b.id.clone(),
            created_at: parse_time(&b.created_at)?,
            size_gb: b.size_gb,
            backup_type: b.backup_type.clone(),
            note: b.note.clone(),
            storage_key: b
                .storage_key
                .clone()
                .unwrap_or_else(|| format!("vzdump-qemu-{}.vma.zst", 100 + index)),
            fail_restore: b.fail_restore.clone(),
        })
    }
}

#[derive(Clone, Debug)]
pub(crate) struct RestoredFrom {
    pub source_vps_id: String,
    pub backup_id: String,
    pub job_id: String,
    pub completed_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub(crate) struct Vps {
    pub id: String,
    pub client: String,
    pub name: String,
    pub service_status: String,
    pub power_state: Option<String>,
    pub primary_ip: Option<String>,
    pub storage_gb: f64,
    pub cpu_cores: f64,
    pub memory_gb: f64,
    pub product_name: Option<String>,
    pub hostname: Option<String>,
    pub operating_system: Option<Value>,
    pub billing: Value,
    pub backup_quota: Option<u32>,
    pub new_backup_size_gb: f64,
    pub created_at: DateTime<Utc>,
    pub restore_gate: Gate,
    pub create_backup_gate: Gate,
    pub same_restore_gate: Gate,
    pub backups: Vec<Backup>,
    pub restored_from: Option<RestoredFrom>,
    pub restore_count: u32,
    /// What HostUp does with this VPS's power after a restore (the fixture's choice).
    pub after_restore: AfterRestore,
    /// When HostUp starts this VPS again after a restore, while it has not yet.
    pub starts_at: Option<Instant>,
    /// Since when the VPS has been running (`uptimeSeconds`); `None` while it is not.
    pub running_since: Option<DateTime<Utc>>,
    /// Power actions on this VPS fail with this reason.
    pub fail_power: Option<String>,
}

impl Vps {
    /// Powers the VPS on or off as of `at`.
    fn set_power(&mut self, running: bool, at: DateTime<Utc>) {
        if running {
            if self.power_state.as_deref() != Some("running") {
                self.running_since = Some(at);
            }
            self.power_state = Some("running".into());
        } else {
            self.power_state = Some("stopped".into());
            self.running_since = None;
        }
    }
}

/// How long ago `at` was, as of `now`.
fn since(now: Instant, at: Instant) -> chrono::Duration {
    chrono::Duration::from_std(now.saturating_duration_since(at))
        .unwrap_or(chrono::Duration::zero())
}

/// What HostUp does with a target's power once a restore ends well: hostup-api.md §14 (question
/// 6) leaves it open, so each fixture VPS chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AfterRestore {
    /// Started again this long after the job ends.
    Started(Duration),
    /// Left stopped until someone starts it.
    Stopped,
}

/// The power actions of `POST /api/v2/vps/{id}/actions/{action}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PowerAction {
    Start,
    Shutdown,
    Stop,
    Restart,
    Reset,
}

impl PowerAction {
    pub(crate) fn parse(name: &str) -> Option<PowerAction> {
        Some(match name {
            "start" => PowerAction::Start,
            "shutdown" => PowerAction::Shutdown,
            "stop" => PowerAction::Stop,
            "restart" => PowerAction::Restart,
            "reset" => PowerAction::Reset,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            PowerAction::Start => "start",
            PowerAction::Shutdown => "shutdown",
            PowerAction::Stop => "stop",
            PowerAction::Restart => "restart",
            PowerAction::Reset => "reset",
        }
    }

    /// Whether the VPS runs once the action is done.
    fn leaves_running(self) -> bool {
        matches!(
            self,
            PowerAction::Start | PowerAction::Restart | PowerAction::Reset
        )
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Retained {
    pub id: String,
    pub client: String,
    pub name: String,
    pub service_status: String,
    pub backups: Vec<Backup>,
}

#[derive(Debug)]
pub(crate) struct ApiKey {
    pub key: String,
    pub client: String,
    pub scopes: Vec<String>,
    pub label: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) enum JobKind {
    RestoreFromVps {
        source_vps_id: String,
        backup_id: String,
        fail: Option<String>,
    },
    CreateBackup {
        backup_id: String,
        note: Option<String>,
    },
    DeleteBackup {
        backup_id: String,
    },
    Power {
        action: PowerAction,
        fail: Option<String>,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Job {
    pub id: String,
    pub client: String,
    pub vps_id: String,
    pub kind: JobKind,
    pub started: Instant,
    pub created_at: DateTime<Utc>,
    pub duration: Duration,
    /// `Some` once finished: success (its result object is rendered from `kind`) or the failure
    /// reason.
    pub outcome: Option<Result<(), String>>,
    pub finished: Option<(Instant, DateTime<Utc>)>,
}

impl Job {
    pub(crate) fn type_name(&self) -> &'static str {
        match self.kind {
            JobKind::RestoreFromVps { .. } => "restore_from_vps",
            JobKind::CreateBackup { .. } => "backup_create",
            JobKind::DeleteBackup { .. } => "backup_delete",
            JobKind::Power { action, .. } => match action {
                PowerAction::Start => "vps_start",
                PowerAction::Shutdown => "vps_shutdown",
                PowerAction::Stop => "vps_stop",
                PowerAction::Restart => "vps_restart",
                PowerAction::Reset => "vps_reset",
            },
        }
    }
}

/// Where a job stands at one instant, as both envelopes report it.
#[derive(Debug)]
pub(crate) struct JobView {
    pub status: &'static str,
    pub state: &'static str,
    pub percentage: u32,
    pub message: String,
}

/// Whether a restore source is a live VPS or what is kept of a terminated service.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SourceKind {
    Server,
    Retained,
}

/// One candidate source of a restore, borrowed from the world.
#[derive(Debug)]
pub(crate) struct RestoreSource<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub service_status: &'a str,
    pub kind: SourceKind,
    pub backups: &'a [Backup],
}

#[derive(Debug)]
pub(crate) struct Caller {
    pub client: String,
    pub scopes: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct World {
    pub settings: Settings,
    pub base_url: String,
    pub clients: Vec<(String, Option<String>)>,
    pub keys: Vec<ApiKey>,
    pub vps: Vec<Vps>,
    pub retained: Vec<Retained>,
    pub jobs: Vec<Job>,
    counters: HashMap<&'static str, u64>,
}

/// Counter-based ids that look like HostUp's: prefix, `01`, then 24 zero-padded digits.
pub(crate) fn make_id(prefix: &str, n: u64) -> String {
    format!("{prefix}_01{n:024}")
}

impl World {
    pub(crate) fn from_fixture(fixture: &Fixture, settings: Settings) -> anyhow::Result<World> {
        let now = Utc::now();
        let mut vps = Vec::new();
        for v in &fixture.vps {
            let after_restore = match (
                v.power_after_restore.as_deref(),
                v.start_after_restore_seconds,
            ) {
                (None | Some("running"), secs) => {
                    AfterRestore::Started(Duration::from_secs(secs.unwrap_or(0)))
                }
                (Some("stopped"), None) => AfterRestore::Stopped,
                (Some("stopped"), Some(_)) => anyhow::bail!(
                    "VPS {}: startAfterRestoreSeconds needs powerAfterRestore \"running\"",
                    v.id
                ),
                (Some(other), _) => anyhow::bail!(
                    "VPS {}: powerAfterRestore must be \"running\" or \"stopped\", not {other:?}",
                    v.id
                ),
            };
            let created_at = match &v.created_at {
                Some(t) => parse_time(t)?,
                None => now,
            };
            let mut backups = v
                .backups
                .iter()
                .enumerate()
                .map(|(i, b)| Backup::from_fixture(b, i))
                .collect::<anyhow::Result<Vec<_>>>()?;
            backups.extend((0..v.generated_backups).map(|n| Backup::generated(&v.id, n)));
            vps.push(Vps {
                id: v.id.clone(),
                client: v.client.clone(),
                name: v.name.clone(),
                service_status: v.service_status.clone(),
                power_state: v.power_state.clone(),
                primary_ip: v.primary_ip.clone(),
                storage_gb: v.storage_gb,
                cpu_cores: v.cpu_cores.unwrap_or(2.0),
                memory_gb: v.memory_gb.unwrap_or(4.0),
                product_name: v.product_name.clone(),
                hostname: v.hostname.clone(),
                operating_system: v.operating_system.clone(),
                billing: v.billing.clone().unwrap_or_else(|| {
                    json!({"amount": 199, "currencyCode": "SEK", "billingCycle": "monthly",
                           "isPayg": false, "periodYears": null})
                }),
                backup_quota: v.backup_quota,
                new_backup_size_gb: v
                    .new_backup_size_gb
                    .unwrap_or(((v.storage_gb * 2.5).round()) / 10.0),
                created_at,
                restore_gate: Gate::from_fixture(&v.gates.can_restore_from_another_vps),
                create_backup_gate: Gate::from_fixture(&v.gates.can_create_backup),
                same_restore_gate: Gate::from_fixture(&v.gates.can_restore),
                backups,
                restored_from: None,
                restore_count: 0,
                after_restore,
                starts_at: None,
                running_since: (v.power_state.as_deref() == Some("running")).then_some(created_at),
                fail_power: v.fail_power_actions.clone(),
            });
        }
        let mut retained = Vec::new();
        for r in &fixture.retained {
            retained.push(Retained {
                id: r.id.clone(),
                client: r.client.clone(),
                name: r.name.clone(),
                service_status: r.service_status.clone(),
                backups: r
                    .backups
                    .iter()
                    .enumerate()
                    .map(|(i, b)| Backup::from_fixture(b, i))
                    .collect::<anyhow::Result<Vec<_>>>()?,
            });
        }
        Ok(World {
            settings,
            base_url: String::new(),
            clients: fixture
                .clients
                .iter()
                .map(|c| (c.id.clone(), c.name.clone()))
                .collect(),
            keys: fixture
                .api_keys
                .iter()
                .map(|k| ApiKey {
                    key: k.key.clone(),
                    client: k.client.clone(),
                    scopes: k.scopes.clone(),
                    label: k.label.clone(),
                })
                .collect(),
            vps,
            retained,
            jobs: Vec::new(),
            counters: HashMap::new(),
        })
    }

    pub(crate) fn next_id(&mut self, prefix: &'static str) -> String {
        let n = self.counters.entry(prefix).or_insert(0);
        *n += 1;
        make_id(prefix, *n)
    }

    pub(crate) fn caller(&self, key: &str) -> Option<Caller> {
        self.keys.iter().find(|k| k.key == key).map(|k| Caller {
            client: k.client.clone(),
            scopes: k.scopes.clone(),
        })
    }

    /// Finishes due jobs (applying their effects) and forgets records past retention.
    pub(crate) fn advance(&mut self, now: Instant) {
        let mut due = Vec::new();
        for (i, job) in self.jobs.iter().enumerate() {
            if job.outcome.is_none() && now >= job.started + job.duration {
                due.push(i);
            }
        }
        for i in due {
            self.finish_job(i);
        }
        for vps in &mut self.vps {
            if let Some(at) = vps.starts_at.filter(|&at| now >= at) {
                vps.starts_at = None;
                vps.set_power(true, Utc::now() - since(now, at));
            }
        }
        let retention = self.settings.job_retention;
        self.jobs.retain(|j| match j.finished {
            Some((at, _)) => now < at + retention,
            None => true,
        });
    }

    fn finish_job(&mut self, index: usize) {
        let job = self.jobs[index].clone();
        let finished_at = job.created_at
            + chrono::Duration::from_std(job.duration).unwrap_or(chrono::Duration::zero());
        let outcome = match &job.kind {
            JobKind::RestoreFromVps {
                fail: Some(reason), ..
            } => Err(reason.clone()),
            JobKind::RestoreFromVps {
                source_vps_id,
                backup_id,
                ..
            } => {
                if let Some(target) = self.vps.iter_mut().find(|v| v.id == job.vps_id) {
                    target.restored_from = Some(RestoredFrom {
                        source_vps_id: source_vps_id.clone(),
                        backup_id: backup_id.clone(),
                        job_id: job.id.clone(),
                        completed_at: finished_at,
                    });
                    target.restore_count += 1;
                    // HostUp stopped the target for the restore; what happens next is the
                    // fixture's choice.
                    target.set_power(false, finished_at);
                    if let AfterRestore::Started(delay) = target.after_restore {
                        target.starts_at = Some(job.started + job.duration + delay);
                    }
                }
                Ok(())
            }
            JobKind::Power {
                fail: Some(reason), ..
            } => Err(reason.clone()),
            JobKind::Power { action, .. } => {
                if let Some(vps) = self.vps.iter_mut().find(|v| v.id == job.vps_id) {
                    vps.starts_at = None;
                    vps.set_power(action.leaves_running(), finished_at);
                }
                Ok(())
            }
            JobKind::CreateBackup { backup_id, note } => {
                if let Some(vps) = self.vps.iter_mut().find(|v| v.id == job.vps_id) {
                    let n = vps.backups.len() + 100;
                    vps.backups.push(Backup {
                        id: backup_id.clone(),
                        created_at: finished_at,
                        size_gb: vps.new_backup_size_gb,
                        backup_type: "manual".into(),
                        note: note.clone(),
                        storage_key: format!("vzdump-qemu-{n}.vma.zst"),
                        fail_restore: None,
                    });
                }
                Ok(())
            }
            JobKind::DeleteBackup { backup_id } => {
                if let Some(vps) = self.vps.iter_mut().find(|v| v.id == job.vps_id) {
                    vps.backups.retain(|b| &b.id != backup_id);
                }
                Ok(())
            }
        };
        let job = &mut self.jobs[index];
        job.outcome = Some(outcome);
        job.finished = Some((job.started + job.duration, finished_at));
    }

    /// The power state HostUp reports for `vps` now: `stopped` while a restore runs on it,
    /// `starting` or `stopping` while a power action does, else the stored state.
    pub(crate) fn power_state(&self, vps: &Vps) -> Option<String> {
        match self.running_job_on(&vps.id).map(|j| &j.kind) {
            Some(JobKind::RestoreFromVps { .. }) => Some("stopped".into()),
            Some(JobKind::Power { action, .. }) => Some(
                if action.leaves_running() {
                    "starting"
                } else {
                    "stopping"
                }
                .into(),
            ),
            _ => vps.power_state.clone(),
        }
    }

    pub(crate) fn running_job_on(&self, vps_id: &str) -> Option<&Job> {
        self.jobs
            .iter()
            .find(|j| j.vps_id == vps_id && j.outcome.is_none())
    }

    pub(crate) fn find_vps(&self, caller: &Caller, id: &str) -> Result<usize, Problem> {
        self.vps
            .iter()
            .position(|v| v.id == id && v.client == caller.client)
            .ok_or_else(|| Problem::vps_not_found(id))
    }

    /// A fixture gate, closed further by a running job or an inactive service.
    pub(crate) fn effective_gate(&self, vps: &Vps, base: &Gate) -> Gate {
        if let Some(job) = self.running_job_on(&vps.id) {
            return Gate::closed(
                "job_in_progress",
                format!(
                    "Job {} ({}) is running on this VPS.",
                    job.id,
                    job.type_name()
                ),
            );
        }
        if !base.allowed {
            return base.clone();
        }
        if vps.service_status != "active" {
            return Gate::closed(
                "service_not_active",
                format!("The service is {}.", vps.service_status),
            );
        }
        Gate::open()
    }

    pub(crate) fn restore_gate(&self, vps: &Vps) -> Gate {
        self.effective_gate(vps, &vps.restore_gate)
    }

    pub(crate) fn create_backup_gate(&self, vps: &Vps) -> Gate {
        let gate = self.effective_gate(vps, &vps.create_backup_gate);
        if !gate.allowed {
            return gate;
        }
        if let Some(limit) = vps.backup_quota {
            if self.quota_used(vps) >= limit {
                return Gate::closed(
                    "quota_exceeded",
                    format!("Backup quota reached ({limit} of {limit})."),
                );
            }
        }
        gate
    }

    /// Backups plus backups still being created, so a burst of POSTs cannot overshoot.
    pub(crate) fn quota_used(&self, vps: &Vps) -> u32 {
        let pending = self
            .jobs
            .iter()
            .filter(|j| {
                j.vps_id == vps.id
                    && j.outcome.is_none()
                    && matches!(j.kind, JobKind::CreateBackup { .. })
            })
            .count();
        (vps.backups.len() + pending) as u32
    }

    /// Candidate sources for `target`: other live VPSes of the same client with backups, then the
    /// client's retained sources. Never the target.
    pub(crate) fn restore_sources(&self, target: &Vps) -> Vec<RestoreSource<'_>> {
        let servers = self
            .vps
            .iter()
            .filter(|v| v.client == target.client && v.id != target.id && !v.backups.is_empty())
            .map(|v| RestoreSource {
                id: &v.id,
                name: &v.name,
                service_status: &v.service_status,
                kind: SourceKind::Server,
                backups: &v.backups,
            });
        let retained = self
            .retained
            .iter()
            .filter(|r| r.client == target.client && r.id != target.id && !r.backups.is_empty())
            .map(|r| RestoreSource {
                id: &r.id,
                name: &r.name,
                service_status: &r.service_status,
                kind: SourceKind::Retained,
                backups: &r.backups,
            });
        servers.chain(retained).collect()
    }

    /// The backups of a restore source of `client`, if `id` is one (target exclusion is the
    /// caller's business).
    pub(crate) fn source_backups(&self, client: &str, id: &str) -> Option<&[Backup]> {
        if let Some(v) = self.vps.iter().find(|v| v.id == id && v.client == client) {
            return (!v.backups.is_empty()).then_some(v.backups.as_slice());
        }
        self.retained
            .iter()
            .find(|r| r.id == id && r.client == client && !r.backups.is_empty())
            .map(|r| r.backups.as_slice())
    }

    pub(crate) fn start_job(&mut self, client: &str, vps_id: &str, kind: JobKind) -> String {
        let id = self.next_id("job");
        self.jobs.push(Job {
            id: id.clone(),
            client: client.to_string(),
            vps_id: vps_id.to_string(),
            kind,
            started: Instant::now(),
            created_at: Utc::now(),
            duration: self.settings.job_duration,
            outcome: None,
            finished: None,
        });
        id
    }

    pub(crate) fn job_view(job: &Job, now: Instant) -> JobView {
        match &job.outcome {
            Some(Ok(_)) => JobView {
                status: "completed",
                state: "completed",
                percentage: 100,
                message: "Completed".into(),
            },
            Some(Err(reason)) => JobView {
                status: "failed",
                state: "failed",
                percentage: 90,
                message: reason.clone(),
            },
            None => {
                let elapsed = now.saturating_duration_since(job.started).as_secs_f64();
                let frac = if job.duration.is_zero() {
                    1.0
                } else {
                    elapsed / job.duration.as_secs_f64()
                };
                if frac < 0.1 {
                    return JobView {
                        status: "queued",
                        state: "waiting",
                        percentage: 0,
                        message: "Waiting for a worker".into(),
                    };
                }
                let pct = ((frac * 100.0) as u32).clamp(1, 99);
                let message = match &job.kind {
                    JobKind::RestoreFromVps { backup_id, .. } => match pct {
                        0..=29 => format!("Stopping {}", job.vps_id),
                        30..=84 => format!("Writing backup {backup_id} to disk"),
                        _ => format!("Re-applying network configuration of {}", job.vps_id),
                    },
                    JobKind::CreateBackup { .. } => match pct {
                        0..=49 => "Creating backup image".to_string(),
                        _ => "Uploading backup to offsite storage".to_string(),
                    },
                    JobKind::DeleteBackup { backup_id } => {
                        format!("Deleting backup {backup_id} from offsite storage")
                    }
                    JobKind::Power { action, .. } => {
                        format!("Sending {} to {}", action.name(), job.vps_id)
                    }
                };
                JobView {
                    status: "in_progress",
                    state: "active",
                    percentage: pct,
                    message,
                }
            }
        }
    }

    /// Removes a backup wherever it lives; true when it existed.
    pub(crate) fn remove_backup(&mut self, backup_id: &str) -> bool {
        let lists = self
            .vps
            .iter_mut()
            .map(|v| &mut v.backups)
            .chain(self.retained.iter_mut().map(|r| &mut r.backups));
        for list in lists {
            if let Some(pos) = list.iter().position(|b| b.id == backup_id) {
                list.remove(pos);
                return true;
            }
        }
        false
    }

    pub(crate) fn set_gate(
        &mut self,
        vps_id: &str,
        gate: &str,
        value: Gate,
    ) -> Result<(), Problem> {
        let vps = self
            .vps
            .iter_mut()
            .find(|v| v.id == vps_id)
            .ok_or_else(|| Problem::vps_not_found(vps_id))?;
        let slot = match gate {
            "canRestoreFromAnotherVps" => &mut vps.restore_gate,
            "canCreateBackup" => &mut vps.create_backup_gate,
            "canRestore" => &mut vps.same_restore_gate,
            other => {
                return Err(Problem::new(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    format!("Unknown gate {other:?}; use canRestoreFromAnotherVps, canCreateBackup or canRestore."),
                ))
            }
        };
        *slot = value;
        Ok(())
    }

    pub(crate) fn gate_from_parts(
        allowed: bool,
        reason: Option<String>,
        code: Option<String>,
    ) -> Gate {
        Gate {
            allowed,
            reason,
            code,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_counter_based_and_ulid_sized() {
        let id = make_id("job", 7);
        assert_eq!(id, "job_01000000000000000000000007");
        assert_eq!(id.len() - "job_".len(), 26);
    }
}
