//! The HostUp JSON shapes the simulator answers with, rendered from the world's model: VPS and
//! details bodies with their action gates, backup lists, restore sources, the 202 operation, both
//! job envelopes, and the `/_sim/state` dump. Written from hostup-api.md, never from the
//! provider's client types. Problem documents are `problem.rs`'s.

use std::time::Instant;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::settings::{GateLocation, JobEnvelope, PollUrlMode};
use crate::world::{Backup, Gate, Job, JobKind, SourceKind, Vps, World};

pub(crate) fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Whole numbers as JSON integers, others as floats, so the fixture decides the wire type.
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

/// Newest first; equal times by id, descending, so the order never depends on the fixture's.
fn newest_first(backups: &[Backup]) -> Vec<&Backup> {
    let mut v: Vec<&Backup> = backups.iter().collect();
    v.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    v
}

/// A backup list as HostUp orders it, newest first.
fn backup_list(backups: &[Backup]) -> Vec<Value> {
    newest_first(backups).iter().map(|b| b.json()).collect()
}

impl Gate {
    pub(crate) fn json(&self) -> Value {
        json!({"allowed": self.allowed, "reason": self.reason, "code": self.code})
    }
}

impl Backup {
    pub(crate) fn json(&self) -> Value {
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

/// The `result` object of a job that ended well.
fn job_result(job: &Job) -> Value {
    match &job.kind {
        JobKind::RestoreFromVps {
            source_vps_id,
            backup_id,
            ..
        } => json!({"targetVpsId": job.vps_id, "sourceVpsId": source_vps_id,
                    "backupId": backup_id}),
        JobKind::CreateBackup { backup_id, .. } => {
            json!({"backupId": backup_id, "vpsId": job.vps_id})
        }
        JobKind::DeleteBackup { backup_id } => {
            json!({"backupId": backup_id, "vpsId": job.vps_id, "deleted": true})
        }
        JobKind::Power { action, .. } => json!({"vpsId": job.vps_id, "action": action.name()}),
    }
}

impl World {
    pub(crate) fn vps_json(&self, vps: &Vps, with_actions: bool) -> Value {
        let power = self.power_state(vps);
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

    /// `GET /api/v2/vps/{id}/status` (hostup-api.md §6): `powerState` is never null there.
    pub(crate) fn status_json(&self, vps: &Vps, now: DateTime<Utc>) -> Value {
        let power = self.power_state(vps).unwrap_or_else(|| "unknown".into());
        let uptime = match vps.running_since {
            Some(since) if power == "running" => json!((now - since).num_seconds().max(0)),
            _ => Value::Null,
        };
        let used_gb = vps.storage_gb * 0.4;
        json!({
            "id": vps.id,
            "powerState": power,
            "uptimeSeconds": uptime,
            "cpuUsagePercent": if power == "running" { 3.5 } else { 0.0 },
            "cpuCores": number(vps.cpu_cores),
            "memory": {"usedGb": 0.8, "totalGb": number(vps.memory_gb),
                       "usagePercent": (80.0 / vps.memory_gb).round()},
            "storage": {"usedGb": number(used_gb), "totalGb": number(vps.storage_gb),
                        "usagePercent": 40},
            "network": {"inboundGb": 1.2, "outboundGb": 0.4, "totalGb": 1.6},
            "pendingTasks": self.running_job_on(&vps.id).map_or_else(Vec::new, |job| {
                vec![json!({"jobId": job.id, "type": job.type_name()})]
            }),
        })
    }

    fn power_actions(&self, vps: &Vps) -> Value {
        let power = self.effective_gate(vps, &Gate::open()).json();
        json!({"canRestart": power, "canReset": power})
    }

    pub(crate) fn details_json(&self, vps: &Vps) -> Value {
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

    pub(crate) fn backups_json(&self, vps: &Vps) -> Value {
        let used = self.quota_used(vps);
        let limit = vps.backup_quota;
        json!({
            "backups": backup_list(&vps.backups),
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

    /// The `sources` of `GET /api/v2/vps/{id}/restore-sources`.
    pub(crate) fn restore_sources_json(&self, target: &Vps) -> Vec<Value> {
        self.restore_sources(target)
            .iter()
            .map(|s| {
                json!({
                    "id": s.id,
                    "name": s.name,
                    "serviceStatus": s.service_status,
                    "sourceType": match s.kind {
                        SourceKind::Server => "server",
                        SourceKind::Retained => "retained",
                    },
                    "backups": backup_list(s.backups),
                })
            })
            .collect()
    }

    pub(crate) fn poll_url(&self, job_id: &str) -> String {
        let path = format!("/api/jobs/{job_id}");
        match &self.settings.poll_url_mode {
            PollUrlMode::Relative => path,
            PollUrlMode::Absolute => format!("{}{path}", self.base_url),
            PollUrlMode::Foreign(origin) => format!("{}{path}", origin.trim_end_matches('/')),
        }
    }

    /// The 202 answer to an accepted write.
    pub(crate) fn accepted(&self, job_id: &str) -> Value {
        json!({"operation": {"status": "queued", "jobId": job_id,
                             "pollUrl": self.poll_url(job_id), "result": null}})
    }

    /// The answer of `GET /api/jobs/{id}` in the configured envelope.
    pub(crate) fn job_json(&self, job: &Job, now: Instant, request_uuid: &str) -> Value {
        let view = World::job_view(job, now);
        let result = match &job.outcome {
            Some(Ok(())) => json!({
                "success": true, "type": job.type_name(), "clientId": job.client,
                "result": job_result(job),
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
    pub(crate) fn state_json(&self, now: Instant) -> Value {
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
                "backups": backup_list(&r.backups),
            })).collect::<Vec<_>>(),
            "jobs": self.jobs.iter().map(|j| {
                let view = World::job_view(j, now);
                json!({"id": j.id, "client": j.client, "vpsId": j.vps_id, "type": j.type_name(),
                       "status": view.status, "percentage": view.percentage,
                       "message": view.message})
            }).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_stay_integers_on_the_wire() {
        assert_eq!(number(80.0), json!(80));
        assert_eq!(number(12.4), json!(12.4));
    }
}
