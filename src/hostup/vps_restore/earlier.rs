//! The earlier job of a tainted restore. When the provider stops waiting before a restore job
//! ends (the create timeout, Terraform's Stop, a lost answer), Terraform keeps the resource as
//! tainted with the job id, and its next plan replaces it: a create from a null prior state. That
//! create must not restore again while the earlier job may still be writing the disk, or after
//! it completed: it adopts the job instead.
//!
//! The object reaches the create through the provider process (see `hostup::replaced`), under the
//! restore's inputs (target, source, backup, triggers): the same inputs mean the same intent.
//! Changing `triggers` (or any input) is therefore a deliberate second restore, and a resource
//! whose restore ended in the provider's sight is never adopted, so `-replace` on it restores
//! again.
//!
//! The decision depends only on the refreshed object, which the plan and the apply both see, so
//! the values the plan promises (the job id, and the whole record of a completed job) come out
//! the same when the apply plans again.

use crate::api::{Job, JobStatus};
use crate::framework::{Diagnostic, Value};
use crate::hostup::replaced::Replaced;
use crate::hostup::values::number;

use crate::hostup::power::{self, SentAction};

use super::checks::label;
use super::model::{
    starts_after_restore, Private, BACKUP_CREATED_AT, BACKUP_ID, BACKUP_SIZE_GB, COMPLETED_AT, ID,
    JOB_ID, POWER_STATE, SOURCE_TYPE, SOURCE_VPS_ID, STARTED_AT, STATUS, STATUS_UNANSWERED,
    TARGET_NAME, TARGET_VPS_ID, TRIGGERS,
};

/// The inputs that make up one restore intent; equal keys mean the same restore.
#[derive(Clone, Debug, PartialEq)]
pub struct RestoreKey {
    /// The VPS that is overwritten.
    pub target: String,
    /// The VPS whose backup is restored.
    pub source: String,
    /// The backup restored.
    pub backup: String,
    /// The `triggers` map, null when not set.
    pub triggers: Value,
}

impl RestoreKey {
    /// The key of a configuration or state; `None` while any part of it is unknown.
    pub fn of(v: &Value) -> Option<RestoreKey> {
        let id = |name: &str| v.get(name).and_then(Value::as_str).map(str::to_owned);
        let triggers = v.get(TRIGGERS).cloned().unwrap_or(Value::Null);
        if !triggers.is_wholly_known() {
            return None;
        }
        Some(RestoreKey {
            target: id(TARGET_VPS_ID)?,
            source: id(SOURCE_VPS_ID)?,
            backup: id(BACKUP_ID)?,
            triggers,
        })
    }
}

/// What became of an earlier job, as far as HostUp (or the refreshed state) says.
#[derive(Clone, Debug, PartialEq)]
pub enum Fate {
    /// Not ended yet, with its last status.
    Running(JobStatus),
    /// Ended successfully: the restore is in place.
    Completed,
    /// Ended in failure, with HostUp's reason when it gave one.
    Failed(Option<String>),
    /// HostUp no longer keeps the job's record, so its outcome is unknown.
    Gone,
    /// The restore request got no usable answer: HostUp may have started a restore, and there
    /// is no job id to follow.
    Unanswered,
}

impl Fate {
    /// The fate a job record tells.
    pub fn of_job(job: &Job) -> Fate {
        match job.status {
            JobStatus::Completed => Fate::Completed,
            JobStatus::Failed => Fate::Failed(job.failure_reason()),
            ref running => Fate::Running(running.clone()),
        }
    }

    /// The fate the state's `status` records (as the last refresh left it).
    pub fn of_state(state: &Value) -> Fate {
        match JobStatus::parse(state.get_str(STATUS).unwrap_or_default()) {
            JobStatus::Completed => Fate::Completed,
            JobStatus::Failed => Fate::Failed(None),
            running => Fate::Running(running),
        }
    }
}

/// The earlier jobs of restores this process met, and the restores replaced on purpose.
pub type EarlierJobs = Replaced<RestoreKey, EarlierJob>;

