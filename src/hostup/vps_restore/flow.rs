//! The restore as one procedure shared by the `hostup_vps_restore` resource and its action twin:
//! the static checks of a configuration, the live checks at plan time and again just before the
//! POST, the single POST, and the wait for the job with the texts for failure, timeout and
//! interruption. The caller decides what happens around it (state for the resource, progress
//! lines for the action); `Caller` picks the advice that fits each.

use std::time::Duration;

use crate::api::{ApiError, Client, JobProgress, JobStatus, Operation};
use crate::framework::{AttributePath, Context, Diagnostic, Diagnostics, Value};
use crate::hostup::attributes::validate_id_attribute;
use crate::hostup::diagnostics::{write_failure, Writing};
use crate::hostup::job::{self, Ending, JobSubject};
use crate::hostup::shared::Shared;

use super::checks::{self, Reads, Unchecked};
use super::model::{
    now_rfc3339, Checked, RestoreArgs, BACKUP_ID, CONFIRM_TARGET_NAME, SOURCE_VPS_ID, TARGET_VPS_ID,
};

/// Who runs the restore; decides the recovery advice in the final diagnostics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// The `hostup_vps_restore` resource: a failed wait leaves a tainted record in state.
    Resource,
    /// The `hostup_vps_restore` action: nothing is recorded, so the advice is about the job.
    Action,
}

fn at(name: &str) -> AttributePath {
    AttributePath::attribute(name)
}

/// The checks that need no API: id shapes, source ≠ target, a non-empty name guard. Values still
/// unknown are skipped.
pub fn static_checks(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    for (name, role) in [
        (TARGET_VPS_ID, "target VPS id"),
        (SOURCE_VPS_ID, "source VPS id"),
        (BACKUP_ID, "backup id"),
    ] {
        diags.extend(validate_id_attribute(config, name, role));
    }
    if let (Some(t), Some(s)) = (config.get_str(TARGET_VPS_ID), config.get_str(SOURCE_VPS_ID)) {
        if t == s {
            diags.error_at(
                at(SOURCE_VPS_ID),
                "Source and target are the same VPS",
                format!(
                    "source_vps_id and target_vps_id are both {t:?}. A VPS cannot be \
                     restored from itself with this resource: set source_vps_id to the VPS \
                     whose backup you want on the target."
                ),
            );
        }
    }
    if let Some(name) = config.get_str(CONFIRM_TARGET_NAME) {
        if name.trim().is_empty() {
            diags.error_at(
                at(CONFIRM_TARGET_NAME),
                "Empty confirm_target_name",
                "confirm_target_name is empty. Set it to the target VPS's name, or leave it \
                 out to skip the name check.",
            );
        }
    }
    diags
}

/// The live plan-time checks through the shared read cache: on success the facts and the
/// destruction warning (plus the gate warning when HostUp did not say), otherwise the errors.
/// Skipped (`None`, no diagnostics) while the provider settings or any id are unknown.
pub async fn plan_checks(
    shared: &Shared,
    config: &Value,
    caller: Caller,
) -> (Option<Checked>, Diagnostics) {
    let ending = match caller {
        Caller::Resource => checks::RESOURCE_WARNING_ENDING,
        Caller::Action => {
            "Terraform cannot undo this, and every invocation of the action restores again."
        }
    };
    let client = match shared.client() {
        Ok(Some(c)) => c,
        Ok(None) => {
            tracing::debug!(
                "hostup_vps_restore: provider settings unknown at plan; checks run at apply"
            );
            let d = unchecked_warning(config, Unchecked::ProviderUnknown, ending);
            return (None, d.into());
        }
        Err(d) => return (None, d.into()),
    };
    let reads = Reads::plan(shared.cache(), &client);
    let Some(args) = RestoreArgs::from_value(config) else {
        return (None, target_only_checks(reads, config, ending).await);
    };
    match checks::run(reads, &args).await {
        Ok(checked) => {
            let mut diags: Diagnostics =
                checks::destruction_warning_ending(&checked, ending).into();
            if !checked.gate_checked {
                diags.push(checks::gate_unknown_warning(&checked));
            }
            (Some(checked), diags)
        }
        Err(d) => (None, d),
    }
}

/// [`checks::unchecked_warning`] with what `config` says.
fn unchecked_warning(config: &Value, why: Unchecked, ending: &str) -> Diagnostic {
    let known = |name: &str| config.get(name).and_then(Value::as_str);
    checks::unchecked_warning(
        why,
        known(TARGET_VPS_ID),
        known(SOURCE_VPS_ID),
        known(BACKUP_ID),
        ending,
    )
}

