//! The `hostup_vps_restore` resource: a one-shot, destructive restore of a target VPS from a
//! backup of another VPS. Plan checks the live API and warns what apply destroys; create checks
//! again with fresh reads, POSTs exactly once and waits for the job honestly (timeout and Stop
//! leave the job id in a tainted state); the replacement of such a tainted restore adopts its
//! job instead of restoring again (`earlier`); two restores of one target in a run fail at plan
//! (`conflicts`); read refreshes the job and notices a vanished target; update only takes new
//! timeouts; delete forgets the record without touching HostUp, because a restore cannot be
//! undone; import rebuilds the state from a job record that names its ids.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::api::{job_poll_path, Client, JobProgress, JobStatus, Operation};
use crate::framework::timeouts::{self, format_duration};
use crate::framework::{
    ApplyRequest, ApplyResult, Attribute, AttributePath, Block, Context, Diagnostic, Diagnostics,
    IdentitySchema, ImportResult, NestedBlock, Plan, PlanRequest, ReadResult, Resource, Schema,
    Type, Value,
};
use crate::hostup::diagnostics::{job_refresh_failure, read_failure, refresh_failure, Reading};
use crate::hostup::power::{PowerRun, SentAction};
use crate::hostup::replaced::Met;
use crate::hostup::shared::Shared;
use crate::hostup::values::number;

use super::checks::label;
use super::conflicts::{PlannedTargets, Ticket};
use super::decide::{decide, Decision, Facts};
use super::earlier::{EarlierJob, EarlierJobs, Fate, RestoreKey};
use super::flow::{self, target_label, Caller};
use super::model::{
    gb, ids_from_job, now_rfc3339, refresh_job, starts_after_restore, write_job, write_power,
    write_unanswered, Private, RestoreArgs, BACKUP_CREATED_AT, BACKUP_ID, BACKUP_SIZE_GB,
    COMPLETED_AT, CONFIRM_TARGET_NAME, ID, JOB_ID, POWER_STATE, RUNNING_AT, SOURCE_TYPE,
    SOURCE_VPS_ID, STARTED_AT, START_AFTER_RESTORE, STATUS, TARGET_NAME, TARGET_VPS_ID, TRIGGERS,
};

/// The resource's type name, as written in `resource "hostup_vps_restore"`.
pub const TYPE_NAME: &str = "hostup_vps_restore";

/// The create timeout when the configuration sets none.
pub const DEFAULT_CREATE_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// Progress lines are logged at most this often, except when the status changes.
const PROGRESS_LOG_EVERY: Duration = Duration::from_secs(5);

/// The resource; holds the provider's shared client, read cache and poll schedule, and what
/// this process remembers of its run.
#[derive(Debug)]
pub struct VpsRestoreResource {
    shared: Arc<Shared>,
    run: RunMemory,
}

/// What one provider process remembers of its run (a plan and an apply each run in a process of
/// their own) for the restore-once rules; nothing else in the provider keeps state between calls.
#[derive(Debug, Default)]
struct RunMemory {
    /// The jobs of the tainted restores the run replaces (`earlier`). Writers: `read` and
    /// `delete` (a job that did not end in sight), and `modify_plan` for a prior state (a
    /// deliberate replacement) and for a create (planned anew). Readers: `modify_plan` for a
    /// create, which may adopt the job, and `read`, which stops a plan that met it too late.
    earlier: EarlierJobs,
    /// The restores the run plans, by target (`conflicts`). Writer and reader: `modify_plan` for
    /// a create, which enters its target when it starts and looks for others when it ends.
    planned: PlannedTargets,
}

impl RunMemory {
    /// Remembers the earlier job a refresh met. When a create with the same inputs was already
    /// planned without it, and the job is one the create should have adopted or stopped at (not
    /// a failed one, which a new restore follows anyway), the refresh fails the plan.
    fn remember_refreshed(&self, key: RestoreKey, job: EarlierJob) -> Diagnostics {
        let fate = job.fate.clone();
        let diagnostic = job.too_late_diagnostic();
        let met = self.earlier.remember(key, job);
        let facts = Facts {
            earlier: Some(fate),
            deliberate: false,
            conflict: false,
        };
        if met == Met::TooLate && !decide(&facts).sends_restore() {
            return diagnostic.into();
        }
        Diagnostics::new()
    }
}

