//! One settler for every HostUp job the provider waits on (a restore, a backup, a backup's
//! deletion): wait with the caller's timeout and Terraform's Stop, keep the last progress seen,
//! and turn the outcome (completed, failed, timed out, interrupted, lost track, record gone) into
//! the last known status and the diagnostics, worded with the caller's subject and recovery
//! advice. The callers decide what the outcome means for state.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::api::{Client, Job, JobProgress, JobStatus, Operation, WaitOptions, WaitOutcome};
use crate::framework::timeouts::format_duration;
use crate::framework::{Context, Diagnostics};

use super::shared::Shared;

/// What a job is, in the caller's words, and what to tell the user when it does not complete.
#[derive(Clone, Debug)]
pub(crate) struct JobSubject {
    /// Lower-case noun phrase: "restore of web-01 (vps_…)", "backup of VPS vps_…".
    pub name: String,
    /// What HostUp accepted, for "HostUp accepted the … as job J": "restore", "deletion".
    pub accepted: &'static str,
    /// Follows "HostUp job J failed: reason.": what a failure leaves behind and what to do.
    pub after_failure: String,
    /// Follows a wait that ended without an answer (timeout, Stop, lost track): the job goes on
    /// at HostUp, so what to do next.
    pub recovery: String,
    /// Follows a wait whose job record HostUp dropped (HTTP 404) before the provider saw the job
    /// end: nobody can learn the outcome from HostUp any more, so what will happen next and what
    /// to check.
    pub record_gone: String,
    /// "the create timeout", "the action's timeout".
    pub timeout_name: &'static str,
}

/// How a job ended, as far as the provider saw.
#[derive(Debug)]
pub(crate) enum Ending {
    Completed(Job),
    Failed(Job),
    /// The wait ended without an outcome: timeout, Stop, or the job could no longer be followed
    /// (its record gone, the API failing). The job may still be running at HostUp.
    Unsettled,
}

/// A settled wait: how it ended, the last status known and, unless it completed, one error.
#[derive(Debug)]
pub(crate) struct Settled {
    pub ending: Ending,
    pub last_status: JobStatus,
    pub diagnostics: Diagnostics,
}

impl Settled {
    /// When the job ended, as HostUp said, for completed and failed jobs.
    pub(crate) fn finished_at(&self) -> Option<&str> {
        match &self.ending {
            Ending::Completed(job) | Ending::Failed(job) => job.finished_at.as_deref(),
            Ending::Unsettled => None,
        }
    }

    /// Whether the job ended, successfully or not.
    pub(crate) fn ended(&self) -> bool {
        !matches!(self.ending, Ending::Unsettled)
    }
}

/// "in_progress, 45% done: Writing disk".
pub(crate) fn describe_progress(status: &JobStatus, p: Option<&JobProgress>) -> String {
    let mut s = status.as_str().to_owned();
    if let Some(p) = p {
        match (p.percentage, p.message.as_deref()) {
            (Some(pct), Some(msg)) => s.push_str(&format!(", {pct:.0}% done: {msg}")),
            (Some(pct), None) => s.push_str(&format!(", {pct:.0}% done")),
            (None, Some(msg)) => s.push_str(&format!(": {msg}")),
            (None, None) => {}
        }
    }
    s
}

/// A request id HostUp put into a failed job's result, if any.
fn request_id_of(job: &Job) -> Option<String> {
    let r = job.result.as_ref()?;
    [
        r.get("requestId"),
        r.get("error").and_then(|e| e.get("requestId")),
    ]
    .into_iter()
    .flatten()
    .find_map(|v| v.as_str().map(str::to_owned))
}

/// "Restore of …" from "restore of …".
fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Waits for the job of `op` until it ends, `timeout` runs out or Terraform's Stop arrives, and
/// settles the outcome for `subject`. `on_progress` sees each change the poller notices.
pub(crate) async fn settle(
    ctx: &Context,
    shared: &Shared,
    client: &Client,
    op: &Operation,
    timeout: Duration,
    subject: &JobSubject,
    on_progress: impl FnMut(&JobProgress) + Send + 'static,
) -> Settled {
    let deadline = tokio::time::Instant::now() + timeout;
    settle_until(
        ctx,
        shared,
        client,
        op,
        deadline,
        timeout,
        subject,
        on_progress,
    )
    .await
}

