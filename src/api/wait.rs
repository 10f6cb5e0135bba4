//! Waiting for a HostUp job: one loop that polls the operation's `pollUrl` with a growing interval,
//! or, once the job reports a percentage, just after the end that percentage projects, and more
//! sparingly while the rate-limit budget is short; it reports
//! progress when it changes, and ends at a terminal status, the deadline, or cancellation
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
    /// The first wait between polls.
    pub initial: Duration,
    /// The longest wait between polls; equal to `initial` for a fixed schedule.
    pub max: Duration,
    /// How much each wait grows over the last; below 1 (or not finite) counts as 1.
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

/// A projected wait never exceeds this share of the time waited so far (or the current schedule
/// interval, when larger): a job whose percentage misleads costs at most that much lag.
const PROJECTION_CAP_SHARE: f64 = 0.25;
/// Slack added to a projected end, so the poll lands after the job's last tick rather than on it.
const PROJECTION_SLACK: Duration = Duration::from_millis(50);
/// While the rate-limit budget is scarce, a projected wait may reach this multiple of the time
/// waited so far: a poll that spends the last requests of a window delays the restores still
/// waiting to be sent, so the projection is trusted further.
const SCARCE_CAP_SHARE: f64 = 2.0;

impl PollSchedule {
    /// When to poll next (and whether that poll is aimed at the projected end), `elapsed` after
    /// the wait began, when the schedule is at `interval` and the job last reported `percentage`.
    /// Without a usable percentage this is the schedule's interval. With one, progress so far projects the end (`elapsed * 100 /
    /// percentage`, never early for a percentage rounded down) and the poll is aimed just past
    /// it, capped at the larger of `interval` and a quarter of `elapsed`; each poll re-projects.
    /// A blind schedule cannot be both prompt and frugal (a 120 s job wants a lag under 7 s,
    /// which would take ~40 blind polls); aiming at the projected end needs ~14.
    ///
    /// The rate-limit `budget` spreads polls out. When it is scarce, blind polls wait at least
    /// `elapsed` (so their times double) and projections may reach twice `elapsed`. Its floor
    /// (this wait's fair share of the poll budget, see `RateLimiter::poll_floor`) holds every
    /// poll back except the one aimed at the projected end, which is the poll worth sending. A
    /// fixed schedule is kept as asked.
    fn next_poll(
        &self,
        interval: Duration,
        elapsed: Duration,
        percentage: Option<f64>,
        budget: PollBudget,
    ) -> NextPoll {
        let held = |wait: Duration| NextPoll {
            wait,
            at_projected_end: false,
        };
        if self.is_fixed() {
            return held(interval);
        }
        let (blind, cap_share) = if budget.scarce {
            (interval.max(elapsed), SCARCE_CAP_SHARE)
        } else {
            (interval, PROJECTION_CAP_SHARE)
        };
        let usable = percentage.filter(|p| p.is_finite() && *p >= 1.0 && *p < 100.0);
        let Some(p) = usable else {
            return held(blind.max(budget.floor));
        };
        let remaining = elapsed.mul_f64(100.0 / p - 1.0) + PROJECTION_SLACK;
        let cap = blind.max(elapsed.mul_f64(cap_share));
        if remaining <= cap {
            NextPoll {
                wait: remaining,
                at_projected_end: true,
            }
        } else {
            held(cap.max(budget.floor))
        }
    }

    /// A fixed schedule (`initial == max`, as `HOSTUP_POLL_INTERVAL_MS` sets) polls exactly as
    /// asked: no projection, no budget.
    fn is_fixed(&self) -> bool {
        self.initial >= self.max
    }

    /// The wait after `current` on this schedule.
    pub fn next(&self, current: Duration) -> Duration {
        let factor = if self.factor.is_finite() && self.factor >= 1.0 {
            self.factor
        } else {
            1.0
        };
        current.mul_f64(factor).min(self.max).max(self.initial)
    }
}

/// When to poll next, and whether that poll is the one aimed at the job's projected end (which the
/// poll budget's floor does not hold back).
#[derive(Debug, Clone, Copy, PartialEq)]
struct NextPoll {
    wait: Duration,
    at_projected_end: bool,
}

/// What the client's rate limiter says about the request budget when a poll is scheduled.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct PollBudget {
    /// Short now: a 429 in the last minute, or under half of the window's requests left.
    scarce: bool,
    /// The shortest gap between two polls of this wait that keeps the polls of every wait under
    /// way within their share of the announced budget; zero when HostUp announced none.
    floor: Duration,
}