impl VpsRestoreResource {
    /// The resource, using the provider's shared client, read cache and poll schedule.
    pub fn new(shared: Arc<Shared>) -> VpsRestoreResource {
        VpsRestoreResource {
            shared,
            run: RunMemory::default(),
        }
    }
}

fn at(name: &str) -> AttributePath {
    AttributePath::attribute(name)
}

fn input(name: &str, description: &str) -> Attribute {
    Attribute::string(name)
        .required()
        .requires_replace()
        .description(description)
}

fn output(attr: Attribute, description: &str) -> Attribute {
    attr.computed().keep_prior().description(description)
}

/// The resource schema.
pub fn schema() -> Schema {
    let block = Block::new()
        .description(
            "**Destructive.** Restores a target VPS in place from a backup of another VPS: HostUp \
             stops the target and overwrites its disk. Creating this resource runs the restore \
             once; changing any argument restores again. Destroying it only removes the record \
             from Terraform state: it makes no API call and does not undo the restore.",
        )
        .attribute(input(
            TARGET_VPS_ID,
            "Id of the VPS to overwrite. Changing it restores again (onto the new target).",
        ))
        .attribute(input(
            SOURCE_VPS_ID,
            "Id of the VPS (live, or a terminated one with retained backups) whose backup is \
             restored. Must differ from `target_vps_id`.",
        ))
        .attribute(input(
            BACKUP_ID,
            "Id of the source's backup to restore. Changing it restores again.",
        ))
        .attribute(
            Attribute::new(TRIGGERS, Type::map(Type::String))
                .optional()
                .requires_replace()
                .description("Arbitrary values; changing any of them restores again."),
        )
        .attribute(
            // A guard, not an input of the restore: editing it (say, after the target was
            // renamed) must never plan a second destructive restore.
            Attribute::string(CONFIRM_TARGET_NAME)
                .optional()
                .description(
                    "When set, must equal the target VPS's current name, checked at plan and \
                     again before the restore: a guard against a wrong `target_vps_id`. Changing \
                     it later updates the record in place and restores nothing.",
                ),
        )
        .attribute(
            // Part of the restore's run, not of the VPS's life after it: editing it later starts
            // or stops nothing (the hostup_vps_power action is for that).
            Attribute::bool(START_AFTER_RESTORE).optional().description(
                "When `true`, the create does not end when the restore job completes: it \
                     reads the target's power state, sends one `start` if the target is \
                     stopped (needs the API key scope `power:vm`), and waits until HostUp \
                     reports it `running`, all within `timeouts.create`. Defaults to `false`. \
                     Changing it later updates the record in place and sends nothing.",
            ),
        )
        .attribute(output(
            Attribute::string(ID),
            "The HostUp job id of the restore (same as `job_id`).",
        ))
        .attribute(output(
            Attribute::string(JOB_ID),
            "The HostUp job id of the restore.",
        ))
        .attribute(output(
            Attribute::string(STATUS),
            "Last known job status: `completed` after a successful apply; `queued`, \
             `in_progress` or `failed` when apply stopped early; `unknown` (with no job id) \
             when the restore request got no usable answer, so HostUp may have started it.",
        ))
        .attribute(output(
            Attribute::string(STARTED_AT),
            "When the restore was requested (RFC 3339).",
        ))
        .attribute(output(
            Attribute::string(COMPLETED_AT),
            "When the job ended (RFC 3339); null while it runs.",
        ))
        .attribute(output(
            Attribute::string(TARGET_NAME),
            "Name of the target VPS, known at plan time.",
        ))
        .attribute(output(
            Attribute::string(SOURCE_TYPE),
            "`server` (a live VPS) or `retained` (backups kept from a terminated service).",
        ))
        .attribute(output(
            Attribute::string(BACKUP_CREATED_AT),
            "When the restored backup was taken (RFC 3339).",
        ))
        .attribute(output(
            Attribute::number(BACKUP_SIZE_GB),
            "Size of the restored backup in GB.",
        ))
        .attribute(output(
            Attribute::string(POWER_STATE),
            "The target's power state as last read from HostUp: `running`, `stopped`, \
             `starting`, `stopping`, … Read after the restore and on every refresh; a change \
             (say, the VPS was stopped later) is recorded without planning anything.",
        ))
        .attribute(output(
            Attribute::string(RUNNING_AT),
            "When the target last started (RFC 3339), from its uptime, while it runs; null when \
             it is not running.",
        ))
        .block(timeouts_block());
    Schema::new(block)
}