/// [`settle`] for a job that is one step of a longer run: the wait ends at `deadline`, and a
/// timeout names the run's whole `timeout`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn settle_until(
    ctx: &Context,
    shared: &Shared,
    client: &Client,
    op: &Operation,
    deadline: tokio::time::Instant,
    timeout: Duration,
    subject: &JobSubject,
    mut on_progress: impl FnMut(&JobProgress) + Send + 'static,
) -> Settled {
    let last = Arc::new(Mutex::new(None::<JobProgress>));
    let seen = last.clone();
    let mut opts = WaitOptions::new(timeout);
    opts.deadline = deadline;
    let opts = opts
        .with_cancel(ctx.cancellation().clone())
        .with_poll(shared.poll_schedule())
        .with_progress(move |p: &JobProgress| {
            on_progress(p);
            *seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(p.clone());
        });
    let outcome = client.wait_for_job(op, opts).await;
    let last = last.lock().unwrap_or_else(|e| e.into_inner()).take();
    settled(outcome, op, last.as_ref(), timeout, subject)
}

/// The pure half of [`settle`]: a wait's outcome, with the last progress seen, as a [`Settled`].
fn settled(
    outcome: Result<WaitOutcome, crate::api::ApiError>,
    op: &Operation,
    last: Option<&JobProgress>,
    timeout: Duration,
    subject: &JobSubject,
) -> Settled {
    let job_id = op.job_id.as_str();
    let name = &subject.name;
    let mut diagnostics = Diagnostics::new();
    let (ending, last_status) = match outcome {
        Ok(WaitOutcome::Completed(job)) => (Ending::Completed(job), JobStatus::Completed),
        Ok(WaitOutcome::Failed { reason, job, .. }) => {
            let rid = request_id_of(&job)
                .map(|r| format!(" [request id {r}]"))
                .unwrap_or_default();
            diagnostics.error(
                format!("{} failed", capitalized(name)),
                format!(
                    "HostUp job {job_id} failed: {reason}{rid}. {}",
                    subject.after_failure
                ),
            );
            (Ending::Failed(job), JobStatus::Failed)
        }
        Ok(WaitOutcome::TimedOut { last_status, .. }) => {
            diagnostics.error(
                format!("Timed out waiting for the {name}"),
                format!(
                    "HostUp job {job_id} was still {} when {} of {} ran out. {}",
                    describe_progress(&last_status, last),
                    subject.timeout_name,
                    format_duration(timeout),
                    subject.recovery
                ),
            );
            (Ending::Unsettled, last_status)
        }
        Ok(WaitOutcome::Cancelled { last_status, .. }) => {
            diagnostics.error(
                format!("{} interrupted", capitalized(name)),
                format!(
                    "Terraform was interrupted while HostUp job {job_id} was {}; the provider \
                     stopped waiting, but the job itself was not cancelled. {}",
                    describe_progress(&last_status, last),
                    subject.recovery
                ),
            );
            (Ending::Unsettled, last_status)
        }
        Err(e) => {
            // A job record HostUp dropped before the provider saw the job end leaves the outcome
            // unknown for good; any other failure to follow the job may pass.
            let next = match e {
                crate::api::ApiError::JobRecordExpired { .. } => &subject.record_gone,
                _ => &subject.recovery,
            };
            diagnostics.error(
                format!("Lost track of the {name}"),
                format!(
                    "HostUp accepted the {} as job {job_id}, but following it failed: {e} {next}",
                    subject.accepted
                ),
            );
            let status = last.map_or_else(|| op.status.clone(), |p| p.status.clone());
            (Ending::Unsettled, status)
        }
    };
    Settled {
        ending,
        last_status,
        diagnostics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ApiError;

    fn subject() -> JobSubject {
        JobSubject {
            name: "restore of web-01 (vps_1)".into(),
            accepted: "restore",
            after_failure: "Fix it.".into(),
            recovery: "Wait for it.".into(),
            record_gone: "Check it.".into(),
            timeout_name: "the create timeout",
        }
    }

    fn op() -> Operation {
        Operation {
            status: JobStatus::Queued,
            job_id: "job_7".into(),
            poll_url: "/api/jobs/job_7".into(),
            result: None,
        }
    }

    fn job(status: JobStatus) -> Job {
        Job {
            job_id: "job_7".into(),
            status,
            state: None,
            percentage: None,
            message: None,
            progress_message: None,
            failed_reason: None,
            result: Some(serde_json::json!({"error": {"requestId": "req_9"}})),
            created_at: None,
            finished_at: Some("2026-04-27T10:00:00Z".into()),
        }
    }

    fn the_error(s: &Settled) -> (String, String) {
        let d = s.diagnostics.iter().next().expect("one error");
        assert!(d.is_error() && s.diagnostics.len() == 1);
        (d.summary.clone(), d.detail.clone())
    }

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn completed_and_failed_jobs_end_with_their_time() {
        let done = settled(
            Ok(WaitOutcome::Completed(job(JobStatus::Completed))),
            &op(),
            None,
            MINUTE,
            &subject(),
        );
        assert!(done.diagnostics.is_empty() && done.ended());
        assert_eq!(done.finished_at(), Some("2026-04-27T10:00:00Z"));
        let failed = settled(
            Ok(WaitOutcome::Failed {
                job_id: "job_7".into(),
                reason: "disk error".into(),
                job: job(JobStatus::Failed),
            }),
            &op(),
            None,
            MINUTE,
            &subject(),
        );
        assert_eq!(failed.last_status, JobStatus::Failed);
        let (summary, detail) = the_error(&failed);
        assert_eq!(summary, "Restore of web-01 (vps_1) failed");
        assert_eq!(
            detail,
            "HostUp job job_7 failed: disk error [request id req_9]. Fix it."
        );
    }

    #[test]
    fn a_wait_without_an_answer_keeps_the_last_progress_and_gives_the_recovery() {
        let last = JobProgress {
            job_id: "job_7".into(),
            status: JobStatus::InProgress,
            percentage: Some(45.0),
            message: Some("Writing disk".into()),
        };
        let timed_out = settled(
            Ok(WaitOutcome::TimedOut {
                job_id: "job_7".into(),
                last_status: JobStatus::InProgress,
                last_percentage: Some(45.0),
            }),
            &op(),
            Some(&last),
            MINUTE,
            &subject(),
        );
        assert!(!timed_out.ended());
        let (summary, detail) = the_error(&timed_out);
        assert_eq!(
            summary,
            "Timed out waiting for the restore of web-01 (vps_1)"
        );
        assert!(
            detail.contains("was still in_progress, 45% done: Writing disk when the create timeout of 1m ran out. Wait for it."),
            "{detail}"
        );
        let interrupted = settled(
            Ok(WaitOutcome::Cancelled {
                job_id: "job_7".into(),
                last_status: JobStatus::Queued,
            }),
            &op(),
            None,
            MINUTE,
            &subject(),
        );
        let (summary, detail) = the_error(&interrupted);
        assert_eq!(summary, "Restore of web-01 (vps_1) interrupted");
        assert!(
            detail.contains("job itself was not cancelled. Wait for it."),
            "{detail}"
        );

        let gone = ApiError::JobRecordExpired {
            job_id: "job_7".into(),
            request_id: None,
        };
        let lost = settled(Err(gone), &op(), Some(&last), MINUTE, &subject());
        assert_eq!(
            lost.last_status,
            JobStatus::InProgress,
            "the last status seen"
        );
        let (summary, detail) = the_error(&lost);
        assert_eq!(summary, "Lost track of the restore of web-01 (vps_1)");
        assert!(
            detail.contains("accepted the restore as job job_7"),
            "{detail}"
        );
        assert!(
            detail.contains("record of HostUp job job_7 is gone"),
            "{detail}"
        );
        assert!(
            detail.ends_with("Check it."),
            "a dropped record gets its own advice: {detail}"
        );
    }
}
