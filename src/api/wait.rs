//! Waiting for a HostUp job: one loop that polls the operation's `pollUrl` with a growing interval,
//! reports progress when it changes, and ends at a terminal status, the deadline, or cancellation
//! (Terraform's Stop). Transient poll failures are already retried by the GET policy; a 404 means
//! the job record expired and is reported as such.

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::client::Client;
use super::error::ApiError;
use super::models::{Job, JobStatus, Operation};

/// How often to poll: `initial`, then multiplied by `factor` each time up to `max`.
#[derive(Debug, Clone, PartialEq)]
pub struct PollSchedule {
    pub initial: Duration,
    pub max: Duration,
    pub factor: f64,
}

impl Default for PollSchedule {
    fn default() -> Self {
        PollSchedule {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
            factor: 1.5,
        }
    }
}

impl PollSchedule {
    fn next(&self, current: Duration) -> Duration {
        let factor = if self.factor.is_finite() && self.factor >= 1.0 {
            self.factor
        } else {
            1.0
        };
        current.mul_f64(factor).min(self.max).max(self.initial)
    }
}

/// What the progress callback sees.
#[derive(Debug, Clone, PartialEq)]
pub struct JobProgress {
    pub job_id: String,
    pub status: JobStatus,
    pub percentage: Option<f64>,
    pub message: Option<String>,
}

/// The progress callback: called with the first answer and whenever status, percentage or
/// message change.
pub type ProgressFn = Box<dyn FnMut(&JobProgress) + Send>;

/// How to wait.
pub struct WaitOptions {
    /// Give up (with [`WaitOutcome::TimedOut`]) at this instant.
    pub deadline: Instant,
    /// Stop waiting (with [`WaitOutcome::Cancelled`]) when this is cancelled.
    pub cancel: CancellationToken,
    pub on_progress: Option<ProgressFn>,
    pub poll: PollSchedule,
}

impl WaitOptions {
    /// Waits at most `timeout` from now, with the default schedule, no callback and a fresh token.
    pub fn new(timeout: Duration) -> WaitOptions {
        WaitOptions {
            deadline: Instant::now() + timeout,
            cancel: CancellationToken::new(),
            on_progress: None,
            poll: PollSchedule::default(),
        }
    }

    pub fn with_cancel(mut self, cancel: CancellationToken) -> WaitOptions {
        self.cancel = cancel;
        self
    }

    pub fn with_progress(mut self, f: impl FnMut(&JobProgress) + Send + 'static) -> WaitOptions {
        self.on_progress = Some(Box::new(f));
        self
    }

    pub fn with_poll(mut self, poll: PollSchedule) -> WaitOptions {
        self.poll = poll;
        self
    }
}

impl fmt::Debug for WaitOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitOptions")
            .field("deadline", &self.deadline)
            .field("cancelled", &self.cancel.is_cancelled())
            .field("on_progress", &self.on_progress.is_some())
            .field("poll", &self.poll)
            .finish()
    }
}

/// How a wait ended. Display gives a message for the user.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitOutcome {
    Completed(Job),
    Failed {
        job_id: String,
        reason: String,
        job: Job,
    },
    TimedOut {
        job_id: String,
        last_status: JobStatus,
        last_percentage: Option<f64>,
    },
    Cancelled {
        job_id: String,
        last_status: JobStatus,
    },
}

impl fmt::Display for WaitOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitOutcome::Completed(job) => write!(f, "HostUp job {} completed.", job.job_id),
            WaitOutcome::Failed { job_id, reason, .. } => {
                write!(f, "HostUp job {job_id} failed: {reason}")
            }
            WaitOutcome::TimedOut {
                job_id,
                last_status,
                last_percentage,
            } => {
                write!(
                    f,
                    "Timed out waiting for HostUp job {job_id} (last status {last_status}"
                )?;
                if let Some(p) = last_percentage {
                    write!(f, ", {p:.0}% done")?;
                }
                write!(
                    f,
                    "). The job may still be running in HostUp; check it before trying again, or \
                     raise the timeout."
                )
            }
            WaitOutcome::Cancelled {
                job_id,
                last_status,
            } => write!(
                f,
                "Stopped waiting for HostUp job {job_id} (last status {last_status}); the job \
                 itself was not cancelled and may still be running in HostUp."
            ),
        }
    }
}