impl VpsRestoreResource {
    /// Waits for the job of `op` on `target` ("web-01 (vps_…)") and turns the outcome into the
    /// final state, its private data and the diagnostics.
    async fn wait(
        &self,
        ctx: &Context,
        client: &Client,
        op: &Operation,
        target: &str,
        timeout: Duration,
        mut state: Value,
    ) -> ApplyResult {
        let mut logged: Option<(Instant, JobStatus)> = None;
        let log_progress = move |p: &JobProgress| {
            let due = match &logged {
                None => true,
                Some((when, status)) => *status != p.status || when.elapsed() >= PROGRESS_LOG_EVERY,
            };
            if due {
                tracing::info!(
                    job_id = %p.job_id,
                    status = %p.status,
                    percentage = p.percentage,
                    message = p.message.as_deref().unwrap_or(""),
                    "hostup_vps_restore: restore progress"
                );
                logged = Some((Instant::now(), p.status.clone()));
            }
        };
        let end = flow::wait(
            ctx,
            &self.shared,
            client,
            flow::Sent {
                op,
                target,
                timeout,
            },
            Caller::Resource,
            log_progress,
        )
        .await;
        state.set(STATUS, Value::from(end.status.as_str()));
        if let Some(done) = end.completed_at {
            state.set(COMPLETED_AT, Value::from(done));
        }
        ApplyResult {
            new_state: state,
            private: Private::from_operation(op, !end.ended).to_bytes(),
            diagnostics: end.diagnostics,
        }
    }

    /// The restore a plan is about: a create (new, or the replacement of a tainted restore), or
    /// the first plan of a deliberate replacement (against the prior state; its warnings are the
    /// ones Terraform shows). `None` for anything else: an update, a destroy, no change.
    fn planned_restore(&self, req: &PlanRequest, plan: &mut Plan) -> Option<PlannedRestore> {
        if plan.planned.is_null() {
            return None;
        }
        let key = RestoreKey::of(&req.config);
        if !req.is_create() {
            // Only a restore that is not tainted is planned against its prior state; if the
            // create of a replacement follows in this run (`-replace`, changed arguments), the
            // user asked for it, and nothing is adopted.
            if let Some(key) = key {
                self.run.earlier.replaced_on_purpose(key);
            }
            // Terraform plans a replacement twice: first against the prior state (the plan that
            // decides on the replacement), then as a create from null, whose warnings Terraform
            // drops. So the warning comes from this first call; the planned value stays the
            // update's, because Terraform takes the create call's planned value anyway.
            return (!plan.requires_replace.is_empty()).then_some(PlannedRestore {
                earlier: None,
                deliberate: true,
                ticket: None,
            });
        }
        let deliberate = key
            .as_ref()
            .is_some_and(|k| self.run.earlier.is_replaced_on_purpose(k));
        if deliberate {
            // Tell the apply's delete of the replaced object not to offer its job.
            plan.private = Private {
                replaced_on_purpose: true,
                ..Private::default()
            }
            .to_bytes();
        }
        Some(PlannedRestore {
            earlier: key
                .as_ref()
                .and_then(|k| self.run.earlier.find_for_create(k)),
            deliberate,
            ticket: self.run.planned.enter(&req.config),
        })
    }

    /// The create of a replacement whose plan adopted the earlier job `job_id` (see `earlier`):
    /// nothing is sent. A completed job is recorded as planned; a running one is waited for
    /// with the create timeout, as if this create had started it.
    async fn adopt(
        &self,
        ctx: &Context,
        client: &Client,
        planned: Value,
        private: &[u8],
        job_id: &str,
    ) -> ApplyResult {
        let poll_url = Private::from_bytes(private)
            .poll_url_for(job_id)
            .unwrap_or_default();
        let target = label(
            planned.get_str(TARGET_VPS_ID).unwrap_or_default(),
            planned.get_str(TARGET_NAME),
        );
        let timeout = timeout_for_create(&planned);
        let deadline = Instant::now() + timeout;
        if planned.get_str(STATUS) == Some(JobStatus::Completed.as_str()) {
            tracing::info!(
                job_id = %job_id,
                target = %target,
                "hostup_vps_restore: recorded the earlier restore job, which completed; no restore was sent"
            );
            let start = Private::from_bytes(private).start;
            let recorded = ApplyResult {
                new_state: planned,
                private: Private {
                    poll_url,
                    ..Private::default()
                }
                .to_bytes(),
                diagnostics: Diagnostics::new(),
            };
            return self
                .after_restore(ctx, client, recorded, (deadline, timeout), start)
                .await;
        }
        tracing::info!(
            job_id = %job_id,
            target = %target,
            timeout = %format_duration(timeout),
            "hostup_vps_restore: waiting for the earlier restore job; no new restore is sent"
        );
        let op = Operation {
            status: JobStatus::Queued,
            job_id: job_id.to_owned(),
            poll_url,
            result: None,
        };
        let mut state = planned;
        state.set(STATUS, Value::from(op.status.as_str()));
        state.set(COMPLETED_AT, Value::Null);
        let waited = self.wait(ctx, client, &op, &target, timeout, state).await;
        self.after_restore(ctx, client, waited, (deadline, timeout), None)
            .await
    }

