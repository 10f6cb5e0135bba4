//! The `hostup_vps_backup` resource: an offsite backup of one VPS. Plan checks that the VPS exists
//! and may take a backup now (gate and quota); create checks again, POSTs once, keeps the job id
//! and waits, then finds the new backup's id; read refreshes the backup's facts but keeps a backup
//! that vanished (rotation) in state, so that no reference to it turns into a new restore; update
//! only takes new timeouts; delete removes the backup (404 counts as done); import takes
//! `vps_id/backup_id`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::api::{ApiError, Backup, Client, DeleteOutcome, JobProgress, JobStatus, Operation};
use crate::framework::timeouts::{self, format_duration};
use crate::framework::{
    ApplyRequest, ApplyResult, Attribute, AttributePath, Block, Context, Diagnostic, Diagnostics,
    IdentitySchema, ImportResult, Plan, PlanRequest, ReadResult, Resource, Schema, Value,
};
use crate::hostup::attributes::validate_id_attribute;
use crate::hostup::diagnostics::{
    job_refresh_failure, read_failure, refresh_failure, write_failure, Reading, Writing,
};
use crate::hostup::job::{self, Ending, JobSubject};
use crate::hostup::replaced::Met;
use crate::hostup::shared::Shared;

use super::checks;
use super::earlier::{BackupKey, EarlierBackup, EarlierBackups};
use super::model::{
    resolve_new_backup, write_facts, ImportId, NewBackup, Private, BACKUP_TYPE, CREATED_AT, ID,
    JOB_ID, NOTE, SIZE_GB, VPS_ID,
};

/// The resource's type name, as written in `resource "hostup_vps_backup"`.
pub const TYPE_NAME: &str = "hostup_vps_backup";

/// Offsite backups are slow; an hour covers large disks.
pub const DEFAULT_CREATE_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// Only used when HostUp answers a DELETE with a job; the documented answer is 204.
pub const DEFAULT_DELETE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

const TIMEOUT_OPERATIONS: &[&str] = &["create", "delete"];

/// The resource; holds the provider's shared client and poll schedule, and what this process
/// remembers of its run.
#[derive(Debug)]
pub struct VpsBackupResource {
    shared: Arc<Shared>,
    run: RunMemory,
}

/// What one provider process remembers of its run (a plan and an apply each run in a process of
/// their own); nothing else in the resource keeps state between calls.
#[derive(Debug, Default)]
struct RunMemory {
    /// The jobs of the tainted backups the run replaces (`earlier`). Writers: `read` and `delete`
    /// (a job that did not end in sight), and `modify_plan` for a prior state (a deliberate
    /// replacement) and for a create (planned anew). Readers: `modify_plan` for a create, which
    /// may adopt the job, and `read`, which stops a plan that met it too late.
    earlier: EarlierBackups,
    /// The backups the run replaces, by VPS id: until the replacement's delete runs they still
    /// count against the VPS's quota. Terraform plans a replacement in two calls, first against
    /// the prior state, then its create half from null. Writer: `modify_plan` for a prior state.
    /// Reader: `modify_plan` for a create, whose quota check counts them as freed.
    replaced: Mutex<HashMap<String, Vec<String>>>,
}

impl RunMemory {
    /// Notes that the run replaces backup `id` of VPS `vps_id`.
    fn replaces(&self, vps_id: &str, id: &str) {
        let mut replaced = self.replaced.lock().unwrap_or_else(|e| e.into_inner());
        replaced
            .entry(vps_id.to_owned())
            .or_default()
            .push(id.to_owned());
    }

    /// The backups of VPS `vps_id` the run replaces.
    fn replaced_backups_of(&self, vps_id: &str) -> Vec<String> {
        let replaced = self.replaced.lock().unwrap_or_else(|e| e.into_inner());
        replaced.get(vps_id).cloned().unwrap_or_default()
    }