/// Plan-time checks when the source or backup id is unknown (say, a backup this apply creates):
/// the target side is checked now and the plan still says whose disk apply overwrites; the rest
/// is checked just before the POST. With the target unknown too, everything waits for apply.
async fn target_only_checks(reads: Reads<'_>, config: &Value, ending: &str) -> Diagnostics {
    let known = |name: &str| config.get(name).and_then(Value::as_str);
    let Some(target_id) = known(TARGET_VPS_ID) else {
        tracing::debug!("hostup_vps_restore: target unknown at plan; checks run at apply");
        return unchecked_warning(config, Unchecked::TargetUnknown, ending).into();
    };
    tracing::debug!("hostup_vps_restore: source or backup unknown at plan; target checked now");
    match checks::check_target(reads, target_id, known(CONFIRM_TARGET_NAME)).await {
        Ok((target, mut diags)) => {
            if !diags.has_errors() {
                diags.push(checks::target_only_warning(
                    &target,
                    known(SOURCE_VPS_ID),
                    ending,
                ));
            }
            diags
        }
        Err(diags) => diags,
    }
}

/// The checks again just before the POST, on answers at most seconds old: a backup can rotate
/// away, a gate close or a name change after the plan. In an apply, Terraform re-plans the
/// resource in this same process a moment before, so its answers are reused rather than read a
/// second time (see `cache::PRE_POST_MAX_AGE`). Errors say that nothing was sent.
pub async fn fresh_checks(
    shared: &Shared,
    client: &Client,
    args: &RestoreArgs,
) -> Result<Checked, Diagnostics> {
    let reads = Reads::pre_post(shared.cache(), client);
    checks::run(reads, args).await.map_err(|d| {
        d.into_iter()
            .map(|mut d| {
                if d.is_error() {
                    d.detail.push_str(
                        "\n(Checked again just before the restore; nothing was sent to HostUp \
                         and nothing changed.)",
                    );
                }
                d
            })
            .collect()
    })
}

/// The error when Stop arrived during the checks, before anything was sent.
pub fn interrupted_before_post() -> Diagnostic {
    Diagnostic::error(
        "Restore interrupted before it was sent",
        "Terraform was interrupted during the checks before the restore; nothing was sent to \
         HostUp and nothing changed.",
    )
}

/// A restore request that did not give a job: the error for the user, and whether HostUp may
/// have acted on it all the same.
#[derive(Debug)]
pub struct PostFailure {
    /// The error, at the attribute HostUp pointed at when it did.
    pub diagnostic: Diagnostic,
    /// True when HostUp may have started the restore (no usable answer, or an unreadable
    /// success); false when it refused it or the request never left.
    pub may_have_started: bool,
}

/// Sends the restore: exactly one POST, never retried. Whatever its outcome, the target's
/// cached answers are dropped: a restore under way closes its gate, and a refused one may have
/// been refused for something the cache still shows as fine.
pub async fn post(
    shared: &Shared,
    client: &Client,
    args: &RestoreArgs,
) -> Result<Operation, PostFailure> {
    let sent = client
        .restore_from_vps(&args.target_vps_id, &args.source_vps_id, &args.backup_id)
        .await;
    shared.cache().forget_target(&args.target_vps_id);
    sent.map_err(|e| PostFailure {
        diagnostic: post_error(&e),
        may_have_started: e.delivery().may_have_acted(),
    })
}

/// The error of a restore POST, at the attribute HostUp pointed at when it did.
fn post_error(e: &ApiError) -> Diagnostic {
    const RESTORE: Writing = Writing {
        what: "restore",
        check: "the target VPS and its jobs",
        risk: "restore twice",
    };
    let pointer = e
        .problem()
        .and_then(|p| p.errors.iter().find_map(|f| f.pointer.clone()));
    let attribute = match (pointer.as_deref(), e.code()) {
        (Some("/sourceVpsId"), _) => Some(SOURCE_VPS_ID),
        (Some("/backupId"), _) => Some(BACKUP_ID),
        (_, Some("vps_not_ready" | "vps_not_found")) => Some(TARGET_VPS_ID),
        _ => None,
    };
    let d = write_failure(e, RESTORE);
    match attribute {
        Some(a) => d.at(at(a)),
        None => d,
    }
}

impl Caller {
    /// The restore job of `target`, in this caller's words.
    fn job_subject(self, target: &str, job_id: &str) -> JobSubject {
        JobSubject {
            name: format!("restore of {target}"),
            accepted: "restore",
            after_failure: format!(
                "The target VPS may be stopped or partly written; check it in HostUp. {}",
                self.after_failure()
            ),
            recovery: self.recovery_advice(job_id),
            record_gone: self.record_gone_advice(job_id),
            timeout_name: self.timeout_name(),
        }
    }

    /// What to do after a wait that ended without an answer; shared by timeout, Stop and lost
    /// track.
    fn recovery_advice(self, job_id: &str) -> String {
        match self {
            Caller::Resource => format!(
                "The restore continues at HostUp and will not be sent again by this apply. \
                 Terraform records this resource as tainted, with job id {job_id} in state. What \
                 to do next: run `terraform apply` again. The provider recognises job {job_id} \
                 as this resource's restore and sends no new one: while the job runs it waits \
                 for it, once it has completed it records it, and only if it failed does it \
                 restore again (the plan says which). To wait longer, raise `timeouts.create`. \
                 Alternatively, once the job has completed, `terraform untaint \
                 hostup_vps_restore.<name>` accepts it by hand."
            ),
            Caller::Action => format!(
                "The restore continues at HostUp and was not sent again. Follow job {job_id} in \
                 the HostUp control panel; do not invoke the action again before it has \
                 finished, or the target is restored twice (HostUp refuses a second restore \
                 while the first runs). To wait longer, raise the action's `timeout`."
            ),
        }
    }