    /// What follows a restore wait: once the job completed, the target's power state is read
    /// into state, and with `start_after_restore` the target is brought up (see `power`); a
    /// start that does not finish leaves an error, so Terraform keeps the record tainted with
    /// status `completed`, and marks the private data so that the next apply adopts the job and
    /// finishes the start instead of restoring again. `start` is a start an earlier apply sent.
    async fn after_restore(
        &self,
        ctx: &Context,
        client: &Client,
        mut result: ApplyResult,
        (deadline, timeout): (Instant, Duration),
        start: Option<SentAction>,
    ) -> ApplyResult {
        let state = &mut result.new_state;
        // Whatever follows, the power state is no longer unknown: null until it is read.
        for name in [POWER_STATE, RUNNING_AT] {
            if state.get(name).is_some_and(Value::is_unknown) {
                state.set(name, Value::Null);
            }
        }
        let completed = state.get_str(STATUS) == Some(JobStatus::Completed.as_str())
            && !result.diagnostics.has_errors();
        if !completed {
            return result;
        }
        let target_id = state.get_str(TARGET_VPS_ID).unwrap_or_default().to_owned();
        let target = label(&target_id, state.get_str(TARGET_NAME));
        let job_id = state.get_str(JOB_ID).unwrap_or_default().to_owned();
        let mut private = Private::from_bytes(&result.private);
        if !starts_after_restore(state) {
            // Recorded for the user; the restore is done whatever this read says.
            refresh_power(client, &target_id, state).await;
            private.start_pending = false;
            private.start = None;
            result.private = private.to_bytes();
            return result;
        }
        tracing::info!(
            job_id = %job_id,
            target = %target,
            "hostup_vps_restore: restore completed; bringing the target up (start_after_restore)"
        );
        let before = format!("The restore of {target} itself completed (HostUp job {job_id}).");
        let recovery = "Terraform records this restore as tainted, with status \"completed\": \
                        the next `terraform apply` sends no new restore; it records this one and \
                        finishes the start (a start already sent is waited for, never sent \
                        again).";
        let run = PowerRun {
            ctx,
            shared: &self.shared,
            client,
            vps_id: &target_id,
            label: &target,
            attribute: TARGET_VPS_ID,
            deadline,
            timeout,
            timeout_name: "the create timeout",
            before: &before,
            recovery,
        };
        let end = run
            .ensure_running(start, |step: &str| {
                tracing::info!("hostup_vps_restore: start after restore: {step}");
            })
            .await;
        if end.reached {
            tracing::info!(target = %target, "hostup_vps_restore: the target is running");
        }
        write_power(state, end.status.as_ref());
        private.start_pending = !end.reached;
        private.start = if end.reached { None } else { end.sent };
        result.private = private.to_bytes();
        result.diagnostics.extend(end.diagnostics);
        result
    }

