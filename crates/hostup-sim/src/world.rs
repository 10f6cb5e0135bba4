//! The simulated HostUp account world: clients, keys, VPSes, backups, retained sources and jobs,
//! plus the rules that change them (restores, backup creation and deletion, gate evaluation).
//!
//! Time is the simulator's wall clock. Jobs are not driven by a background task: every request
//! first calls [`World::advance`], which finishes the jobs whose time has come and applies their
//! effects, then drops job records past their retention. Anything a client can observe goes
//! through a request, so the outcome is the same as with a ticking worker, and deterministic.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::fixture::{parse_time, Fixture, FixtureBackup, FixtureGate};
use crate::problem::Problem;
use crate::settings::{GateLocation, JobEnvelope, PollUrlMode, Settings};

pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Clone, Debug)]
pub struct Gate {
    pub allowed: bool,
    pub reason: Option<String>,
    pub code: Option<String>,
}

impl Gate {
    fn open() -> Gate {
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
    pub fn json(&self) -> Value {
        json!({"allowed": self.allowed, "reason": self.reason, "code": self.code})
    }
}

#[derive(Clone, Debug)]
pub struct Backup {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub size_gb: f64,
    pub backup_type: String,
    pub note: Option<String>,
    pub storage_key: String,
    pub fail_restore: Option<String>,
}

impl Backup {
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

    pub fn json(&self) -> Value {
        let created = iso(self.created_at);
        json!({
            "id": self.id,
            "displayId": format!("{created} ({})", self.storage_key),
            "storageKey": self.storage_key,
            "createdAt": created,
            "sizeGb": number(self.size_gb),
            "backupType": self.backup_type,
            "note": self.note,
        })
    }
}

/// Whole numbers as JSON integers, others as floats, so the fixture decides the wire type.
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

#[derive(Clone, Debug)]
pub struct RestoredFrom {
    pub source_vps_id: String,
    pub backup_id: String,
    pub job_id: String,
    pub completed_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct Vps {
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
}

#[derive(Clone, Debug)]
pub struct Retained {
    pub id: String,
    pub client: String,
    pub name: String,
    pub service_status: String,
    pub backups: Vec<Backup>,
}

pub struct ApiKey {
    pub key: String,
    pub client: String,
    pub scopes: Vec<String>,
    pub label: Option<String>,
}

#[derive(Clone, Debug)]
pub enum JobKind {
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
}

#[derive(Clone, Debug)]
pub struct Job {
    pub id: String,
    pub client: String,
    pub vps_id: String,
    pub kind: JobKind,
    pub started: Instant,
    pub created_at: DateTime<Utc>,
    pub duration: Duration,
    /// `Some` once finished: the result object or the failure reason.
    pub outcome: Option<Result<Value, String>>,
    pub finished: Option<(Instant, DateTime<Utc>)>,
}

impl Job {
    fn type_name(&self) -> &'static str {
        match self.kind {
            JobKind::RestoreFromVps { .. } => "restore_from_vps",
            JobKind::CreateBackup { .. } => "backup_create",
            JobKind::DeleteBackup { .. } => "backup_delete",
        }
    }
}

/// Where a job stands at one instant, as both envelopes report it.
struct JobView {
    status: &'static str,
    state: &'static str,
    percentage: u32,
    message: String,
}

pub struct Caller {
    pub client: String,
    pub scopes: Vec<String>,
}

pub struct World {
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
pub fn make_id(prefix: &str, n: u64) -> String {
    format!("{prefix}_01{n:024}")
}

impl World {
    pub fn from_fixture(fixture: &Fixture, settings: Settings) -> anyhow::Result<World> {
        let now = Utc::now();
        let mut vps = Vec::new();
        for v in &fixture.vps {
            let backups = v
                .backups
                .iter()
                .enumerate()
                .map(|(i, b)| Backup::from_fixture(b, i))
                .collect::<anyhow::Result<Vec<_>>>()?;
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
                created_at: match &v.created_at {
                    Some(t) => parse_time(t)?,
                    None => now,
                },
                restore_gate: Gate::from_fixture(&v.gates.can_restore_from_another_vps),
                create_backup_gate: Gate::from_fixture(&v.gates.can_create_backup),
                same_restore_gate: Gate::from_fixture(&v.gates.can_restore),
                backups,
                restored_from: None,
                restore_count: 0,
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

    pub fn next_id(&mut self, prefix: &'static str) -> String {
        let n = self.counters.entry(prefix).or_insert(0);
        *n += 1;
        make_id(prefix, *n)
    }

    pub fn caller(&self, key: &str) -> Option<Caller> {
        self.keys.iter().find(|k| k.key == key).map(|k| Caller {
            client: k.client.clone(),
            scopes: k.scopes.clone(),
        })
    }

    /// Finishes due jobs (applying their effects) and forgets records past retention.
    pub fn advance(&mut self, now: Instant) {
        let mut due = Vec::new();
        for (i, job) in self.jobs.iter().enumerate() {
            if job.outcome.is_none() && now >= job.started + job.duration {
                due.push(i);
            }
        }
        for i in due {
            self.finish_job(i);
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
                }
                Ok(
                    json!({"targetVpsId": job.vps_id, "sourceVpsId": source_vps_id,
                          "backupId": backup_id}),
                )
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
                Ok(json!({"backupId": backup_id, "vpsId": job.vps_id}))
            }
            JobKind::DeleteBackup { backup_id } => {
                if let Some(vps) = self.vps.iter_mut().find(|v| v.id == job.vps_id) {
                    vps.backups.retain(|b| &b.id != backup_id);
                }
                Ok(json!({"backupId": backup_id, "vpsId": job.vps_id, "deleted": true}))
            }
        };
        let job = &mut self.jobs[index];
        job.outcome = Some(outcome);
        job.finished = Some((job.started + job.duration, finished_at));
    }