    /// Remembers the job of a refreshed or replaced backup for the create that replaces it, when
    /// that create must adopt it (see `earlier`). The error when a create with the same inputs
    /// was already planned without it: a refresh then fails the plan, which would take a second
    /// backup (see `hostup::replaced`). A delete comes after its replacement's create only for a
    /// deposed object, whose replacement got that far only in a plan without refresh
    /// (`-refresh=false`): otherwise the plan adopted the job and the apply stopped before the
    /// create, or the refresh stopped the plan.
    fn remember_earlier(&self, state: &Value, private: &Private) -> Option<Diagnostic> {
        let (key, job) = EarlierBackup::of_state(state, private)?;
        tracing::debug!(
            job_id = state.get_str(JOB_ID).unwrap_or(""),
            "hostup_vps_backup: the create job of this backup did not end in the provider's sight"
        );
        let diagnostic = job.too_late_diagnostic();
        (self.earlier.remember(key, job) == Met::TooLate).then_some(diagnostic)
    }
}

impl VpsBackupResource {
    /// The resource, using the provider's shared client and poll schedule.
    pub fn new(shared: Arc<Shared>) -> VpsBackupResource {
        VpsBackupResource {
            shared,
            run: RunMemory::default(),
        }
    }
}

fn at(name: &str) -> AttributePath {
    AttributePath::attribute(name)
}

fn output(attr: Attribute, description: &str) -> Attribute {
    attr.computed().keep_prior().description(description)
}

/// The resource schema.
pub fn schema() -> Schema {
    let block = Block::new()
        .description(
            "An offsite backup of a HostUp VPS. Creating the resource takes a backup and waits \
             for it; destroying it deletes the backup. A backup that HostUp removes by itself \
             (retention rotation) stays in Terraform state with a warning in the log, so that a \
             `hostup_vps_restore` referring to it is not planned again.",
        )
        .attribute(
            Attribute::string(VPS_ID)
                .required()
                .requires_replace()
                .description(
                    "Id of the VPS to back up. Changing it deletes this backup and takes a new \
                     one of the new VPS.",
                ),
        )
        .attribute(
            Attribute::string(NOTE)
                .optional()
                .requires_replace()
                .description(
                    "A note stored with the backup, for example `Before upgrade`. Changing it \
                     takes a new backup.",
                ),
        )
        .attribute(output(
            Attribute::string(ID),
            "The backup id (`bkp_…`), usable as `backup_id` of `hostup_vps_restore`. Null only \
             while the create job has not been seen to finish (a timed-out or interrupted \
             apply).",
        ))
        .attribute(output(
            Attribute::string(CREATED_AT),
            "When the backup was taken (RFC 3339, as HostUp sends it).",
        ))
        .attribute(output(
            Attribute::number(SIZE_GB),
            "Size of the backup in GB.",
        ))
        .attribute(output(
            Attribute::string(BACKUP_TYPE),
            "`manual` for backups taken through the API; `scheduled` for imported scheduled \
             backups.",
        ))
        .attribute(output(
            Attribute::string(JOB_ID),
            "The HostUp job id of the create; null for an imported backup.",
        ))
        .block(timeouts::timeouts_block(TIMEOUT_OPERATIONS));
    Schema::new(block)
}

/// The error of a create POST: at `vps_id` when HostUp's answer is about the VPS, with what the
/// failure means for a second apply.
fn post_error(vps_id: &str, e: &ApiError) -> Diagnostic {
    const BACKUP: Writing = Writing {
        what: "backup",
        check: "the VPS's backups",
        risk: "take a second backup and use quota",
    };
    let about_vps = matches!(
        e.code(),
        Some("vps_not_ready" | "vps_not_found" | "backup_quota_exceeded")
    ) || e.status() == Some(404);
    let mut d = write_failure(e, BACKUP);
    d.detail = format!("Creating a backup of VPS {vps_id} failed: {}", d.detail);
    if about_vps {
        d.at(at(VPS_ID))
    } else {
        d
    }
}

/// What to do after a create wait that ended without an answer.
fn recovery_advice(job_id: &str) -> String {
    format!(
        "The backup continues at HostUp and will not be requested again. Terraform records this \
         hostup_vps_backup as tainted, with job id {job_id} in state. What to do next: run \
         `terraform apply` again. It takes no new backup and deletes nothing: its plan adopts \
         job {job_id}, and the apply waits for it and records the backup it makes. To wait \
         longer, raise `timeouts.create`."
    )
}

/// What a create job turned into, found by polling it again (read and delete after an apply
/// that stopped waiting).
enum JobLookup {
    Backup(String),
    Running(JobStatus),
    Failed(String),
    /// The job record expired, or the finished job's backup cannot be told apart.
    Lost(String),
}