    /// Best-effort facts for an imported restore; what cannot be read stays null.
    async fn imported_facts(&self, client: &Client, state: &mut Value, target: &str) {
        let source = state.get_str(SOURCE_VPS_ID).unwrap_or_default().to_owned();
        let backup = state.get_str(BACKUP_ID).unwrap_or_default().to_owned();
        match client.get_vps(target).await {
            Ok(vps) => state.set(TARGET_NAME, Value::opt_string(vps.name)),
            Err(e) => tracing::debug!(error = %e, "import: target VPS not read"),
        }
        refresh_power(client, target, state).await;
        match client.restore_sources(target).await {
            Ok(sources) => {
                if let Some(s) = sources.iter().find(|s| s.id == source) {
                    state.set(SOURCE_TYPE, super::model::source_type_value(&s.source_type));
                    if let Some(b) = s.backups.iter().find(|b| b.id == backup) {
                        state.set(BACKUP_CREATED_AT, Value::opt_string(b.created_at.clone()));
                        state.set(BACKUP_SIZE_GB, number(b.size_gb));
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "import: restore sources not read"),
        }
    }
}

#[async_trait]
impl Resource for VpsRestoreResource {
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
        let mut diags = flow::static_checks(config);
        diags.extend(validate_timeouts(config));
        diags
    }

    async fn modify_plan(&self, _ctx: &Context, req: &PlanRequest, plan: &mut Plan) {
        let Some(restore) = self.planned_restore(req, plan) else {
            return;
        };
        let facts = |conflict| Facts {
            earlier: restore.earlier.as_ref().map(|job| job.fate.clone()),
            deliberate: restore.deliberate,
            conflict,
        };
        // HostUp is read only for a plan that may send a restore; the conflict is looked for
        // last, so that restores planned together see each other (see `conflicts`).
        let checks = if decide(&facts(false)).sends_restore() {
            Some(flow::plan_checks(&self.shared, &req.config, Caller::Resource).await)
        } else {
            None
        };
        let conflict = restore
            .ticket
            .as_ref()
            .and_then(|t| self.run.planned.conflict(t));
        let decision = decide(&facts(conflict.is_some()));
        let start = starts_after_restore(&req.config);
        restore.carry_out(decision, checks, conflict, (req.is_create(), start), plan);
    }

    async fn create(&self, ctx: &Context, req: ApplyRequest) -> ApplyResult {
        let client = match self.shared.require_client() {
            Ok(c) => c,
            Err(d) => return ApplyResult::failed(d),
        };
        if let Some(job_id) = req.planned.get_str(JOB_ID) {
            let job_id = job_id.to_owned();
            return self
                .adopt(ctx, &client, req.planned, &req.private, &job_id)
                .await;
        }
        let Some(args) = RestoreArgs::from_value(&req.planned) else {
            return ApplyResult::failed(Diagnostic::error(
                "Restore ids unknown at apply",
                "target_vps_id, source_vps_id and backup_id must be known when the restore is \
                 applied. This is a bug in Terraform or the provider; please report it.",
            ));
        };
        // Checked again on answers seconds old (this apply's re-plan): a backup can rotate away,
        // a gate close or a name change after the plan.
        let checked = match flow::fresh_checks(&self.shared, &client, &args).await {
            Ok(c) => c,
            Err(d) => return ApplyResult::failed(d),
        };
        let drift = checked.drift_from(&req.planned);
        if !drift.is_empty() {
            let mut diags = Diagnostics::new();
            for (name, was, now) in drift {
                let attribute = match name {
                    TARGET_NAME => TARGET_VPS_ID,
                    SOURCE_TYPE => SOURCE_VPS_ID,
                    _ => BACKUP_ID,
                };
                diags.error_at(
                    at(attribute),
                    "HostUp changed since the plan",
                    format!(
                        "The plan showed {name} = {}, but HostUp now says {}. The restore was \
                         not sent, so nothing changed. Run `terraform plan` again and review \
                         what the restore will overwrite before applying.",
                        show_value(&was),
                        show_value(&now)
                    ),
                );
            }
            return ApplyResult::failed(diags);
        }
        if ctx.is_cancelled() {
            return ApplyResult::failed(flow::interrupted_before_post());
        }
        let timeout = timeout_for_create(&req.planned);
        let started_at = now_rfc3339();
        let op = match flow::post(&self.shared, &client, &args).await {
            Ok(op) => op,
            Err(failure) if failure.may_have_started => {
                // No job to follow, but HostUp may be restoring: keep a (tainted) record, so the
                // next plan stops and asks instead of restoring again (see `earlier`).
                let mut state = req.planned.clone();
                checked.write_into(&mut state);
                write_unanswered(&mut state, &started_at);
                let mut d = failure.diagnostic;
                d.detail.push_str(
                    "\nSo that a second restore is never sent by accident, Terraform keeps \
                     this resource in state as tainted, with status \"unknown\" and no job id: \
                     the next plan does not restore again on its own, it stops and asks you to \
                     check the target first.",
                );
                return ApplyResult {
                    new_state: state,
                    private: Private::default().to_bytes(),
                    diagnostics: d.into(),
                };
            }
            Err(failure) => return ApplyResult::failed(failure.diagnostic),
        };
        tracing::info!(
            job_id = %op.job_id,
            target = %target_label(&checked),
            source = %checked.source_id,
            backup = %checked.backup_id,
            timeout = %format_duration(timeout),
            "hostup_vps_restore: restore started; waiting for the job"
        );
        let mut state = req.planned.clone();
        checked.write_into(&mut state);
        write_job(&mut state, &op.job_id, &op.status, &started_at, None);
        let target = target_label(&checked);
        // The create timeout covers the job and the start after it.
        let deadline = Instant::now() + timeout;
        let waited = self.wait(ctx, &client, &op, &target, timeout, state).await;
        self.after_restore(ctx, &client, waited, (deadline, timeout), None)
            .await
    }

    async fn read(&self, _ctx: &Context, state: Value, private: Vec<u8>) -> ReadResult {
        let keep = ReadResult::kept;
        let client = match self.shared.require_client() {
            Ok(c) => c,
            Err(d) => return keep(state, private, d.into()),
        };
        let Some(target) = state.get_str(TARGET_VPS_ID).map(str::to_owned) else {
            return keep(state, private, Diagnostics::new());
        };
        match client.get_vps(&target).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {
                tracing::info!(
                    target = %target,
                    "hostup_vps_restore: target VPS no longer exists; removing the restore from state"
                );
                return ReadResult {
                    new_state: Value::Null,
                    private: Vec::new(),
                    diagnostics: Diagnostics::new(),
                };
            }
            Err(e) => {
                let d = read_failure(&e, TARGET_VPS_ID, &target, Reading::VPS.of_target());
                return keep(state, private, refresh_failure(d).into());
            }
        }
        let mut state = state;
        refresh_power(&client, &target, &mut state).await;
        // A restore whose request got no usable answer has no job to refresh.
        if let Some((key, job)) = EarlierJob::unanswered(&state) {
            let diagnostics = self.run.remember_refreshed(key, job);
            return keep(state, private, diagnostics);
        }
        let job_id = state.get_str(JOB_ID).unwrap_or_default().to_owned();
        let mark = Private::from_bytes(&private);
        let Some(poll_url) = mark.poll_url_for(&job_id) else {
            return keep(state, private, Diagnostics::new());
        };
        let fate = match client.get_job(&poll_url).await {
            Ok(job) => {
                refresh_job(&mut state, &job);
                Fate::of_job(&job)
            }
            Err(e) if e.is_not_found() => {
                tracing::debug!(
                    job_id = %job_id,
                    "hostup_vps_restore: job record expired at HostUp; state kept as it is"
                );
                Fate::Gone
            }
            Err(e) => {
                let d = job_refresh_failure(&e, &job_id, "restore");
                return keep(state, private, d.into());
            }
        };
        // A tainted restore is refreshed just before Terraform plans its replacement (a deposed
        // one in either order: see `hostup::replaced`).
        let diagnostics = match EarlierJob::of_state(&state, &mark, fate) {
            Some((key, job)) => self.run.remember_refreshed(key, job),
            None => Diagnostics::new(),
        };
        keep(state, private, diagnostics)
    }