/// What the progress callback sees.
#[derive(Debug, Clone, PartialEq)]
pub struct JobProgress {
    /// The job polled.
    pub job_id: String,
    /// Its status in the latest answer.
    pub status: JobStatus,
    /// Percent done (0–100), when HostUp reports it.
    pub percentage: Option<f64>,
    /// HostUp's latest progress message, when it sent one.
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
    /// Called as the job progresses; `None` for no callback.
    pub on_progress: Option<ProgressFn>,
    /// How often to poll.
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

    /// Stops waiting when `cancel` is cancelled (Terraform's Stop).
    pub fn with_cancel(mut self, cancel: CancellationToken) -> WaitOptions {
        self.cancel = cancel;
        self
    }

    /// Calls `f` with the first answer and whenever status, percentage or message change.
    pub fn with_progress(mut self, f: impl FnMut(&JobProgress) + Send + 'static) -> WaitOptions {
        self.on_progress = Some(Box::new(f));
        self
    }

    /// Polls on `poll` instead of the default schedule.
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
    /// The job ended successfully; its final record.
    Completed(Job),
    /// The job ended in failure.
    Failed {
        /// The job that failed.
        job_id: String,
        /// HostUp's reason, or a note that it gave none.
        reason: String,
        /// The job's final record.
        job: Job,
    },
    /// The deadline passed while the job was still running; it may still finish in HostUp.
    TimedOut {
        /// The job waited for.
        job_id: String,
        /// Its status in the last answer.
        last_status: JobStatus,
        /// Percent done in the last answer, when HostUp reported it.
        last_percentage: Option<f64>,
    },
    /// Terraform asked the provider to stop; the job may still finish in HostUp.
    Cancelled {
        /// The job waited for.
        job_id: String,
        /// Its status in the last answer.
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
        let started = Instant::now();
        let _counted = self.join_wait();
        let fixed = opts.poll.is_fixed();
        // The POST's answer already said the job is queued or running: asking again at once
        // would only repeat it, so the first poll waits one interval (unless it said the job
        // already ended, when the poll fetches the record at once).
        let mut last_poll = started;
        let mut next = NextPoll {
            wait: Duration::ZERO,
            at_projected_end: false,
        };
        if !op.status.is_terminal() {
            next.wait = interval;
            interval = opts.poll.next(interval);
        }
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
                polled = async {
                    tokio::time::sleep_until(last_poll + next.wait).await;
                    // Restores started together begin their waits together: the share of the
                    // poll budget each may use is only known once all have begun, so a wait
                    // scheduled earlier defers to it, unless the poll is aimed at the end.
                    if !fixed && !next.at_projected_end {
                        tokio::time::sleep_until(last_poll + self.poll_floor()).await;
                    }
                    self.get_job(&op.poll_url).await
                } => polled,
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
            let budget = PollBudget {
                scarce: self.rate_budget_scarce(),
                floor: self.poll_floor(),
            };
            last_poll = Instant::now();
            next = opts
                .poll
                .next_poll(interval, started.elapsed(), job.percentage, budget);
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

    /// Polls a job of `duration` whose percentage rises linearly and is rounded down, reporting
    /// 0 while queued (its first tenth), as hostup-sim does; the first poll waits one interval
    /// after the POST, as `wait_for_job` does, and each poll takes 10 ms. Returns the number of
    /// polls and how long after the job's end the last one saw it.
    fn simulate(duration: f64, budget: PollBudget) -> (u32, f64) {
        let s = PollSchedule::default();
        let (mut t, mut polls) = (s.initial.max(budget.floor).as_secs_f64(), 0);
        let mut interval = s.next(s.initial);
        loop {
            t += 0.01;
            polls += 1;
            let frac = t / duration;
            if frac >= 1.0 {
                return (polls, t - duration);
            }
            let pct = if frac < 0.1 {
                0.0
            } else {
                (frac * 100.0).floor().clamp(1.0, 99.0)
            };
            t += s
                .next_poll(interval, Duration::from_secs_f64(t), Some(pct), budget)
                .wait
                .as_secs_f64();
            interval = s.next(interval);
        }
    }

    #[test]
    fn progress_guided_polls_see_the_end_promptly_and_rarely() {
        for tenths in (20..=6000).step_by(7) {
            let d = f64::from(tenths) / 10.0;
            let (polls, lag) = simulate(d, PollBudget::default());
            assert!(lag <= 1.0 + 0.05 * d, "job of {d} s seen {lag:.2} s late");
            if d <= 120.0 {
                assert!(polls <= 15, "job of {d} s took {polls} polls");
            }
        }
    }

    const SCARCE: PollBudget = PollBudget {
        scarce: true,
        floor: Duration::ZERO,
    };

    #[test]
    fn a_scarce_budget_buys_fewer_polls_with_little_lag() {
        for tenths in (20..=6000).step_by(7) {
            let d = f64::from(tenths) / 10.0;
            let (normal, _) = simulate(d, PollBudget::default());
            let (polls, lag) = simulate(d, SCARCE);
            assert!(
                polls <= normal,
                "job of {d} s: {polls} scarce polls > {normal}"
            );
            assert!(lag <= 1.0 + 0.05 * d, "job of {d} s seen {lag:.2} s late");
            if d >= 30.0 {
                assert!(
                    polls + 2 <= normal,
                    "job of {d} s: {polls} vs {normal} polls"
                );
            }
        }
        assert!(simulate(30.0, SCARCE).0 <= 5);
        assert!(simulate(120.0, SCARCE).0 <= 7);
    }

    #[test]
    fn a_shared_budget_spaces_polls_but_not_the_one_aimed_at_the_end() {
        // Fifty restores under 300 requests a minute: each wait may poll every 20 s.
        let shared = PollBudget {
            scarce: true,
            floor: Duration::from_secs(20),
        };
        for d in [30.0, 60.0, 120.0, 300.0] {
            let (polls, lag) = simulate(d, shared);
            assert!(lag <= 1.0 + 0.05 * d, "job of {d} s seen {lag:.2} s late");
            assert!(polls <= 4, "job of {d} s took {polls} polls");
        }
        let s = PollBudget::default();
        let p = PollSchedule::default();
        let at = Duration::from_secs(30);
        assert_eq!(
            p.next_poll(at, at, None, shared).wait,
            Duration::from_secs(30)
        );
        assert_eq!(
            p.next_poll(Duration::from_secs(1), Duration::from_secs(2), None, shared)
                .wait,
            Duration::from_secs(20),
            "a blind poll waits for its share"
        );
        // 90% after 30 s: the end is 3.3 s away, and that poll goes, floor or not.
        let end = p
            .next_poll(Duration::from_secs(10), at, Some(90.0), shared)
            .wait;
        assert!(end < Duration::from_secs(4), "{end:?}");
        assert_eq!(
            end,
            p.next_poll(Duration::from_secs(10), at, Some(90.0), s).wait
        );
    }

    #[test]
    fn projected_wait_is_capped_and_needs_a_usable_percentage() {
        let s = PollSchedule::default();
        let ten = Duration::from_secs(10);
        let at = Duration::from_secs(100);
        assert_eq!(s.next_poll(ten, at, None, PollBudget::default()).wait, ten);
        assert_eq!(
            s.next_poll(ten, at, Some(0.0), PollBudget::default()).wait,
            ten
        );
        assert_eq!(
            s.next_poll(ten, at, Some(100.0), PollBudget::default())
                .wait,
            ten
        );
        assert_eq!(
            s.next_poll(ten, at, Some(f64::NAN), PollBudget::default())
                .wait,
            ten
        );
        let fixed = PollSchedule {
            initial: ten,
            max: ten,
            factor: 1.0,
        };
        assert_eq!(
            fixed.next_poll(ten, at, Some(98.0), SCARCE).wait,
            ten,
            "a fixed schedule is kept, even when the budget is scarce"
        );
        // Scarce: blind polls wait at least as long as waited so far; a projection may reach
        // twice that.
        assert_eq!(s.next_poll(ten, at, None, SCARCE).wait, at);
        assert_eq!(
            s.next_poll(ten, at, Some(20.0), SCARCE).wait,
            Duration::from_secs(200)
        );
        // 80% after 100 s: the end is 25 s away, but a misleading percentage may cost at
        // most a quarter of the time waited so far.
        assert_eq!(
            s.next_poll(ten, at, Some(80.0), PollBudget::default()).wait,
            Duration::from_secs(25)
        );
        assert_eq!(
            s.next_poll(ten, at, Some(50.0), PollBudget::default()).wait,
            Duration::from_secs(25)
        );
        // Near the end the poll is aimed just past the projection, sooner than the schedule.
        assert_eq!(
            s.next_poll(ten, at, Some(98.0), PollBudget::default()).wait,
            Duration::from_secs_f64(100.0 * (100.0 / 98.0 - 1.0)) + PROJECTION_SLACK
        );
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
