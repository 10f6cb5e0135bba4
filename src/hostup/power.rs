//! A VPS's power, for `hostup_vps_restore`'s `start_after_restore` and the `hostup_vps_power`
//! action: read the power state, send a power action at most once, wait for its job, then wait
//! until the VPS reports the state the action leads to. Everything happens before one deadline
//! (the caller's timeout) and stops at Terraform's Stop; every outcome other than "there" comes
//! back as one error that says what was sent and what to do next. What was sent is returned as a
//! [`SentAction`], which callers keep so that no later run sends it again after an unclear answer.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::api::{ApiError, Client, Delivery, JobProgress, Operation, PowerAction, VpsStatus};
use crate::framework::timeouts::format_duration;
use crate::framework::{Context, Diagnostic, Diagnostics, Value};
use crate::hostup::diagnostics::{read_failure, Reading};
use crate::hostup::job::{self, Ending, JobSubject};
use crate::hostup::shared::Shared;

/// The power state of a running VPS.
pub const RUNNING: &str = "running";
/// The power state of a stopped VPS.
pub const STOPPED: &str = "stopped";

/// The scope HostUp requires for power actions.
pub const POWER_SCOPE: &str = "power:vm";

/// A running VPS's start time moves by less than this between two reads of its uptime (request
/// latency, rounding): such a move is noise, not a restart, and `running_at` keeps its value.
const RUNNING_AT_SLACK: Duration = Duration::from_secs(60);

/// A power action HostUp was asked for, kept with the caller's state so that it is never sent
/// again: after an unclear answer HostUp may have acted on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "sent", rename_all = "snake_case")]
pub enum SentAction {
    /// HostUp accepted it as this job.
    Job {
        /// HostUp's job id.
        job_id: String,
        /// Where the job is polled.
        poll_url: String,
    },
    /// The request got no usable answer: HostUp may have acted on it, and there is no job.
    Unanswered,
}

/// What a power state means to someone waiting for `want`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    /// The VPS is in the wanted state.
    There,
    /// The VPS is at rest in the other state: only an action moves it.
    AtRest,
    /// On its way somewhere (`starting`, `stopping`, `provisioning`) or not known yet: wait.
    Moving,
    /// `error` or `paused`: waiting will not help, and the provider does not act on it.
    Stuck,
}

fn reading(state: &str, want: &str) -> Seen {
    match state {
        s if s == want => Seen::There,
        RUNNING | STOPPED => Seen::AtRest,
        "error" | "paused" => Seen::Stuck,
        _ => Seen::Moving,
    }
}

/// The power state HostUp reported, `unknown` when it said none.
pub fn state_of(status: &VpsStatus) -> &str {
    status.power_state.as_deref().unwrap_or("unknown")
}

/// The state a power action leads to.
pub fn outcome_of(action: PowerAction) -> &'static str {
    match action {
        PowerAction::Start | PowerAction::Restart | PowerAction::Reset => RUNNING,
        PowerAction::Shutdown | PowerAction::Stop => STOPPED,
    }
}