    async fn update(&self, _ctx: &Context, req: ApplyRequest) -> ApplyResult {
        // Only `timeouts` and the `confirm_target_name` guard change in place; every input of the
        // restore forces a replacement. Neither calls HostUp.
        ApplyResult::recorded_in_state(req)
    }

    async fn delete(&self, _ctx: &Context, req: ApplyRequest) -> Diagnostics {
        // In an apply, a tainted restore is deleted just before its replacement is planned
        // again and created: what the plan decided about its job is decided again from the
        // same (refreshed) object.
        if let Some((key, job)) = EarlierJob::of_deleted(&req.prior, &req.private) {
            // Too late only for a deposed object, whose replacement an apply creates first: its
            // plan either adopted this job (and the apply stopped before the create) or the
            // refresh stopped the plan. Only a plan without refresh (`-refresh=false`, which the
            // docs warn against here) gets this far with a new restore sent.
            let _ = self.run.earlier.remember(key, job);
        }
        tracing::debug!(
            job_id = req.prior.get_str(JOB_ID).unwrap_or(""),
            target = req.prior.get_str(TARGET_VPS_ID).unwrap_or(""),
            "hostup_vps_restore: forgetting the restore record; no HostUp API call is made and \
             the restored VPS is left as it is"
        );
        Diagnostics::new()
    }