impl VpsBackupResource {
    /// Polls a create job once more and, when it has finished, names the backup it made.
    async fn lookup_job(
        &self,
        client: &Client,
        vps_id: &str,
        job_id: &str,
        private: &Private,
        note: Option<&str>,
    ) -> Result<JobLookup, ApiError> {
        let Some(poll_url) = private.poll_url_for(job_id) else {
            return Ok(JobLookup::Lost(format!(
                "job id {job_id:?} cannot be polled"
            )));
        };
        let job = match client.get_job(&poll_url).await {
            Ok(job) => job,
            Err(e) if e.is_not_found() => {
                return Ok(JobLookup::Lost(format!(
                    "HostUp no longer has the record of job {job_id}"
                )))
            }
            Err(e) => return Err(e),
        };
        if job.is_failed() {
            return Ok(JobLookup::Failed(
                job.failure_reason()
                    .unwrap_or_else(|| "HostUp gave no reason".into()),
            ));
        }
        if !job.is_completed() {
            return Ok(JobLookup::Running(job.status));
        }
        let after = client.list_backups(vps_id).await?;
        Ok(
            match resolve_new_backup(Some(&job), &private.known_before, &after.backups, note) {
                NewBackup::Found(id) => JobLookup::Backup(id),
                NewBackup::Missing => {
                    JobLookup::Lost(format!("job {job_id} finished but no new backup is listed"))
                }
                NewBackup::Ambiguous(ids) => JobLookup::Lost(format!(
                    "job {job_id} finished but several new backups are listed ({})",
                    ids.join(", ")
                )),
            },
        )
    }

    /// Waits for the create job of `planned` (sent by this create, or adopted by it) and records
    /// the backup it made, with `private` as [`Private::recorded`] leaves it.
    async fn wait_and_record(
        &self,
        ctx: &Context,
        client: &Client,
        op: &Operation,
        private: Private,
        timeout: Duration,
        planned: &Value,
    ) -> ApplyResult {
        let mut state = planned.clone();
        for name in [ID, CREATED_AT, SIZE_GB, BACKUP_TYPE] {
            state.set(name, Value::Null);
        }
        state.set(JOB_ID, Value::from(op.job_id.as_str()));
        let (state, ended, diagnostics) = self
            .finish_create(ctx, client, op, &private, timeout, state)
            .await;
        // The new backup shows up in restore sources (and a restore re-planned next in this
        // process must see it); the VPS's quota moved.
        if let Some(vps_id) = planned.get_str(VPS_ID) {
            self.shared.cache().forget_backups_of(vps_id);
        }
        ApplyResult {
            new_state: state,
            private: private.recorded(ended).to_bytes(),
            diagnostics,
        }
    }

    /// The create of a replacement whose plan adopted the earlier job `job_id` (see `earlier`):
    /// nothing is sent. A backup the job already made is recorded as planned; a running job is
    /// waited for with the create timeout, as if this create had started it.
    async fn adopt(
        &self,
        ctx: &Context,
        client: &Client,
        req: &ApplyRequest,
        job_id: &str,
    ) -> ApplyResult {
        let private = Private::from_bytes(&req.private);
        if let Some(backup_id) = req.planned.get_str(ID) {
            tracing::info!(
                job_id,
                backup_id,
                "hostup_vps_backup: recorded the backup the earlier job made; nothing was sent"
            );
            return ApplyResult {
                new_state: req.planned.clone(),
                private: private.recorded(true).to_bytes(),
                diagnostics: Diagnostics::new(),
            };
        }
        let Some(poll_url) = private.poll_url_for(job_id) else {
            return ApplyResult::failed(Diagnostic::error(
                "Cannot follow the earlier backup job",
                format!(
                    "The plan adopted HostUp job {job_id}, but its id cannot be polled. This is a \
                     bug in the provider; please report it. Nothing was sent to HostUp."
                ),
            ));
        };
        let op = Operation {
            status: JobStatus::Queued,
            job_id: job_id.to_owned(),
            poll_url,
            result: None,
        };
        let timeout = timeouts::timeout_for(&req.planned, "create", DEFAULT_CREATE_TIMEOUT);
        tracing::info!(
            job_id,
            timeout = %format_duration(timeout),
            "hostup_vps_backup: waiting for the earlier backup job; no new backup is taken"
        );
        self.wait_and_record(ctx, client, &op, private, timeout, &req.planned)
            .await
    }