    pub fn running_job_on(&self, vps_id: &str) -> Option<&Job> {
        self.jobs
            .iter()
            .find(|j| j.vps_id == vps_id && j.outcome.is_none())
    }

    pub fn find_vps(&self, caller: &Caller, id: &str) -> Result<usize, Problem> {
        self.vps
            .iter()
            .position(|v| v.id == id && v.client == caller.client)
            .ok_or_else(|| Problem::vps_not_found(id))
    }

    /// A fixture gate, closed further by a running job or an inactive service.
    fn effective_gate(&self, vps: &Vps, base: &Gate) -> Gate {
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

    pub fn restore_gate(&self, vps: &Vps) -> Gate {
        self.effective_gate(vps, &vps.restore_gate)
    }

    pub fn create_backup_gate(&self, vps: &Vps) -> Gate {
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
    fn quota_used(&self, vps: &Vps) -> u32 {
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

    pub fn vps_json(&self, vps: &Vps, with_actions: bool) -> Value {
        let power = match self.running_job_on(&vps.id) {
            Some(Job {
                kind: JobKind::RestoreFromVps { .. },
                ..
            }) => Some("stopped".to_string()),
            _ => vps.power_state.clone(),
        };
        let mut body = json!({
            "id": vps.id,
            "name": vps.name,
            "primaryIp": vps.primary_ip,
            "serviceStatus": vps.service_status,
            "powerState": power,
            "operatingSystem": vps.operating_system,
            "billing": vps.billing,
            "resources": {
                "cpuCores": number(vps.cpu_cores),
                "memoryGb": number(vps.memory_gb),
                "storageGb": number(vps.storage_gb),
            },
            "restoreCount": vps.restore_count,
            "restoredFrom": vps.restored_from.as_ref().map(|r| json!({
                "sourceVpsId": r.source_vps_id,
                "backupId": r.backup_id,
                "jobId": r.job_id,
                "completedAt": iso(r.completed_at),
            })),
        });
        if with_actions {
            let mut actions = self.power_actions(vps);
            if matches!(
                self.settings.gate_location,
                GateLocation::Both | GateLocation::Vps
            ) {
                actions["canRestoreFromAnotherVps"] = self.restore_gate(vps).json();
            }
            body["actions"] = actions;
        }
        body
    }

    fn power_actions(&self, vps: &Vps) -> Value {
        let power = self.effective_gate(vps, &Gate::open()).json();
        json!({"canRestart": power, "canReset": power})
    }

    pub fn details_json(&self, vps: &Vps) -> Value {
        let mut actions = self.power_actions(vps);
        if matches!(
            self.settings.gate_location,
            GateLocation::Both | GateLocation::Details
        ) {
            actions["canRestoreFromAnotherVps"] = self.restore_gate(vps).json();
        }
        actions["canCreateBackup"] = self.create_backup_gate(vps).json();
        let mut body = self.vps_json(vps, false);
        let obj = body.as_object_mut().expect("vps_json builds an object");
        obj.remove("resources");
        let extra = json!({
            "productName": vps.product_name,
            "hostname": vps.hostname,
            "createdAt": iso(vps.created_at),
            "nextDueAt": null,
            "cpuCores": number(vps.cpu_cores),
            "memoryGb": number(vps.memory_gb),
            "storageGb": number(vps.storage_gb),
            "backupsIncluded": vps.backup_quota.unwrap_or(0),
            "bandwidth": {"usedGb": 12.5, "limitGb": 1000, "inboundGb": 4.5, "outboundGb": 8,
                          "usagePercent": 1.25},
            "actions": actions,
        });
        if let Value::Object(extra) = extra {
            obj.extend(extra);
        }
        body
    }

    pub fn backups_json(&self, vps: &Vps) -> Value {
        let used = self.quota_used(vps);
        let limit = vps.backup_quota;
        json!({
            "backups": newest_first(&vps.backups).iter().map(|b| b.json()).collect::<Vec<_>>(),
            "quotaInfo": {
                "used": used,
                "limit": limit,
                "remaining": limit.map(|l| l.saturating_sub(used)),
            },
            "actions": {
                "canCreateBackup": self.create_backup_gate(vps).json(),
                "canRestore": self.effective_gate(vps, &vps.same_restore_gate).json(),
            },
        })
    }

    /// Candidate sources for `target`: other live VPSes of the same client with backups, then the
    /// client's retained sources. Never the target.
    pub fn restore_sources(&self, target: &Vps) -> Vec<Value> {
        let servers = self
            .vps
            .iter()
            .filter(|v| v.client == target.client && v.id != target.id && !v.backups.is_empty())
            .map(|v| (&v.id, &v.name, &v.service_status, "server", &v.backups));
        let retained = self
            .retained
            .iter()
            .filter(|r| r.client == target.client && r.id != target.id && !r.backups.is_empty())
            .map(|r| (&r.id, &r.name, &r.service_status, "retained", &r.backups));
        servers
            .chain(retained)
            .map(|(id, name, status, kind, backups)| {
                json!({
                    "id": id,
                    "name": name,
                    "serviceStatus": status,
                    "sourceType": kind,
                    "backups": newest_first(backups).iter().map(|b| b.json()).collect::<Vec<_>>(),
                })
            })
            .collect()
    }

    /// The backups of a restore source of `client`, if `id` is one (target exclusion is the
    /// caller's business).
    pub fn source_backups(&self, client: &str, id: &str) -> Option<&[Backup]> {
        if let Some(v) = self.vps.iter().find(|v| v.id == id && v.client == client) {
            return (!v.backups.is_empty()).then_some(v.backups.as_slice());
        }
        self.retained
            .iter()
            .find(|r| r.id == id && r.client == client && !r.backups.is_empty())
            .map(|r| r.backups.as_slice())
    }

    pub fn start_job(&mut self, client: &str, vps_id: &str, kind: JobKind) -> String {
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

    pub fn poll_url(&self, job_id: &str) -> String {
        let path = format!("/api/jobs/{job_id}");
        match &self.settings.poll_url_mode {
            PollUrlMode::Relative => path,
            PollUrlMode::Absolute => format!("{}{path}", self.base_url),
            PollUrlMode::Foreign(origin) => format!("{}{path}", origin.trim_end_matches('/')),
        }
    }

    /// The 202 answer to an accepted write.
    pub fn accepted(&self, job_id: &str) -> Value {
        json!({"operation": {"status": "queued", "jobId": job_id,
                             "pollUrl": self.poll_url(job_id), "result": null}})
    }

    fn job_view(job: &Job, now: Instant) -> JobView {
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

    /// The answer of `GET /api/jobs/{id}` in the configured envelope.
    pub fn job_json(&self, job: &Job, now: Instant, request_uuid: &str) -> Value {
        let view = Self::job_view(job, now);
        let result = match &job.outcome {
            Some(Ok(inner)) => json!({
                "success": true, "type": job.type_name(), "clientId": job.client,
                "result": inner,
                "timestamp": job.finished.map(|(_, t)| iso(t)),
            }),
            Some(Err(reason)) => json!({
                "success": false, "type": job.type_name(), "clientId": job.client,
                "error": reason, "message": reason,
                "timestamp": job.finished.map(|(_, t)| iso(t)),
            }),
            None => Value::Null,
        };
        match self.settings.job_envelope {
            JobEnvelope::V2 => json!({"operation": {
                "status": view.status,
                "jobId": job.id,
                "pollUrl": self.poll_url(&job.id),
                "result": result,
                "progress": {"percentage": view.percentage, "message": view.message},
            }}),
            JobEnvelope::Legacy => {
                let finished = matches!(view.status, "completed" | "failed");
                json!({
                    "success": true,
                    "timestamp": iso(Utc::now()),
                    "requestId": request_uuid,
                    "data": {
                        "jobId": job.id,
                        "queueType": "vps",
                        "type": job.type_name(),
                        "jobName": job.type_name(),
                        "state": view.state,
                        "status": view.status,
                        "statusKey": format!("jobs.status.{}", view.state),
                        "progress": view.percentage,
                        "progressTextKey": null,
                        "progressMessage": view.message,
                        "progressDetails": {"percentage": view.percentage,
                                            "message": view.message,
                                            "current": view.percentage, "total": 100},
                        "result": result,
                        "failedReason": match &job.outcome {
                            Some(Err(r)) => Value::String(r.clone()),
                            _ => Value::Null,
                        },
                        "isCompleted": view.status == "completed",
                        "isFailed": view.status == "failed",
                        "isRunning": view.status == "in_progress",
                        "isWaiting": view.status == "queued",
                        "isScheduled": false,
                        "delay": 0,
                        "vmId": job.vps_id,
                        "createdAt": iso(job.created_at),
                        "finishedAt": if finished { job.finished.map(|(_, t)| iso(t)) } else { None },
                    }
                })
            }
        }
    }

    /// The whole world for `/_sim/state`; key strings are left out.
    pub fn state_json(&self, now: Instant) -> Value {
        json!({
            "baseUrl": self.base_url,
            "clients": self.clients.iter().map(|(id, name)| json!({"id": id, "name": name}))
                .collect::<Vec<_>>(),
            "apiKeys": self.keys.iter().map(|k| json!({
                "label": k.label, "client": k.client, "scopes": k.scopes}))
                .collect::<Vec<_>>(),
            "vps": self.vps.iter().map(|v| {
                let mut body = self.details_json(v);
                body["client"] = json!(v.client);
                body["backups"] = self.backups_json(v)["backups"].clone();
                body
            }).collect::<Vec<_>>(),
            "retained": self.retained.iter().map(|r| json!({
                "id": r.id, "client": r.client, "name": r.name,
                "serviceStatus": r.service_status,
                "backups": newest_first(&r.backups).iter().map(|b| b.json()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "jobs": self.jobs.iter().map(|j| {
                let view = Self::job_view(j, now);
                json!({"id": j.id, "client": j.client, "vpsId": j.vps_id, "type": j.type_name(),
                       "status": view.status, "percentage": view.percentage,
                       "message": view.message})
            }).collect::<Vec<_>>(),
        })
    }

    /// Removes a backup wherever it lives; true when it existed.
    pub fn remove_backup(&mut self, backup_id: &str) -> bool {
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

    pub fn set_gate(&mut self, vps_id: &str, gate: &str, value: Gate) -> Result<(), Problem> {
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

    pub fn gate_from_parts(allowed: bool, reason: Option<String>, code: Option<String>) -> Gate {
        Gate {
            allowed,
            reason,
            code,
        }
    }
}

fn newest_first(backups: &[Backup]) -> Vec<&Backup> {
    let mut v: Vec<&Backup> = backups.iter().collect();
    v.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    v
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

    #[test]
    fn whole_numbers_stay_integers_on_the_wire() {
        assert_eq!(number(80.0), json!(80));
        assert_eq!(number(12.4), json!(12.4));
    }
}