    async fn import(&self, _ctx: &Context, id: &str) -> ImportResult {
        let fail = |summary: &str, detail: String| ImportResult {
            diagnostics: Diagnostic::error(summary, detail).into(),
            ..Default::default()
        };
        let poll_url = match job_poll_path(id) {
            Ok(url) => url,
            Err(e) => {
                return fail(
                    "Invalid import id",
                    format!("Import hostup_vps_restore by its HostUp job id. {e}"),
                )
            }
        };
        let client = match self.shared.require_client() {
            Ok(c) => c,
            Err(d) => {
                return ImportResult {
                    diagnostics: d.into(),
                    ..Default::default()
                }
            }
        };
        let job = match client.get_job(&poll_url).await {
            Ok(job) => job,
            Err(e) if e.is_not_found() => {
                return fail(
                    "Restore job not found",
                    format!(
                        "HostUp has no job {id} for this API key ({e}). Either the id is wrong or \
                         HostUp has already dropped the job record (it keeps them only for a \
                         while). Without the record the provider cannot tell which target, \
                         source and backup the restore used, so it cannot be imported. The \
                         restore has already happened; there is nothing to manage. If you want \
                         Terraform to run a restore, declare a new hostup_vps_restore and apply \
                         it (that restores again)."
                    ),
                )
            }
            Err(e) => return fail("Could not read the restore job", e.to_string()),
        };
        let Some((target, source, backup)) = ids_from_job(&job) else {
            return fail(
                "Restore job does not name its VPSes and backup",
                format!(
                    "HostUp's record of job {id} (status {}) does not carry targetVpsId, \
                     sourceVpsId and backupId in its result. Import needs all three: they are \
                     required arguments that force a new restore when they change, so guessing \
                     them would make the next apply overwrite a VPS again. Only finished restore \
                     jobs name them. Instead, wait for the job to finish and import again, or \
                     leave this restore out of Terraform (it has already run).",
                    job.status
                ),
            );
        };
        let mut state = schema().block.empty_value();
        state.set(TARGET_VPS_ID, Value::from(target.as_str()));
        state.set(SOURCE_VPS_ID, Value::from(source));
        state.set(BACKUP_ID, Value::from(backup));
        state.set(ID, Value::from(id));
        state.set(JOB_ID, Value::from(id));
        state.set(STATUS, Value::from(job.status.as_str()));
        state.set(STARTED_AT, Value::opt_string(job.created_at.clone()));
        state.set(COMPLETED_AT, Value::opt_string(job.finished_at.clone()));
        self.imported_facts(&client, &mut state, &target).await;
        ImportResult {
            state,
            private: Private {
                poll_url,
                ..Private::default()
            }
            .to_bytes(),
            diagnostics: Diagnostics::new(),
        }
    }
}

/// Refreshes `power_state` and `running_at` from the target's live status. A failed read keeps
/// what the state holds: the values are for the user, and the restore's record does not
/// depend on them.
async fn refresh_power(client: &Client, target: &str, state: &mut Value) {
    match client.get_vps_status(target).await {
        Ok(status) => write_power(state, Some(&status)),
        Err(e) => tracing::debug!(error = %e, "hostup_vps_restore: power state not refreshed"),
    }
}

/// A plan or state value in a message.
fn show_value(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::String(s) => format!("{s:?}"),
        Value::Number(n) => match n.as_f64() {
            Some(f) => gb(f),
            None => n.to_string(),
        },
        other => format!("{other:?}"),
    }
}

// ----- timeouts ---------------------------------------------------------------------------------

/// The operations whose timeout users can set.
const TIMEOUT_OPERATIONS: &[&str] = &["create"];

fn timeouts_block() -> NestedBlock {
    timeouts::timeouts_block(TIMEOUT_OPERATIONS)
}

fn validate_timeouts(config: &Value) -> Diagnostics {
    timeouts::validate_timeouts(config, TIMEOUT_OPERATIONS)
}

fn timeout_for_create(planned: &Value) -> Duration {
    timeouts::timeout_for(planned, "create", DEFAULT_CREATE_TIMEOUT)
}

/// What `modify_plan` gathered about one planned restore, for [`decide`].
struct PlannedRestore {
    /// The earlier job with the same inputs, if this process met one (see `earlier`).
    earlier: Option<EarlierJob>,
    /// Whether the user asked for this restore (see [`Facts::deliberate`]).
    deliberate: bool,
    /// Its place among the restores of this run (see `conflicts`); `None` when its target is
    /// known only at apply, or for the first plan of a replacement.
    ticket: Option<Ticket>,
}