    /// Waits for the create job, then finds and describes the new backup. Also says whether the
    /// job ended in sight.
    async fn finish_create(
        &self,
        ctx: &Context,
        client: &Client,
        op: &Operation,
        private: &Private,
        timeout: Duration,
        mut state: Value,
    ) -> (Value, bool, Diagnostics) {
        let vps_id = state.get_str(VPS_ID).unwrap_or_default().to_owned();
        let note = state.get_str(NOTE).map(str::to_owned);
        let job_id = op.job_id.as_str();
        let subject = JobSubject {
            name: format!("backup of VPS {vps_id}"),
            accepted: "backup",
            after_failure: "No backup was made. Terraform records this hostup_vps_backup as \
                            tainted; fix the cause, then run `terraform apply` to take a new \
                            backup."
                .to_owned(),
            recovery: recovery_advice(job_id),
            record_gone: format!(
                "The job may or may not have made a backup; HostUp can no longer say which, so \
                 the provider cannot find it through job {job_id} any more. Terraform records \
                 this hostup_vps_backup as tainted, and the next apply takes a new backup. To \
                 keep the one this job may have made instead, find it among VPS {vps_id}'s \
                 backups (the hostup_vps_backups data source lists them), then `terraform state \
                 rm hostup_vps_backup.<name>` and `terraform import hostup_vps_backup.<name> \
                 {vps_id}/<backup_id>`."
            ),
            timeout_name: "the create timeout",
        };
        let mut last_status: Option<JobStatus> = None;
        let log_progress = move |p: &JobProgress| {
            if last_status.as_ref() != Some(&p.status) {
                tracing::info!(
                    job_id = %p.job_id,
                    status = %p.status,
                    percentage = p.percentage,
                    message = p.message.as_deref().unwrap_or(""),
                    "hostup_vps_backup: backup progress"
                );
                last_status = Some(p.status.clone());
            }
        };
        let settled = job::settle(
            ctx,
            &self.shared,
            client,
            op,
            timeout,
            &subject,
            log_progress,
        )
        .await;
        let ended = settled.ended();
        let Ending::Completed(job) = settled.ending else {
            return (state, ended, settled.diagnostics);
        };
        let mut diags = Diagnostics::new();
        let after = client.list_backups(&vps_id).await;
        let listed = after.as_ref().map(|l| l.backups.as_slice()).unwrap_or(&[]);
        match resolve_new_backup(Some(&job), &private.known_before, listed, note.as_deref()) {
            NewBackup::Found(id) => {
                match listed.iter().find(|b| b.id == id) {
                    Some(b) => write_facts(&mut state, b),
                    None => tracing::warn!(
                        vps_id = %vps_id,
                        backup_id = %id,
                        error = after.as_ref().err().map(ToString::to_string).unwrap_or_default(),
                        "hostup_vps_backup: the new backup is not in the list yet; its facts \
                         are filled by the next refresh"
                    ),
                }
                tracing::info!(job_id, backup_id = %id, "hostup_vps_backup: backup completed");
                state.set(ID, Value::from(id));
            }
            unresolved => {
                let why = match (unresolved, after.as_ref().err()) {
                    (_, Some(e)) => format!("listing the backups afterwards failed: {e}"),
                    (NewBackup::Ambiguous(ids), None) => format!(
                        "several backups appeared meanwhile ({}), and neither the job nor the \
                         note tells which one it made",
                        ids.join(", ")
                    ),
                    _ => "no new backup appeared in the VPS's backup list".to_owned(),
                };
                diags.error(
                    format!("Cannot tell which backup of VPS {vps_id} was made"),
                    format!(
                        "HostUp job {job_id} completed, but its result names no backup id and \
                         {why}. Terraform records this hostup_vps_backup as tainted with the \
                         job id. Find the backup in HostUp (the hostup_vps_backups data source \
                         lists them) and import it with `terraform import \
                         hostup_vps_backup.<name> {vps_id}/<backup_id>` after `terraform state \
                         rm`, or apply again to take a new backup."
                    ),
                );
            }
        }
        (state, ended, diags)
    }