impl Client {
    /// Polls `op.pollUrl` until the job completes or fails, the deadline passes, or `cancel`
    /// fires. Errors only when polling itself fails after the GET retries, when the job record
    /// is gone (404: [`ApiError::JobRecordExpired`]) or when the poll URL is refused.
    pub async fn wait_for_job(
        &self,
        op: &Operation,
        mut opts: WaitOptions,
    ) -> Result<WaitOutcome, ApiError> {
        self.check_poll_url(&op.poll_url)?;
        let job_id = op.job_id.clone();
        let mut last_status = op.status.clone();
        let mut last_percentage: Option<f64> = None;
        let mut reported: Option<(JobStatus, Option<f64>, Option<String>)> = None;
        let mut interval = opts.poll.initial;
        let timed_out = |status: JobStatus, pct: Option<f64>| WaitOutcome::TimedOut {
            job_id: job_id.clone(),
            last_status: status,
            last_percentage: pct,
        };
        loop {
            if opts.cancel.is_cancelled() {
                return Ok(WaitOutcome::Cancelled {
                    job_id,
                    last_status,
                });
            }
            if Instant::now() >= opts.deadline {
                return Ok(timed_out(last_status, last_percentage));
            }
            let polled = tokio::select! {
                biased;
                _ = opts.cancel.cancelled() => {
                    return Ok(WaitOutcome::Cancelled { job_id, last_status });
                }
                _ = tokio::time::sleep_until(opts.deadline) => {
                    return Ok(timed_out(last_status, last_percentage));
                }
                polled = self.get_job(&op.poll_url) => polled,
            };
            let mut job = match polled {
                Ok(job) => job,
                Err(e) if e.is_not_found() => {
                    return Err(ApiError::JobRecordExpired {
                        job_id,
                        request_id: e.request_id().map(str::to_owned),
                    })
                }
                Err(e) => return Err(e),
            };
            if job.job_id.is_empty() {
                job.job_id = job_id.clone();
            }
            last_status = job.status.clone();
            if job.percentage.is_some() {
                last_percentage = job.percentage;
            }
            let now = (job.status.clone(), job.percentage, job.message.clone());
            if reported.as_ref() != Some(&now) {
                if let Some(callback) = opts.on_progress.as_mut() {
                    callback(&JobProgress {
                        job_id: job.job_id.clone(),
                        status: now.0.clone(),
                        percentage: now.1,
                        message: now.2.clone(),
                    });
                }
                reported = Some(now);
            }
            if job.is_failed() {
                let reason = job
                    .failure_reason()
                    .unwrap_or_else(|| "HostUp gave no reason".to_owned());
                return Ok(WaitOutcome::Failed {
                    job_id: job.job_id.clone(),
                    reason,
                    job,
                });
            }
            if job.is_completed() {
                return Ok(WaitOutcome::Completed(job));
            }
            let wake = (Instant::now() + interval).min(opts.deadline);
            tokio::select! {
                biased;
                _ = opts.cancel.cancelled() => {
                    return Ok(WaitOutcome::Cancelled { job_id, last_status });
                }
                _ = tokio::time::sleep_until(wake) => {}
            }
            interval = opts.poll.next(interval);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_grows_to_its_cap() {
        let s = PollSchedule::default();
        let mut d = s.initial;
        let mut seen = vec![d];
        for _ in 0..10 {
            d = s.next(d);
            seen.push(d);
        }
        assert_eq!(seen[0], Duration::from_secs(1));
        assert_eq!(seen[1], Duration::from_millis(1500));
        assert_eq!(*seen.last().unwrap(), Duration::from_secs(10));
        let flat = PollSchedule {
            factor: f64::NAN,
            ..PollSchedule::default()
        };
        assert_eq!(flat.next(Duration::from_secs(1)), Duration::from_secs(1));
    }

    #[test]
    fn timeout_message_names_job_status_and_percentage() {
        let msg = WaitOutcome::TimedOut {
            job_id: "job_42".into(),
            last_status: JobStatus::InProgress,
            last_percentage: Some(37.0),
        }
        .to_string();
        assert!(msg.contains("job_42") && msg.contains("in_progress") && msg.contains("37%"));
    }
}