/// When a running VPS started, from its uptime, as RFC 3339 (UTC, whole seconds); null when it
/// is not running or HostUp did not say. A value within [`RUNNING_AT_SLACK`] of `prior` keeps
/// `prior`, so a refresh does not report a change that is only the clock moving.
pub fn running_at(status: Option<&VpsStatus>, prior: Option<&str>) -> Value {
    let Some(status) = status.filter(|s| state_of(s) == RUNNING) else {
        return Value::Null;
    };
    let Some(uptime) = status
        .uptime_seconds
        .filter(|u| u.is_finite() && *u >= 0.0 && *u < 1.0e10)
    else {
        return Value::Null;
    };
    let now = chrono::Utc::now();
    let started = now - chrono::Duration::milliseconds((uptime * 1000.0) as i64);
    if let Some(prior) = prior.and_then(|p| chrono::DateTime::parse_from_rfc3339(p).ok()) {
        let apart = (started - prior.with_timezone(&chrono::Utc)).abs();
        if apart.to_std().is_ok_and(|d| d < RUNNING_AT_SLACK) {
            return Value::from(
                prior
                    .with_timezone(&chrono::Utc)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            );
        }
    }
    Value::from(started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// One power run on one VPS: who asks, about which VPS, until when, and the words for its errors.
#[derive(Clone, Copy, Debug)]
pub struct PowerRun<'a> {
    /// The call's context: Terraform's Stop.
    pub ctx: &'a Context,
    /// The provider's poll schedule and read cache.
    pub shared: &'a Shared,
    /// The configured client.
    pub client: &'a Client,
    /// The VPS id.
    pub vps_id: &'a str,
    /// The VPS as messages name it: "web-01 (vps_…)".
    pub label: &'a str,
    /// The attribute that names the VPS, where read errors point.
    pub attribute: &'a str,
    /// When the run must have ended.
    pub deadline: Instant,
    /// The whole time allowed, for messages.
    pub timeout: Duration,
    /// "the create timeout", "the action's timeout".
    pub timeout_name: &'static str,
    /// Opens every error's detail: what already happened ("The restore of … completed.").
    pub before: &'a str,
    /// Ends the errors of a run stopped early (timeout, Stop, lost track): what to do next.
    pub recovery: &'a str,
}

/// How a power run ended.
#[derive(Debug, Default)]
pub struct PowerEnd {
    /// The last status read, when one was.
    pub status: Option<VpsStatus>,
    /// The action on record: the one passed in, or the one this run sent. Cleared when its job
    /// failed (a clear "not done", which may be sent again).
    pub sent: Option<SentAction>,
    /// Whether the VPS reached the wanted state.
    pub reached: bool,
    /// Empty when it did; otherwise one error.
    pub diagnostics: Diagnostics,
}

impl PowerRun<'_> {
    /// An error's detail: what happened before, `what`, and, for a run stopped early, what to
    /// do next; empty parts left out.
    fn detail(&self, what: &str, with_recovery: bool) -> String {
        let recovery = if with_recovery { self.recovery } else { "" };
        [self.before, what, recovery]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Brings the VPS to `running`: reads its power state first, so a VPS that is running (or
    /// starting) is only waited for; sends `start` only when it is stopped and no start is on
    /// record (`sent`: an earlier run's start is waited for, never sent again); then waits until
    /// HostUp reports it running. `on_step` sees each step, for progress lines.
    pub async fn ensure_running(
        &self,
        sent: Option<SentAction>,
        mut on_step: impl FnMut(&str) + Send,
    ) -> PowerEnd {
        let mut end = PowerEnd {
            sent,
            ..PowerEnd::default()
        };
        // A start on record whose job was not seen to end: follow that job first.
        if let Some(SentAction::Job { job_id, poll_url }) = end.sent.clone() {
            on_step(&format!(
                "waiting for the earlier start of {} (job {job_id}); it is not sent again",
                self.label
            ));
            let done = self
                .follow(PowerAction::Start, &job_id, &poll_url, &mut end)
                .await;
            if !done {
                if self.ctx.is_cancelled() || Instant::now() >= self.deadline {
                    return end;
                }
                // The job failed (a clear "not started", which may be sent again) or its record
                // is gone: the power state tells the rest.
                end.diagnostics = Diagnostics::new();
            }
        }
        self.until(RUNNING, Some(PowerAction::Start), end, &mut on_step)
            .await
    }

    /// Sends `action` once, waits for its job, then until the VPS is in the state the action
    /// leads to.
    pub async fn act(&self, action: PowerAction, mut on_step: impl FnMut(&str) + Send) -> PowerEnd {
        let mut end = PowerEnd::default();
        if !self.send(action, &mut end, &mut on_step).await {
            return end;
        }
        self.until(outcome_of(action), None, end, &mut on_step)
            .await
    }

    /// Polls the power state until it is `want`. When the VPS is at rest elsewhere, sends
    /// `repair` if given and nothing is on record yet; otherwise fails.
    async fn until(
        &self,
        want: &str,
        repair: Option<PowerAction>,
        mut end: PowerEnd,
        on_step: &mut (impl FnMut(&str) + Send),
    ) -> PowerEnd {
        let poll = self.shared.poll_schedule();
        let mut interval = poll.initial;
        let mut shown: Option<String> = None;
        loop {
            if self.ctx.is_cancelled() {
                return self.stopped_early(end, "Terraform was interrupted");
            }
            let status = match self.client.get_vps_status(self.vps_id).await {
                Ok(s) => s,
                Err(e) => {
                    let mut d = read_failure(&e, self.attribute, self.vps_id, Reading::VPS_STATUS);
                    d.detail = self.detail(&d.detail, true);
                    end.diagnostics.push(d);
                    return end;
                }
            };
            let state = state_of(&status).to_owned();
            end.status = Some(status);
            let seen = reading(&state, want);
            // The caller says the last word once the VPS is there.
            if shown.as_deref() != Some(state.as_str()) && seen != Seen::There {
                on_step(&format!("{} is {state}", self.label));
                shown = Some(state.clone());
            }
            match seen {
                Seen::There => {
                    end.reached = true;
                    return end;
                }
                Seen::Stuck => {
                    end.diagnostics.push(Diagnostic::error(
                        format!("{} is {state}", self.label),
                        self.detail(
                            &format!(
                                "HostUp reports the power state of {} as {state}, so the \
                                 provider did not try to make it {want}. Look at the VPS in the \
                                 HostUp control panel.",
                                self.label
                            ),
                            true,
                        ),
                    ));
                    return end;
                }
                Seen::AtRest => match (repair, &end.sent) {
                    (Some(action), None) => {
                        if !self.send(action, &mut end, on_step).await {
                            return end;
                        }
                        interval = poll.initial;
                        continue;
                    }
                    (_, Some(SentAction::Unanswered)) => {
                        end.diagnostics.push(Diagnostic::error(
                            format!("{} is still {state}", self.label),
                            self.detail(
                                &format!(
                                    "An earlier request to {} it got no usable answer, so \
                                     HostUp may have acted on it; the provider does not send it \
                                     a second time. HostUp now reports {} as {state}. Start it \
                                     with the hostup_vps_power action or in the HostUp control \
                                     panel, then run apply again.",
                                    repair.unwrap_or(PowerAction::Start).as_str(),
                                    self.label
                                ),
                                false,
                            ),
                        ));
                        return end;
                    }
                    _ => {
                        end.diagnostics.push(Diagnostic::error(
                            format!("{} is {state}, not {want}", self.label),
                            self.detail(
                                &format!(
                                    "HostUp's power job ended, but HostUp reports {} as \
                                     {state}: something else changed it since, or HostUp did \
                                     not carry the action out. The provider does not send it \
                                     again. Look at the VPS in the HostUp control panel.",
                                    self.label
                                ),
                                false,
                            ),
                        ));
                        return end;
                    }
                },
                Seen::Moving => {}
            }
            let wake = (Instant::now() + interval).min(self.deadline);
            tokio::select! {
                _ = self.ctx.cancellation().cancelled() => {
                    return self.stopped_early(end, "Terraform was interrupted");
                }
                _ = tokio::time::sleep_until(wake) => {}
            }
            if Instant::now() >= self.deadline {
                let why = format!(
                    "{} of {} ran out",
                    self.timeout_name,
                    format_duration(self.timeout)
                );
                return self.stopped_early(end, &why);
            }
            interval = poll.next(interval);
        }
    }

    /// The error of a wait for the power state that ended before the state did.
    fn stopped_early(&self, mut end: PowerEnd, why: &str) -> PowerEnd {
        let last = end.status.as_ref().map_or("unknown", state_of);
        end.diagnostics.push(Diagnostic::error(
            format!("Stopped waiting for {}", self.label),
            self.detail(
                &format!("{why} while HostUp reported {} as {last}.", self.label),
                true,
            ),
        ));
        end
    }

    /// Sends `action` (once: never retried) and follows its job; true when the job completed.
    async fn send(
        &self,
        action: PowerAction,
        end: &mut PowerEnd,
        on_step: &mut (impl FnMut(&str) + Send),
    ) -> bool {
        if self.ctx.is_cancelled() {
            end.diagnostics.push(Diagnostic::error(
                format!(
                    "Interrupted before the {} of {}",
                    action.as_str(),
                    self.label
                ),
                self.detail(
                    &format!(
                        "Terraform was interrupted before the {} was sent; nothing was sent.",
                        action.as_str()
                    ),
                    true,
                ),
            ));
            return false;
        }
        let sent = self.client.power_action(self.vps_id, action).await;
        self.shared.cache().forget_target(self.vps_id);
        let op = match sent {
            Ok(op) => op,
            Err(e) => {
                if e.delivery().may_have_acted() {
                    end.sent = Some(SentAction::Unanswered);
                }
                end.diagnostics.push(self.send_failure(action, &e));
                return false;
            }
        };
        on_step(&format!(
            "{} of {} sent: HostUp job {}",
            action.as_str(),
            self.label,
            op.job_id
        ));
        end.sent = Some(SentAction::Job {
            job_id: op.job_id.clone(),
            poll_url: op.poll_url.clone(),
        });
        self.follow_operation(action, &op, end).await
    }

    /// Follows the job of an action on record; true when it completed.
    async fn follow(
        &self,
        action: PowerAction,
        job_id: &str,
        poll_url: &str,
        end: &mut PowerEnd,
    ) -> bool {
        let op = Operation {
            status: crate::api::JobStatus::Queued,
            job_id: job_id.to_owned(),
            poll_url: poll_url.to_owned(),
            result: None,
        };
        self.follow_operation(action, &op, end).await
    }

    async fn follow_operation(
        &self,
        action: PowerAction,
        op: &Operation,
        end: &mut PowerEnd,
    ) -> bool {
        let subject = JobSubject {
            name: format!("{} of {}", action.as_str(), self.label),
            accepted: action.as_str(),
            after_failure: self.detail(
                &format!(
                    "HostUp did not carry the {} out; it may be sent again by the next run.",
                    action.as_str()
                ),
                false,
            ),
            recovery: self.detail("", true),
            record_gone: self.detail("", true),
            timeout_name: self.timeout_name,
        };
        let settled = job::settle_until(
            self.ctx,
            self.shared,
            self.client,
            op,
            self.deadline,
            self.timeout,
            &subject,
            |_: &JobProgress| {},
        )
        .await;
        match settled.ending {
            Ending::Completed(_) => true,
            Ending::Failed(_) => {
                // A clear "not done": the next run may send it again.
                end.sent = None;
                end.diagnostics.extend(settled.diagnostics);
                false
            }
            Ending::Unsettled => {
                end.diagnostics.extend(settled.diagnostics);
                false
            }
        }
    }

    /// The error of a power action request that gave no job.
    fn send_failure(&self, action: PowerAction, e: &ApiError) -> Diagnostic {
        let verb = action.as_str();
        let label = self.label;
        match (e.delivery(), e.status()) {
            (Delivery::Refused, Some(403)) => {
                let said = e
                    .problem()
                    .and_then(|p| p.detail.as_deref())
                    .map(|d| format!(" HostUp said: {d}"))
                    .unwrap_or_default();
                Diagnostic::error(
                    format!("API key lacks the scope {POWER_SCOPE}"),
                    self.detail(
                        &format!(
                            "HostUp refused to {verb} {label} (HTTP 403): the API key needs the \
                             scope `{POWER_SCOPE}` for power actions.{said} HostUp did not \
                             {verb} it. Give the key that scope in HostUp's API \
                             management (https://cloud.hostup.se/api-management), or configure a \
                             key that has it."
                        ),
                        true,
                    ),
                )
            }
            (Delivery::NotSent | Delivery::Refused, _) => Diagnostic::error(
                format!("HostUp refused to {verb} {label}"),
                self.detail(
                    &format!("{e} HostUp did not {verb} it; nothing was changed."),
                    true,
                ),
            ),
            (Delivery::Unknown | Delivery::Accepted, _) => Diagnostic::error(
                format!("The {verb} of {label} may have been sent"),
                self.detail(
                    &format!(
                        "{e} HostUp may have acted on the request, so the provider does not send \
                         it again. Check the VPS's power state in HostUp."
                    ),
                    true,
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(state: &str, uptime: Option<f64>) -> VpsStatus {
        serde_json::from_value(json!({"powerState": state, "uptimeSeconds": uptime})).unwrap()
    }

    #[test]
    fn power_states_read_as_there_at_rest_moving_or_stuck() {
        use Seen::*;
        for (state, want, seen) in [
            ("running", RUNNING, There),
            ("stopped", RUNNING, AtRest),
            ("starting", RUNNING, Moving),
            ("stopping", RUNNING, Moving),
            ("provisioning", RUNNING, Moving),
            ("unknown", RUNNING, Moving),
            ("", RUNNING, Moving),
            ("hibernating", RUNNING, Moving),
            ("error", RUNNING, Stuck),
            ("paused", RUNNING, Stuck),
            ("stopped", STOPPED, There),
            ("running", STOPPED, AtRest),
        ] {
            assert_eq!(reading(state, want), seen, "{state} wanting {want}");
        }
    }

    #[test]
    fn actions_lead_to_running_or_stopped() {
        assert_eq!(outcome_of(PowerAction::Start), RUNNING);
        assert_eq!(outcome_of(PowerAction::Reset), RUNNING);
        assert_eq!(outcome_of(PowerAction::Restart), RUNNING);
        assert_eq!(outcome_of(PowerAction::Stop), STOPPED);
        assert_eq!(outcome_of(PowerAction::Shutdown), STOPPED);
    }

    #[test]
    fn running_at_comes_from_the_uptime_and_ignores_clock_noise() {
        assert_eq!(
            running_at(Some(&status("stopped", None)), None),
            Value::Null
        );
        assert_eq!(
            running_at(Some(&status("running", None)), None),
            Value::Null
        );
        assert_eq!(running_at(None, Some("2026-01-01T00:00:00Z")), Value::Null);
        let at = running_at(Some(&status("running", Some(3600.0))), None);
        let at = chrono::DateTime::parse_from_rfc3339(at.as_str().unwrap()).unwrap();
        let hour_ago = chrono::Utc::now() - chrono::Duration::seconds(3600);
        assert!(
            (at.with_timezone(&chrono::Utc) - hour_ago)
                .num_seconds()
                .abs()
                <= 2
        );
        // Seconds of drift keep the recorded start; a restart since gives a new one.
        let prior = (hour_ago + chrono::Duration::seconds(5))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        assert_eq!(
            running_at(Some(&status("running", Some(3600.0))), Some(&prior)),
            Value::from(prior.as_str())
        );
        let restarted = running_at(Some(&status("running", Some(10.0))), Some(&prior));
        assert_ne!(restarted, Value::from(prior.as_str()));
        assert_eq!(
            running_at(Some(&status("running", Some(f64::NAN))), None),
            Value::Null
        );
    }

    #[test]
    fn a_sent_action_round_trips_as_json() {
        for sent in [
            SentAction::Job {
                job_id: "job_1".into(),
                poll_url: "/api/jobs/job_1".into(),
            },
            SentAction::Unanswered,
        ] {
            let text = serde_json::to_string(&sent).unwrap();
            assert_eq!(serde_json::from_str::<SentAction>(&text).unwrap(), sent);
        }
        assert_eq!(
            serde_json::to_string(&SentAction::Unanswered).unwrap(),
            r#"{"sent":"unanswered"}"#
        );
    }
}