    /// Waits for a deletion HostUp queued as a job.
    async fn wait_for_delete(
        &self,
        ctx: &Context,
        client: &Client,
        op: &Operation,
        backup: &str,
        timeout: Duration,
    ) -> Diagnostics {
        let retry = "The backup stays in Terraform state; run `terraform destroy` (or apply) \
                     again to confirm the deletion: a backup that is gone by then counts as \
                     deleted.";
        let subject = JobSubject {
            name: format!("deletion of backup {backup}"),
            accepted: "deletion",
            after_failure: retry.to_owned(),
            recovery: format!(
                "The deletion continues at HostUp. {retry} To wait longer, raise \
                 `timeouts.delete`."
            ),
            // Destroying again settles it either way: a backup already gone counts as deleted.
            record_gone: retry.to_owned(),
            timeout_name: "the delete timeout",
        };
        job::settle(ctx, &self.shared, client, op, timeout, &subject, |_| {})
            .await
            .diagnostics
    }
}

/// The state of a backup HostUp lists under `vps_id`, as an import (or a `terraform query`) finds
/// it: the refresh after it fills in the rest.
pub fn found_state(vps_id: &str, backup: &Backup) -> Value {
    let mut state = schema().block.empty_value();
    state.set(VPS_ID, Value::from(vps_id));
    state.set(ID, Value::from(backup.id.as_str()));
    state.set(NOTE, crate::hostup::values::text(backup.note.as_deref()));
    write_facts(&mut state, backup);
    state
}