/// The job of an earlier restore with the same inputs, and what became of it.
#[derive(Clone, Debug)]
pub struct EarlierJob {
    /// HostUp's job id.
    pub job_id: String,
    /// Where the job is polled.
    pub poll_url: String,
    /// What became of it.
    pub fate: Fate,
    /// The start `start_after_restore` sent for it, when its end was not seen.
    start: Option<SentAction>,
    /// The restore completed but its start did not finish.
    start_pending: bool,
    /// The earlier object's state, as refreshed.
    state: Value,
}

impl EarlierJob {
    /// The earlier job of `state`, when a replacement has to reckon with it: its job did not end
    /// in the provider's sight, its start (`start_after_restore`) did not finish, or it failed
    /// (the replacement then says why it restores again).
    pub fn of_state(state: &Value, private: &Private, fate: Fate) -> Option<(RestoreKey, Self)> {
        if !private.unsettled && !private.start_pending && !matches!(fate, Fate::Failed(_)) {
            return None;
        }
        let key = RestoreKey::of(state)?;
        let job_id = state.get_str(JOB_ID)?.to_owned();
        let poll_url = private.poll_url_for(&job_id)?;
        Some((
            key,
            EarlierJob {
                job_id,
                poll_url,
                fate,
                start: private.start.clone(),
                start_pending: private.start_pending,
                state: state.clone(),
            },
        ))
    }

    /// The earlier job a deleted restore leaves for its replacement. Terraform hands the delete
    /// the replacement's planned private data (`planned`), not the state's: the plan's marks (a
    /// deliberate replacement, an adopted job) are there; without a refresh in the plan
    /// (`-refresh=false`) the state's own values are the only sign that its job had not ended
    /// when it was last seen (its status), or that its start had not (a completed restore with
    /// `start_after_restore` whose target was not seen running).
    pub fn of_deleted(prior: &Value, planned: &[u8]) -> Option<(RestoreKey, Self)> {
        let planned = Private::from_bytes(planned);
        if planned.replaced_on_purpose {
            return None;
        }
        let fate = Fate::of_state(prior);
        let not_started = fate == Fate::Completed
            && starts_after_restore(prior)
            && prior.get_str(POWER_STATE) != Some(power::RUNNING);
        let seen = Private {
            unsettled: planned.unsettled || matches!(fate, Fate::Running(_)),
            start_pending: planned.start_pending || not_started,
            ..planned
        };
        EarlierJob::unanswered(prior).or_else(|| EarlierJob::of_state(prior, &seen, fate))
    }

    /// The record of a restore whose request got no usable answer (status `unknown`, no job
    /// id): the replacement stops and asks rather than restoring again.
    pub fn unanswered(state: &Value) -> Option<(RestoreKey, Self)> {
        let unanswered =
            state.get_str(JOB_ID).is_none() && state.get_str(STATUS) == Some(STATUS_UNANSWERED);
        if !unanswered {
            return None;
        }
        Some((
            RestoreKey::of(state)?,
            EarlierJob {
                job_id: String::new(),
                poll_url: String::new(),
                fate: Fate::Unanswered,
                start: None,
                start_pending: false,
                state: state.clone(),
            },
        ))
    }

    /// Fills the planned value of an adopting create from the earlier object: the job and the
    /// checked facts; the status and end time too once the job has completed. While it runs they
    /// stay unknown: the apply learns them by waiting.
    pub fn write_plan(&self, planned: &mut Value) {
        let mut carried = vec![
            ID,
            JOB_ID,
            STARTED_AT,
            TARGET_NAME,
            SOURCE_TYPE,
            BACKUP_CREATED_AT,
            BACKUP_SIZE_GB,
        ];
        if self.fate == Fate::Completed {
            carried.extend([STATUS, COMPLETED_AT]);
        }
        for name in carried {
            let value = self.state.get(name).cloned().unwrap_or(Value::Null);
            // A number read back from state must plan as the checks plan it (a float), or
            // Terraform 1.0 sees 12.4 and "12.4" as different values between plan and apply.
            let value = match name {
                BACKUP_SIZE_GB => number(value.as_f64()),
                _ => value,
            };
            planned.set(name, value);
        }
    }

    /// The private data an adopting create plans with: where to poll, and still unsettled (the
    /// job has not ended in this provider's sight yet). Terraform hands a replacement's planned
    /// private data to the delete of the object it replaces, so the apply's delete finds the
    /// mark there even where the refreshed state's own private data lacks it.
    pub fn private(&self) -> Private {
        Private {
            poll_url: self.poll_url.clone(),
            unsettled: true,
            replaced_on_purpose: false,
            start_pending: self.start_pending,
            start: self.start.clone(),
        }
    }