impl PlannedRestore {
    /// Writes `decision` into the plan: the checks' findings and the warning for a restore,
    /// the earlier job for an adoption, the reason for a refusal.
    fn carry_out(
        self,
        decision: Decision,
        checks: Option<(Option<super::model::Checked>, Diagnostics)>,
        conflict: Option<Diagnostic>,
        (is_create, start): (bool, bool),
        plan: &mut Plan,
    ) {
        // What the plan says about the earlier job (why it restores again, adopts, or stops),
        // unless a conflict refuses the plan whatever the job did.
        if let Some(job) = self.earlier.as_ref().filter(|_| conflict.is_none()) {
            plan.diagnostics.push(job.plan_diagnostic(start));
        }
        if let Some((checked, diagnostics)) = checks {
            if let (Some(checked), true) = (checked, is_create) {
                checked.write_into(&mut plan.planned);
            }
            plan.diagnostics.extend(diagnostics);
        }
        if let (true, Some(job)) = (decision.adopts(), &self.earlier) {
            job.write_plan(&mut plan.planned);
            plan.private = job.private().to_bytes();
        }
        // Decision::Refuse(Refusal::Conflict) comes with exactly this diagnostic.
        if let Some(d) = conflict {
            plan.diagnostics.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::{COMPUTED_ATTRIBUTES, TIMEOUTS};
    use super::*;

    /// The earlier job, with `fate`, of a tainted restore of vps_t from vps_s's bkp_1.
    fn earlier(fate: Fate) -> (RestoreKey, EarlierJob) {
        let state = Value::object([
            (TARGET_VPS_ID, Value::from("vps_t")),
            (SOURCE_VPS_ID, Value::from("vps_s")),
            (BACKUP_ID, Value::from("bkp_1")),
            (TRIGGERS, Value::Null),
            (JOB_ID, Value::from("job_1")),
        ]);
        let unsettled = Private {
            unsettled: true,
            ..Private::default()
        };
        EarlierJob::of_state(&state, &unsettled, fate).expect("an earlier job")
    }

    #[test]
    fn a_job_met_after_its_replacement_was_planned_stops_the_plan_unless_it_failed() {
        for (fate, stops) in [
            (Fate::Running(JobStatus::Active), true),
            (Fate::Completed, true),
            (Fate::Gone, true),
            (Fate::Failed(None), false),
        ] {
            let run = RunMemory::default();
            let (key, job) = earlier(fate.clone());
            assert!(run.earlier.find_for_create(&key).is_none(), "planned anew");
            let diagnostics = run.remember_refreshed(key.clone(), job.clone());
            assert_eq!(diagnostics.has_errors(), stops, "{fate:?}");
            if stops {
                let d = diagnostics.into_iter().next().unwrap();
                assert!(
                    d.summary.contains("came to light too late"),
                    "{}",
                    d.summary
                );
                assert!(d.detail.contains("terraform import"), "{}", d.detail);
            }
            let run = RunMemory::default();
            let diagnostics = run.remember_refreshed(key.clone(), job);
            assert!(!diagnostics.has_errors(), "met in time: {fate:?}");
            assert!(run.earlier.find_for_create(&key).is_some());
        }
    }

    #[test]
    fn every_restore_input_forces_replacement_and_outputs_are_computed() {
        let s = schema();
        for name in [TARGET_VPS_ID, SOURCE_VPS_ID, BACKUP_ID, TRIGGERS] {
            let a = s.block.find_attribute(name).expect(name);
            assert!(a.requires_replace, "{name} must force replacement");
            assert!(!a.is_computed(), "{name} is an input");
        }
        let guard = s.block.find_attribute(CONFIRM_TARGET_NAME).expect("guard");
        assert!(
            !guard.requires_replace,
            "editing the guard must not restore again"
        );
        for name in COMPUTED_ATTRIBUTES {
            let a = s.block.find_attribute(name).expect(name);
            assert!(a.is_computed() && !a.requires_replace, "{name}");
        }
        let t = s.block.find_block(TIMEOUTS).expect("timeouts block");
        assert!(!t.requires_replace);
        assert!(t.block.find_attribute("create").is_some());
        assert!(s.block.description.starts_with("**Destructive.**"));
    }
}