#[async_trait]
impl Resource for VpsBackupResource {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(super::model::identity_schema())
    }

    fn identity(&self, state: &Value) -> Value {
        super::model::identity_of(state)
    }

    fn import_id(&self, identity: &Value) -> Result<String, Diagnostic> {
        super::model::import_id_of(identity)
    }

    async fn validate(&self, _ctx: &Context, config: &Value) -> Diagnostics {
        let mut diags = validate_id_attribute(config, VPS_ID, "VPS id");
        diags.extend(timeouts::validate_timeouts(config, TIMEOUT_OPERATIONS));
        diags
    }

    async fn modify_plan(&self, _ctx: &Context, req: &PlanRequest, plan: &mut Plan) {
        // A replacement's create half arrives as a create of its own (null prior), right after
        // this call for the prior state: remember which backup it replaces.
        if !req.is_create() {
            if !plan.requires_replace.is_empty() {
                // Planned against its prior state, so not tainted: the user asked for a new backup.
                if let Some(key) = BackupKey::of(&req.config) {
                    self.run.earlier.replaced_on_purpose(key);
                }
                if let (Some(vps), Some(id)) = (req.prior.get_str(VPS_ID), req.prior.get_str(ID)) {
                    self.run.replaces(vps, id);
                }
            }
            return;
        }
        if plan.planned.is_null() {
            return;
        }
        // The replacement of a tainted backup whose job may still make, or has made, the backup:
        // nothing is sent, so there is nothing to check.
        if let Some(earlier) =
            BackupKey::of(&req.config).and_then(|k| self.run.earlier.find_for_create(&k))
        {
            earlier.write_plan(&mut plan.planned);
            plan.private = earlier.private().to_bytes();
            plan.diagnostics.push(earlier.plan_diagnostic());
            return;
        }
        let client = match self.shared.client() {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(d) => {
                plan.diagnostics.push(d);
                return;
            }
        };
        let Some(vps_id) = req.config.get_str(VPS_ID) else {
            tracing::debug!("hostup_vps_backup: vps_id unknown at plan; checks run at apply");
            return;
        };
        let replaced = self.run.replaced_backups_of(vps_id);
        if let Err(d) = checks::run(&client, vps_id, &replaced).await {
            plan.diagnostics.push(d);
        }
    }

    async fn create(&self, ctx: &Context, req: ApplyRequest) -> ApplyResult {
        let client = match self.shared.require_client() {
            Ok(c) => c,
            Err(d) => return ApplyResult::failed(d),
        };
        let Some(vps_id) = req.planned.get_str(VPS_ID).map(str::to_owned) else {
            return ApplyResult::failed(Diagnostic::error(
                "VPS id unknown at apply",
                "vps_id must be known when the backup is created. This is a bug in Terraform or \
                 the provider; please report it.",
            ));
        };
        if let Some(job_id) = req.planned.get_str(JOB_ID) {
            return self.adopt(ctx, &client, &req, job_id).await;
        }
        let note = req.planned.get_str(NOTE).map(str::to_owned);
        // Fresh: the gate or the quota may have changed since the plan (or the plan could not
        // check, because vps_id was unknown then).
        // Nothing counts as freed here: a replaced backup is deleted before this create, unless
        // create_before_destroy is set, and then the quota must really have room.
        let before = match checks::run(&client, &vps_id, &[]).await {
            Ok(list) => list,
            Err(mut d) => {
                d.detail.push_str(
                    "\n(Checked just before the backup; nothing was sent to HostUp and nothing \
                     changed.)",
                );
                return ApplyResult::failed(d);
            }
        };
        if ctx.is_cancelled() {
            return ApplyResult::failed(Diagnostic::error(
                "Backup interrupted before it was requested",
                "Terraform was interrupted during the checks before the backup; nothing was sent \
                 to HostUp and nothing changed.",
            ));
        }
        let timeout = timeouts::timeout_for(&req.planned, "create", DEFAULT_CREATE_TIMEOUT);
        let op = match client.create_backup(&vps_id, note.as_deref()).await {
            Ok(op) => op,
            Err(e) => return ApplyResult::failed(post_error(&vps_id, &e)),
        };
        tracing::info!(
            job_id = %op.job_id,
            vps_id = %vps_id,
            timeout = %format_duration(timeout),
            "hostup_vps_backup: backup started; waiting for the job"
        );
        let private = Private {
            poll_url: op.poll_url.clone(),
            known_before: before.backups.iter().map(|b| b.id.clone()).collect(),
            ..Private::default()
        };
        self.wait_and_record(ctx, &client, &op, private, timeout, &req.planned)
            .await
    }

    async fn read(&self, _ctx: &Context, state: Value, private: Vec<u8>) -> ReadResult {
        let keep = ReadResult::kept;
        let client = match self.shared.require_client() {
            Ok(c) => c,
            Err(d) => return keep(state, private, d.into()),
        };
        let Some(vps_id) = state.get_str(VPS_ID).map(str::to_owned) else {
            return keep(state, private, Diagnostics::new());
        };
        let mut state = state;
        let record = Private::from_bytes(&private);
        let backup_id = match state.get_str(ID) {
            Some(id) => id.to_owned(),
            None => {
                // An apply that stopped waiting: the job may have finished since.
                let Some(job_id) = state.get_str(JOB_ID).map(str::to_owned) else {
                    return keep(state, private, Diagnostics::new());
                };
                let note = state.get_str(NOTE).map(str::to_owned);
                match self
                    .lookup_job(&client, &vps_id, &job_id, &record, note.as_deref())
                    .await
                {
                    Ok(JobLookup::Backup(id)) => {
                        tracing::info!(job_id = %job_id, backup_id = %id,
                            "hostup_vps_backup: the create job has finished; recording its backup");
                        state.set(ID, Value::from(id.as_str()));
                        id
                    }
                    Ok(JobLookup::Running(status)) => {
                        tracing::info!(job_id = %job_id, status = %status,
                            "hostup_vps_backup: the create job is still running");
                        let too_late = self.run.remember_earlier(&state, &record);
                        return keep(state, private, too_late.into_iter().collect());
                    }
                    Ok(JobLookup::Failed(reason)) => {
                        tracing::warn!(job_id = %job_id, reason = %reason,
                            "hostup_vps_backup: the create job failed; no backup was made");
                        return keep(state, private, Diagnostics::new());
                    }
                    Ok(JobLookup::Lost(why)) => {
                        tracing::warn!(job_id = %job_id, "hostup_vps_backup: {why}");
                        return keep(state, private, Diagnostics::new());
                    }
                    Err(e) => {
                        let d = job_refresh_failure(&e, &job_id, "backup");
                        return keep(state, private, d.into());
                    }
                }
            }
        };
        match client.list_backups(&vps_id).await {
            Ok(list) => match list.backups.iter().find(|b| b.id == backup_id) {
                Some(b) => write_facts(&mut state, b),
                None => tracing::warn!(
                    vps_id = %vps_id,
                    backup_id = %backup_id,
                    "hostup_vps_backup: HostUp no longer lists this backup (rotated away or \
                     deleted outside Terraform). It stays in state on purpose: removing it would \
                     plan a new backup, and a hostup_vps_restore referring to it would then plan \
                     a new destructive restore. Remove it with `terraform state rm` or destroy \
                     it (a backup that is already gone counts as deleted)."
                ),
            },
            Err(e) if e.is_not_found() => tracing::warn!(
                vps_id = %vps_id,
                backup_id = %backup_id,
                "hostup_vps_backup: the VPS of this backup no longer exists for this API key; \
                 the backup stays in state (see the resource docs)"
            ),
            Err(e) => {
                let d = read_failure(&e, VPS_ID, &vps_id, Reading::BACKUPS);
                return keep(state, private, refresh_failure(d).into());
            }
        }
        let too_late = self.run.remember_earlier(&state, &record);
        keep(state, private, too_late.into_iter().collect())
    }

    async fn update(&self, _ctx: &Context, req: ApplyRequest) -> ApplyResult {
        // Every input but `timeouts` forces a replacement, so an update only records them.
        ApplyResult::recorded_in_state(req)
    }

    async fn delete(&self, ctx: &Context, req: ApplyRequest) -> Diagnostics {
        let prior = &req.prior;
        let client = match self.shared.require_client() {
            Ok(c) => c,
            Err(d) => return d.into(),
        };
        let Some(vps_id) = prior.get_str(VPS_ID) else {
            return Diagnostics::new();
        };
        // In an apply, a tainted backup is deleted just before its replacement is planned again
        // and created; when the plan adopted its job, the replacement takes the backup over.
        let record = Private::from_bytes(&req.private);
        if record.adopted {
            let _ = self.run.remember_earlier(prior, &record);
            tracing::info!(
                job_id = prior.get_str(JOB_ID).unwrap_or(""),
                "hostup_vps_backup: kept at HostUp; its replacement adopts the job that makes it"
            );
            return Diagnostics::new();
        }
        let backup_id = match prior.get_str(ID) {
            Some(id) => id.to_owned(),
            None => {
                let Some(job_id) = prior.get_str(JOB_ID) else {
                    return Diagnostics::new();
                };
                match self
                    .lookup_job(&client, vps_id, job_id, &record, prior.get_str(NOTE))
                    .await
                {
                    Ok(JobLookup::Backup(id)) => id,
                    Ok(JobLookup::Running(status)) => {
                        return Diagnostic::error(
                            "The backup is still being made",
                            format!(
                                "HostUp job {job_id} that creates this backup is still {status}. \
                                 Deleting now would leave the backup it makes behind. Wait for \
                                 the job to finish, then run the destroy (or apply) again."
                            ),
                        )
                        .into();
                    }
                    Ok(JobLookup::Failed(reason)) => {
                        tracing::info!(job_id, reason = %reason,
                            "hostup_vps_backup: the create job failed, so there is no backup to delete");
                        return Diagnostics::new();
                    }
                    Ok(JobLookup::Lost(why)) => {
                        tracing::warn!(
                            job_id,
                            "hostup_vps_backup: {why}; forgetting the record without deleting a \
                             backup. Check the VPS's backups in HostUp for one this job made."
                        );
                        return Diagnostics::new();
                    }
                    Err(e) => {
                        return Diagnostic::error(
                            "Could not check the backup job",
                            format!(
                                "Reading HostUp job {job_id} failed: {e} The backup stays in \
                                 state; try again."
                            ),
                        )
                        .into()
                    }
                }
            }
        };
        let diagnostics = match client.delete_backup(vps_id, &backup_id).await {
            Ok(DeleteOutcome::Deleted) => {
                tracing::info!(vps_id, backup_id = %backup_id, "hostup_vps_backup: backup deleted");
                Diagnostics::new()
            }
            Ok(DeleteOutcome::AlreadyGone { code, .. }) => {
                tracing::info!(vps_id, backup_id = %backup_id, code = code.as_deref().unwrap_or(""),
                    "hostup_vps_backup: backup already gone at HostUp; counted as deleted");
                Diagnostics::new()
            }
            Ok(DeleteOutcome::Queued(op)) => {
                let timeout = timeouts::timeout_for(prior, "delete", DEFAULT_DELETE_TIMEOUT);
                self.wait_for_delete(ctx, &client, &op, &backup_id, timeout)
                    .await
            }
            Err(e) => Diagnostic::error(
                format!("Could not delete backup {backup_id}"),
                format!(
                    "Deleting backup {backup_id} of VPS {vps_id} failed: {e} The backup stays in \
                     Terraform state; run the destroy again once the cause is fixed."
                ),
            )
            .into(),
        };
        // Whatever happened, restore sources and the VPS's quota may have moved; any answer read
        // while a deletion job ran is dropped too.
        self.shared.cache().forget_backups_of(vps_id);
        diagnostics
    }

    async fn import(&self, _ctx: &Context, raw: &str) -> ImportResult {
        let fail = |d: Diagnostic| ImportResult {
            diagnostics: d.into(),
            ..Default::default()
        };
        let id = match ImportId::parse(raw) {
            Ok(id) => id,
            Err(detail) => return fail(Diagnostic::error("Invalid import id", detail)),
        };
        let client = match self.shared.require_client() {
            Ok(c) => c,
            Err(d) => return fail(d),
        };
        let list = match client.list_backups(&id.vps_id).await {
            Ok(list) => list,
            Err(e) => {
                let mut d = read_failure(&e, VPS_ID, &id.vps_id, Reading::BACKUPS);
                // Import has no configuration to point into.
                d.attribute = None;
                return fail(d);
            }
        };
        let Some(backup) = list.backups.iter().find(|b| b.id == id.backup_id) else {
            let listed = if list.backups.is_empty() {
                "It has no backups.".to_owned()
            } else {
                format!(
                    "Its backups: {}.",
                    list.backups
                        .iter()
                        .map(|b| b.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return fail(Diagnostic::error(
                "Backup not found",
                format!(
                    "HostUp lists no backup {} under VPS {}: it may have been rotated away, or \
                     belong to another VPS. {listed}",
                    id.backup_id, id.vps_id
                ),
            ));
        };
        ImportResult {
            state: found_state(&id.vps_id, backup),
            private: Vec::new(),
            diagnostics: Diagnostics::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_force_replacement_and_outputs_are_kept_computed() {
        let s = schema();
        for name in [VPS_ID, NOTE] {
            let a = s.block.find_attribute(name).expect(name);
            assert!(a.requires_replace && !a.is_computed(), "{name}");
        }
        assert!(s.block.find_attribute(VPS_ID).unwrap().is_required());
        for name in [ID, CREATED_AT, SIZE_GB, BACKUP_TYPE, JOB_ID] {
            let a = s.block.find_attribute(name).expect(name);
            assert!(
                a.is_computed() && a.keep_prior && !a.requires_replace,
                "{name}"
            );
        }
        let t = s.block.find_block("timeouts").expect("timeouts");
        assert!(!t.requires_replace);
        assert!(t.block.find_attribute("create").is_some());
        assert!(t.block.find_attribute("delete").is_some());
    }

    fn http(status: u16, body: &str) -> ApiError {
        ApiError::answered("POST", "/api/v2/vps/vps_1/backups", status, body)
    }

    #[test]
    fn post_errors_say_whether_a_backup_may_have_started() {
        let quota = post_error(
            "vps_1",
            &http(
                409,
                r#"{"code":"backup_quota_exceeded","detail":"Quota reached"}"#,
            ),
        );
        assert_eq!(quota.attribute, Some(at(VPS_ID)));
        assert!(quota.detail.contains("nothing was changed"), "{quota}");
        let down = post_error("vps_1", &http(500, r#"{"code":"internal_error"}"#));
        assert_eq!(down.attribute, None);
        assert!(down.detail.contains("may have reached HostUp"), "{down}");
        assert!(!down.detail.contains("nothing was changed"), "{down}");
    }

    #[test]
    fn recovery_advice_names_the_job_and_the_way_out() {
        let a = recovery_advice("job_42");
        for needle in [
            "job_42",
            "run `terraform apply` again",
            "takes no new backup",
            "timeouts.create",
        ] {
            assert!(a.contains(needle), "{needle}: {a}");
        }
    }
}