    /// What happens after a wait whose job record HostUp dropped: the outcome is unknown for
    /// good, so nothing restores again until the user has looked.
    fn record_gone_advice(self, job_id: &str) -> String {
        match self {
            Caller::Resource => format!(
                "The job may have completed or failed; HostUp can no longer say which. Terraform \
                 records this resource as tainted, with job id {job_id} in state, and the next \
                 plan stops with an error saying the outcome of the earlier restore is unknown: \
                 nothing is sent again on its own. Check the target VPS in HostUp (is it running \
                 from the backup?), then either accept the restore with `terraform untaint \
                 hostup_vps_restore.<name>`, or restore again on purpose by changing a value in \
                 `triggers`."
            ),
            Caller::Action => format!(
                "The job may have completed or failed; HostUp can no longer say which. Check the \
                 target VPS in the HostUp control panel (is it running from the backup?) before \
                 invoking the action again: doing so restores it again. (Job {job_id}.)"
            ),
        }
    }

    fn after_failure(self) -> &'static str {
        match self {
            Caller::Resource => {
                "Terraform records this restore as tainted: fix the cause (for example pick \
                 another backup), then run `terraform apply` to restore again."
            }
            Caller::Action => {
                "Fix the cause (for example pick another backup), then invoke the action again."
            }
        }
    }

    fn timeout_name(self) -> &'static str {
        match self {
            Caller::Resource => "the create timeout",
            Caller::Action => "the action's timeout",
        }
    }
}

/// "web-01 (vps_…)" or the id.
pub fn target_label(c: &Checked) -> String {
    checks::label(&c.target_id, c.target_name.as_deref())
}

/// How a wait ended, ready for state and for the user.
#[derive(Debug)]
pub struct WaitEnd {
    /// Whether the job ended (completed or failed) in the provider's sight; false after a
    /// timeout, a Stop or a lost answer, when the job may go on at HostUp.
    pub ended: bool,
    /// The last status known.
    pub status: JobStatus,
    /// When the job ended, for completed and failed jobs.
    pub completed_at: Option<String>,
    /// Empty on success; otherwise one error naming the job.
    pub diagnostics: Diagnostics,
}

/// A restore HostUp accepted: its job, its target, and how long to wait for it.
#[derive(Clone, Copy, Debug)]
pub struct Sent<'a> {
    /// The job HostUp queued for the restore.
    pub op: &'a Operation,
    /// The target as messages name it: "web-01 (vps_…)" (see [`target_label`]).
    pub target: &'a str,
    /// How long to wait for the job: the resource's `timeouts.create` or the action's `timeout`.
    pub timeout: Duration,
}

/// Waits for the restore job until it ends, the timeout runs out or Terraform's Stop arrives, and
/// describes the outcome. `on_progress` sees each change the poller notices.
pub async fn wait(
    ctx: &Context,
    shared: &Shared,
    client: &Client,
    sent: Sent<'_>,
    caller: Caller,
    on_progress: impl FnMut(&JobProgress) + Send + 'static,
) -> WaitEnd {
    let Sent {
        op,
        target,
        timeout,
    } = sent;
    let subject = caller.job_subject(target, &op.job_id);
    let settled = job::settle(ctx, shared, client, op, timeout, &subject, on_progress).await;
    if matches!(settled.ending, Ending::Completed(_)) {
        tracing::info!(job_id = %op.job_id, target = %target, "hostup_vps_restore: restore completed");
    }
    let completed_at = settled.ended().then(|| {
        settled
            .finished_at()
            .map_or_else(now_rfc3339, str::to_owned)
    });
    WaitEnd {
        ended: settled.ended(),
        status: settled.last_status,
        completed_at,
        diagnostics: settled.diagnostics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_advice_names_the_job_and_the_way_out() {
        let a = Caller::Resource.recovery_advice("job_42");
        assert!(a.contains("job_42"));
        assert!(a.contains("continues at HostUp"));
        assert!(a.contains("terraform untaint"));
        assert!(a.contains("recognises job job_42"), "{a}");
        let b = Caller::Action.recovery_advice("job_42");
        assert!(b.contains("job_42") && b.contains("continues at HostUp"));
        assert!(b.contains("`timeout`") && !b.contains("untaint"), "{b}");
    }

    #[test]
    fn static_checks_point_at_the_attribute() {
        let cfg = Value::object([
            (TARGET_VPS_ID, Value::from("vps_a")),
            (SOURCE_VPS_ID, Value::from("vps_a")),
            (BACKUP_ID, Value::Unknown),
            (CONFIRM_TARGET_NAME, Value::from("  ")),
        ]);
        let d = static_checks(&cfg);
        let paths: Vec<_> = d.iter().filter_map(|d| d.attribute.clone()).collect();
        assert_eq!(paths, [at(SOURCE_VPS_ID), at(CONFIRM_TARGET_NAME)], "{d:?}");
    }
}