    /// "web-01 (vps_…)" or the id.
    pub fn target_label(&self) -> String {
        label(
            self.state.get_str(TARGET_VPS_ID).unwrap_or_default(),
            self.state.get_str(TARGET_NAME),
        )
    }

    /// The error of a `read` that met this job after the create replacing its object was planned
    /// without it (see `hostup::replaced`): that plan would restore again, so the run stops.
    pub fn too_late_diagnostic(&self) -> Diagnostic {
        let job = &self.job_id;
        let target = self.target_label();
        let (earlier, keep) = match self.fate {
            Fate::Unanswered => (
                "an earlier restore request for it got no usable answer, so HostUp may have \
                 started that restore"
                    .to_owned(),
                "Check the target VPS in the HostUp control panel first. If the restore is in \
                 place, keep it: `terraform state rm hostup_vps_restore.<name>` (`tofu` with \
                 OpenTofu), then `terraform import hostup_vps_restore.<name> <job_id>` with the \
                 id of the job HostUp shows. If it is not, `terraform state rm` it and apply \
                 again."
                    .to_owned(),
            ),
            _ => (
                format!(
                    "HostUp job {job}, which an earlier apply stopped waiting for, restores it"
                ),
                format!(
                    "Record that restore instead: `terraform state rm \
                     hostup_vps_restore.<name>` (`tofu` with OpenTofu), then `terraform import \
                     hostup_vps_restore.<name> {job}`, and plan again."
                ),
            ),
        };
        Diagnostic::error(
            format!("An earlier restore of {target} came to light too late"),
            format!(
                "Terraform's state holds an earlier restore of {target} with the same source and \
                 backup: {earlier}. Terraform planned this configuration's new restore before it \
                 refreshed that record, so applying would restore a second time; this plan \
                 stops, and nothing was sent. That happens when the record is a deposed object, \
                 which an apply with `create_before_destroy` leaves when it stops before the \
                 replacement (\"Provider produced inconsistent final plan\"): Terraform plans a \
                 deposed object apart from the new one, in either order. {keep}"
            ),
        )
    }

    /// What the plan says about this job: a warning for an adopted or failed job, an error for
    /// one whose record is gone. `start` is the configuration's `start_after_restore`.
    pub fn plan_diagnostic(&self, start: bool) -> Diagnostic {
        let job = &self.job_id;
        let target = self.target_label();
        let stopped = format!(
            "An earlier apply stopped waiting for HostUp job {job} before it ended (a timeout, \
             an interrupt or a lost answer), which left this resource tainted."
        );
        let shown =
            "Terraform still shows a replacement: that is how it plans a tainted resource. \
                     With `create_before_destroy` on this resource, the apply stops before \
                     anything is sent and the job must then be recorded by hand (see the \
                     resource's docs).";
        let on_purpose = "To restore again on purpose, change a value in `triggers`.";
        // What an adopting apply does once the restore is in place.
        let then = if start {
            " Once the restore is in place it starts the target, unless it is already running \
             (`start_after_restore`)."
        } else {
            ""
        };
        // Whether the earlier restore happened is unknown: what to check, and the two ways on.
        let decide = |check: &str| {
            format!(
                "Restoring again could overwrite everything the VPS has done since, so nothing \
                 is planned. Check the target VPS in the HostUp control panel: {check} If the \
                 restore is in place, keep it: run `terraform untaint` (`tofu untaint` with \
                 OpenTofu) with this resource's address, then plan again. {on_purpose} The next \
                 apply then sends a new restore."
            )
        };
        match &self.fate {
            Fate::Running(status) => Diagnostic::warning(
                format!("The restore of {target} is already running: job {job}"),
                format!(
                    "{stopped} HostUp says the job is {status}. Applying sends no new restore: \
                     it waits for job {job} (up to `timeouts.create`) and records how it ends.\
                     {then} {shown} {on_purpose}"
                ),
            ),
            Fate::Completed => {
                let at = self
                    .state
                    .get_str(COMPLETED_AT)
                    .map(|t| format!(" at {t}"))
                    .unwrap_or_default();
                let (how, what) = if self.start_pending {
                    (
                        format!(
                            "An earlier apply restored {target} with HostUp job {job} but did \
                             not finish starting it (the start was refused, timed out or was \
                             interrupted), which left this resource tainted."
                        ),
                        if start {
                            "Applying sends no new restore: it records that restore in state and \
                             starts the target, unless it is already running; a start the \
                             earlier apply sent is waited for, not sent again."
                        } else {
                            "Applying sends nothing to HostUp: it records that restore in state \
                             (`start_after_restore` is off now, so the target is not started)."
                        },
                    )
                } else if start {
                    (
                        stopped.clone(),
                        "Applying sends no new restore: it records that restore in state and \
                         starts the target, unless it is already running.",
                    )
                } else {
                    (
                        stopped.clone(),
                        "Applying sends nothing to HostUp: it records that restore in state, and \
                         the plan after it is empty.",
                    )
                };
                Diagnostic::warning(
                    format!("The restore of {target} already completed: job {job}"),
                    format!("{how} HostUp says the job completed{at}. {what} {shown} {on_purpose}"),
                )
            }
            Fate::Failed(reason) => {
                let why = reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                Diagnostic::warning(
                    format!("The earlier restore of {target} failed: job {job}"),
                    format!(
                        "HostUp job {job} failed{why}. Applying sends a new restore (see the \
                         warning on what it overwrites). If the backup itself is the cause, pick \
                         another `backup_id` first."
                    ),
                )
            }
            Fate::Unanswered => {
                let at = self
                    .state
                    .get_str(STARTED_AT)
                    .map(|t| format!(" at {t}"))
                    .unwrap_or_default();
                Diagnostic::error(
                    format!("The earlier restore request for {target} may have started"),
                    format!(
                        "An earlier apply sent the restore{at} but got no usable answer (no \
                         answer in time, a server error, or an unreadable success), which left \
                         this resource tainted with status \"unknown\" and no job id. HostUp \
                         may have started that restore. {}",
                        decide("is a restore job running on it, or did one complete?")
                    ),
                )
            }
            Fate::Gone => Diagnostic::error(
                format!("The outcome of the earlier restore of {target} is unknown: job {job}"),
                format!(
                    "{stopped} HostUp no longer keeps a record of job {job}, so the provider \
                     cannot tell whether that restore completed. {}",
                    decide("is it running, and does it hold the restored data?")
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostup::replaced::Met;
    use crate::hostup::vps_restore::decide::{decide, Facts};
    use crate::hostup::vps_restore::model::{COMPUTED_ATTRIBUTES, RUNNING_AT, START_AFTER_RESTORE};

    /// Whether a replacement without other facts takes `job` as its own restore.
    fn adopted(job: &EarlierJob) -> bool {
        decide(&Facts {
            earlier: Some(job.fate.clone()),
            deliberate: false,
            conflict: false,
        })
        .adopts()
    }

    fn state(status: &str) -> Value {
        Value::object([
            (TARGET_VPS_ID, Value::from("vps_t")),
            (SOURCE_VPS_ID, Value::from("vps_s")),
            (BACKUP_ID, Value::from("bkp_1")),
            (TRIGGERS, Value::Null),
            (ID, Value::from("job_1")),
            (JOB_ID, Value::from("job_1")),
            (STATUS, Value::from(status)),
            (STARTED_AT, Value::from("2026-05-01T00:00:00Z")),
            (COMPLETED_AT, Value::Null),
            (TARGET_NAME, Value::from("web-01")),
            (SOURCE_TYPE, Value::from("server")),
            (BACKUP_CREATED_AT, Value::from("2026-04-27T10:00:00Z")),
            (BACKUP_SIZE_GB, Value::float(12.4)),
        ])
    }

    fn marked() -> Private {
        Private {
            poll_url: "/api/jobs/job_1".into(),
            unsettled: true,
            ..Private::default()
        }
    }

    fn planned_create() -> Value {
        let mut v = state("x");
        for name in COMPUTED_ATTRIBUTES {
            v.set(name, Value::Unknown);
        }
        v
    }

    #[test]
    fn only_a_job_that_did_not_end_in_sight_or_failed_is_remembered() {
        let settled = Private {
            unsettled: false,
            ..marked()
        };
        assert!(EarlierJob::of_state(&state("completed"), &settled, Fate::Completed).is_none());
        assert!(EarlierJob::of_state(&state("completed"), &marked(), Fate::Completed).is_some());
        let failed = Fate::Failed(Some("checksum".into()));
        assert!(EarlierJob::of_state(&state("failed"), &settled, failed).is_some());
        let mut unknown = state("queued");
        unknown.set(TRIGGERS, Value::Unknown);
        assert!(EarlierJob::of_state(&unknown, &marked(), Fate::Gone).is_none());
    }

    #[test]
    fn a_delete_leaves_the_job_the_plan_adopted_or_the_state_shows_running() {
        let fate = |prior: &Value, planned: &Private| {
            EarlierJob::of_deleted(prior, &planned.to_bytes()).map(|(_, job)| job.fate)
        };
        let none = Private::default();
        // The plan adopted the job: its mark is in the planned private data.
        assert_eq!(fate(&state("completed"), &marked()), Some(Fate::Completed));
        // A plan without a refresh: only the state's status says the job had not ended.
        assert_eq!(
            fate(&state("in_progress"), &none),
            Some(Fate::Running(JobStatus::InProgress))
        );
        assert_eq!(fate(&state("completed"), &none), None, "ended in sight");
        // Nor its start: a completed restore whose target was not seen running.
        let mut not_started = state("completed");
        not_started.set(START_AFTER_RESTORE, Value::Bool(true));
        not_started.set(POWER_STATE, Value::from("stopped"));
        assert_eq!(fate(&not_started, &none), Some(Fate::Completed));
        not_started.set(POWER_STATE, Value::from("running"));
        assert_eq!(fate(&not_started, &none), None, "started in sight");
        // A deliberate replacement leaves nothing, whatever the job did.
        let on_purpose = Private {
            replaced_on_purpose: true,
            ..marked()
        };
        assert_eq!(fate(&state("in_progress"), &on_purpose), None);
        // An unanswered restore has no job, and is left as such.
        let mut unanswered = state(STATUS_UNANSWERED);
        unanswered.set(ID, Value::Null);
        unanswered.set(JOB_ID, Value::Null);
        assert_eq!(fate(&unanswered, &none), Some(Fate::Unanswered));
    }

    #[test]
    fn a_running_job_plans_its_id_and_leaves_the_status_to_the_apply() {
        let (_, job) = EarlierJob::of_state(
            &state("in_progress"),
            &marked(),
            Fate::of_state(&state("in_progress")),
        )
        .unwrap();
        assert!(adopted(&job));
        let mut planned = planned_create();
        job.write_plan(&mut planned);
        assert_eq!(planned.get_str(JOB_ID), Some("job_1"));
        assert_eq!(planned.get_str(ID), Some("job_1"));
        assert_eq!(planned.get_str(TARGET_NAME), Some("web-01"));
        assert!(planned.get(STATUS).unwrap().is_unknown());
        assert!(planned.get(COMPLETED_AT).unwrap().is_unknown());
        let d = job.plan_diagnostic(false);
        assert!(!d.is_error());
        assert!(
            d.summary.contains("already running: job job_1"),
            "{}",
            d.summary
        );
        assert!(d.detail.contains("sends no new restore"), "{}", d.detail);
    }

    #[test]
    fn a_completed_job_plans_the_whole_record() {
        let mut done = state("completed");
        done.set(COMPLETED_AT, Value::from("2026-05-01T00:05:00Z"));
        let (_, job) = EarlierJob::of_state(&done, &marked(), Fate::Completed).unwrap();
        let mut planned = planned_create();
        job.write_plan(&mut planned);
        // The power state is read by the apply, which records the job.
        for name in [POWER_STATE, RUNNING_AT] {
            assert!(planned.get(name).unwrap().is_unknown(), "{name}");
            done.set(name, Value::Unknown);
        }
        assert_eq!(planned, done, "the planned create is the earlier record");
        let d = job.plan_diagnostic(false);
        assert!(d.detail.contains("sends nothing to HostUp"), "{}", d.detail);
        assert!(d.detail.contains("at 2026-05-01T00:05:00Z"), "{}", d.detail);
        let d = job.plan_diagnostic(true);
        assert!(d.detail.contains("starts the target"), "{}", d.detail);
    }

    #[test]
    fn a_completed_restore_whose_start_did_not_finish_is_adopted_and_started() {
        let done = state("completed");
        let settled = Private {
            poll_url: "/api/jobs/job_1".into(),
            ..Private::default()
        };
        assert!(EarlierJob::of_state(&done, &settled, Fate::Completed).is_none());
        let pending = Private {
            start_pending: true,
            start: Some(SentAction::Unanswered),
            ..settled
        };
        let (_, job) = EarlierJob::of_state(&done, &pending, Fate::Completed).expect("adopted");
        assert!(adopted(&job));
        let private = job.private();
        assert!(private.start_pending, "the apply finishes the start");
        assert_eq!(private.start, Some(SentAction::Unanswered), "never resent");
        let d = job.plan_diagnostic(true);
        assert!(
            d.detail.contains("did not finish starting it"),
            "{}",
            d.detail
        );
        assert!(d.detail.contains("not sent again"), "{}", d.detail);
        let d = job.plan_diagnostic(false);
        assert!(d.detail.contains("is not started"), "{}", d.detail);
    }

    #[test]
    fn a_failed_job_is_not_adopted_and_a_gone_one_stops_the_plan() {
        let failed = Fate::Failed(Some("archive checksum mismatch".into()));
        let (_, job) = EarlierJob::of_state(&state("failed"), &marked(), failed).unwrap();
        assert!(!adopted(&job));
        let d = job.plan_diagnostic(false);
        assert!(!d.is_error());
        assert!(
            d.detail.contains("failed: archive checksum mismatch"),
            "{}",
            d.detail
        );

        let (_, job) = EarlierJob::of_state(&state("queued"), &marked(), Fate::Gone).unwrap();
        assert!(!adopted(&job));
        let d = job.plan_diagnostic(false);
        assert!(d.is_error());
        for needle in ["job_1", "untaint", "`triggers`", "web-01 (vps_t)"] {
            assert!(
                d.summary.contains(needle) || d.detail.contains(needle),
                "{needle}: {d:?}"
            );
        }
    }

    #[test]
    fn an_unanswered_restore_stops_the_plan_and_a_job_record_is_not_one() {
        let mut lost = state(STATUS_UNANSWERED);
        lost.set(JOB_ID, Value::Null);
        lost.set(ID, Value::Null);
        let (_, job) = EarlierJob::unanswered(&lost).expect("an unanswered record");
        assert!(!adopted(&job));
        let d = job.plan_diagnostic(false);
        assert!(d.is_error());
        assert!(d.summary.contains("may have started"), "{}", d.summary);
        for needle in ["at 2026-05-01T00:00:00Z", "untaint", "`triggers`"] {
            assert!(d.detail.contains(needle), "{needle}: {}", d.detail);
        }
        assert!(
            EarlierJob::unanswered(&state("queued")).is_none(),
            "it has a job"
        );
        let mut no_status = lost.clone();
        no_status.set(STATUS, Value::from("in_progress"));
        assert!(EarlierJob::unanswered(&no_status).is_none());
    }

    #[test]
    fn jobs_are_found_by_the_same_inputs_only() {
        let jobs = EarlierJobs::default();
        let (key, job) = EarlierJob::of_state(
            &state("queued"),
            &marked(),
            Fate::Running(JobStatus::Queued),
        )
        .unwrap();
        assert_eq!(jobs.remember(key.clone(), job), Met::InTime);
        assert_eq!(jobs.find_for_create(&key).unwrap().job_id, "job_1");
        let mut other = key.clone();
        other.triggers = Value::Map([("run".to_owned(), Value::from("2"))].into());
        assert!(
            jobs.find_for_create(&other).is_none(),
            "changed triggers mean a new restore"
        );
        let (key, job) =
            EarlierJob::of_state(&state("completed"), &marked(), Fate::Completed).unwrap();
        assert_eq!(jobs.remember(key.clone(), job), Met::InTime);
        assert_eq!(
            jobs.find_for_create(&key).unwrap().fate,
            Fate::Completed,
            "replaced"
        );
    }
}
