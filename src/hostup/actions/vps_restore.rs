//! The `hostup_vps_restore` action: the restore resource's twin for Terraform 1.14+, for a restore
//! run on demand (`terraform apply -invoke=action.hostup_vps_restore.NAME`) or after another
//! resource changes. It runs the same procedure as the resource (`vps_restore::flow`): static
//! checks at validate, the live checks and the destruction warning at plan, a fresh re-check and
//! exactly one POST at invoke, then it follows the job and streams progress lines that Terraform
//! prints as they arrive. Nothing is recorded in state.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::api::{JobProgress, JobStatus};
use crate::framework::timeouts::format_duration;
use crate::framework::{
    Action, Attribute, AttributePath, Block, Context, Diagnostic, Diagnostics, ProgressSender,
    Schema, Value,
};
use crate::hostup::shared::Shared;
use crate::hostup::vps_restore::flow::{self, target_label};
use crate::hostup::vps_restore::model::{
    RestoreArgs, BACKUP_ID, CONFIRM_TARGET_NAME, SOURCE_VPS_ID, TARGET_VPS_ID,
};

/// The action's type name, as written in `action "hostup_vps_restore"`.
pub const TYPE_NAME: &str = "hostup_vps_restore";

/// How long the action waits for the job when `timeout` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60 * 60);

pub use super::TIMEOUT;

/// Changes are shown at most this often, so a fast-moving percentage does not flood the CLI.
const MIN_GAP: Duration = Duration::from_secs(3);

/// After this long without a line, a heartbeat says the job is still running.
const QUIET: Duration = Duration::from_secs(30);

/// The action; holds the provider's shared client, read cache and poll schedule.
#[derive(Debug)]
pub struct VpsRestoreAction {
    shared: Arc<Shared>,
}

impl VpsRestoreAction {
    /// The action, using the provider's shared client and cache.
    pub fn new(shared: Arc<Shared>) -> VpsRestoreAction {
        VpsRestoreAction { shared }
    }
}

/// The action schema: the resource's inputs, and the wait limit as one duration.
pub fn schema() -> Schema {
    let id =
        |name: &str, description: &str| Attribute::string(name).required().description(description);
    Schema::new(
        Block::new()
            .description(
                "**Destructive.** Restores a target VPS in place from a backup of another VPS: \
                 HostUp stops the target and overwrites its disk. Every invocation restores \
                 again; nothing is recorded in state. Waits for the job and shows its progress.",
            )
            .attribute(id(TARGET_VPS_ID, "Id of the VPS to overwrite."))
            .attribute(id(
                SOURCE_VPS_ID,
                "Id of the VPS (live, or a terminated one with retained backups) whose backup is \
                 restored. Must differ from `target_vps_id`.",
            ))
            .attribute(id(BACKUP_ID, "Id of the source's backup to restore."))
            .attribute(Attribute::string(CONFIRM_TARGET_NAME).optional().description(
                "When set, must equal the target VPS's current name, checked at plan and again \
                 before the restore: a guard against a wrong `target_vps_id`.",
            ))
            .attribute(Attribute::string(TIMEOUT).optional().description(
                "How long to wait for the restore job, as a duration such as `30m` or `1h30m`. \
                 Defaults to `60m`. When it runs out the job continues at HostUp and the action \
                 fails naming the job.",
            )),
    )
}

/// The configured wait limit; `Err` says what is wrong with it.
fn timeout_of(config: &Value) -> Result<Duration, String> {
    super::timeout_of(config, DEFAULT_TIMEOUT)
}

/// "2m10s"; "0s" under a second.
fn elapsed_text(d: Duration) -> String {
    let whole = Duration::from_secs(d.as_secs());
    if whole.is_zero() {
        "0s".to_owned()
    } else {
        format_duration(whole)
    }
}

/// What a change line compares: status and whole percent (45.2 → 45.4 is no news).
fn headline(p: &JobProgress) -> (JobStatus, Option<i64>) {
    (p.status.clone(), p.percentage.map(|x| x.round() as i64))
}

/// Decides which progress lines go out: a change of status or percentage, but no more often
/// than `min_gap`; and a heartbeat once `quiet` passed without any line.
#[derive(Debug)]
struct Reporter {
    started: Instant,
    min_gap: Duration,
    quiet: Duration,
    last_line: Instant,
    shown: Option<(JobStatus, Option<i64>)>,
    latest: Option<JobProgress>,
}

impl Reporter {
    /// `started` is when the first line (the "started" line) went out.
    fn new(started: Instant, min_gap: Duration, quiet: Duration) -> Reporter {
        Reporter {
            started,
            min_gap,
            quiet,
            last_line: started,
            shown: None,
            latest: None,
        }
    }

    fn has_news(&self) -> bool {
        self.latest
            .as_ref()
            .is_some_and(|p| self.shown.as_ref() != Some(&headline(p)))
    }

    /// A change the poller saw; a line when it is news and the gap has passed.
    fn update(&mut self, p: JobProgress, now: Instant) -> Option<String> {
        self.latest = Some(p);
        self.tick(now)
    }

    /// The line due at `now`, if any.
    fn tick(&mut self, now: Instant) -> Option<String> {
        let latest = self.latest.as_ref();
        let line = if self.has_news() && now >= self.last_line + self.min_gap {
            let p = latest?;
            self.shown = Some(headline(p));
            let mut line = p.status.to_string();
            if let Some(pct) = p.percentage {
                line.push_str(&format!(", {pct:.0}% done"));
            }
            line.push_str(&format!(" after {}", elapsed_text(now - self.started)));
            if let Some(msg) = p.message.as_deref().filter(|m| !m.is_empty()) {
                line.push_str(&format!(": {msg}"));
            }
            line
        } else if now >= self.last_line + self.quiet {
            let what = match latest {
                Some(p) => match p.percentage {
                    Some(pct) => format!("{pct:.0}%"),
                    None => p.status.to_string(),
                },
                None => "waiting for HostUp".to_owned(),
            };
            format!(
                "still running: {what} after {}",
                elapsed_text(now - self.started)
            )
        } else {
            return None;
        };
        self.last_line = now;
        Some(line)
    }

    /// When `tick` next has something to say.
    fn next_due(&self) -> Instant {
        let heartbeat = self.last_line + self.quiet;
        if self.has_news() {
            heartbeat.min(self.last_line + self.min_gap)
        } else {
            heartbeat
        }
    }
}

fn say(progress: &ProgressSender, line: String) {
    super::say(progress, TYPE_NAME, line);
}

impl VpsRestoreAction {
    async fn run(
        &self,
        ctx: &Context,
        config: &Value,
        progress: &ProgressSender,
        min_gap: Duration,
        quiet: Duration,
    ) -> Diagnostics {
        let client = match self.shared.require_client() {
            Ok(c) => c,
            Err(d) => return d.into(),
        };
        let Some(args) = RestoreArgs::from_value(config) else {
            return Diagnostic::error(
                "Restore ids unknown at invoke",
                "target_vps_id, source_vps_id and backup_id must be known when the action runs. \
                 This is a bug in Terraform or the provider; please report it.",
            )
            .into();
        };
        let timeout = match timeout_of(config) {
            Ok(t) => t,
            Err(e) => {
                return Diagnostic::error("Invalid timeout", e)
                    .at(AttributePath::attribute(TIMEOUT))
                    .into()
            }
        };
        let checked = match flow::fresh_checks(&self.shared, &client, &args).await {
            Ok(c) => c,
            Err(d) => return d,
        };
        if ctx.is_cancelled() {
            return flow::interrupted_before_post().into();
        }
        let op = match flow::post(&self.shared, &client, &args).await {
            Ok(op) => op,
            Err(failure) => return failure.diagnostic.into(),
        };
        let started = Instant::now();
        let target = target_label(&checked);
        say(
            progress,
            format!(
                "restoring {} from backup {} of {}: HostUp job {} {}",
                target,
                checked.backup_id,
                checked.source_name.as_deref().unwrap_or(&checked.source_id),
                op.job_id,
                op.status
            ),
        );
        tracing::info!(
            job_id = %op.job_id,
            target = %target,
            timeout = %format_duration(timeout),
            "hostup_vps_restore action: restore started; waiting for the job"
        );
        let (changes, mut seen) = mpsc::unbounded_channel::<JobProgress>();
        let wait = flow::wait(
            ctx,
            &self.shared,
            &client,
            flow::Sent {
                op: &op,
                target: &target,
                timeout,
            },
            flow::Caller::Action,
            move |p: &JobProgress| {
                let _ = changes.send(p.clone());
            },
        );
        tokio::pin!(wait);
        let mut reporter = Reporter::new(started, min_gap, quiet);
        let end = loop {
            tokio::select! {
                end = &mut wait => break end,
                Some(p) = seen.recv() => {
                    if let Some(line) = reporter.update(p, Instant::now()) {
                        say(progress, line);
                    }
                }
                _ = tokio::time::sleep_until(reporter.next_due()) => {
                    if let Some(line) = reporter.tick(Instant::now()) {
                        say(progress, line);
                    }
                }
            }
        };
        say(
            progress,
            format!(
                "job {} {} after {}",
                op.job_id,
                end.status,
                elapsed_text(started.elapsed())
            ),
        );
        end.diagnostics
    }
}

#[async_trait]
impl Action for VpsRestoreAction {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, _ctx: &Context, config: &Value) -> Diagnostics {
        let mut diags = flow::static_checks(config);
        if let Err(e) = timeout_of(config) {
            diags.error_at(AttributePath::attribute(TIMEOUT), "Invalid timeout", e);
        }
        diags
    }

    async fn plan(&self, _ctx: &Context, config: &Value) -> Diagnostics {
        flow::plan_checks(&self.shared, config, flow::Caller::Action)
            .await
            .1
    }

    async fn invoke(&self, ctx: &Context, config: Value, progress: ProgressSender) -> Diagnostics {
        self.run(ctx, &config, &progress, MIN_GAP, QUIET).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(status: JobStatus, pct: Option<f64>) -> JobProgress {
        JobProgress {
            job_id: "job_1".into(),
            status,
            percentage: pct,
            message: None,
        }
    }

    #[test]
    fn schema_has_the_resource_inputs_and_an_optional_timeout() {
        let s = schema();
        for name in [TARGET_VPS_ID, SOURCE_VPS_ID, BACKUP_ID] {
            assert!(s.block.find_attribute(name).expect(name).is_required());
        }
        for name in [CONFIRM_TARGET_NAME, TIMEOUT] {
            let a = s.block.find_attribute(name).expect(name);
            assert!(a.is_optional() && !a.is_computed(), "{name}");
        }
    }

    #[test]
    fn timeout_defaults_to_an_hour_and_rejects_bad_or_zero_values() {
        let cfg = |t: Value| Value::object([(TIMEOUT, t)]);
        assert_eq!(timeout_of(&cfg(Value::Null)), Ok(DEFAULT_TIMEOUT));
        assert_eq!(timeout_of(&cfg(Value::Unknown)), Ok(DEFAULT_TIMEOUT));
        assert_eq!(
            timeout_of(&cfg(Value::from("1h30m"))),
            Ok(Duration::from_secs(5400))
        );
        assert!(timeout_of(&cfg(Value::from("soon"))).is_err());
        assert!(timeout_of(&cfg(Value::from("0s")))
            .unwrap_err()
            .contains("zero"));
    }

    #[tokio::test]
    async fn validate_puts_errors_at_their_attributes() {
        let a = VpsRestoreAction::new(Arc::new(Shared::default()));
        let cfg = Value::object([
            (TARGET_VPS_ID, Value::from("vps_a")),
            (SOURCE_VPS_ID, Value::from("vps_a")),
            (BACKUP_ID, Value::from("bkp_1")),
            (CONFIRM_TARGET_NAME, Value::Null),
            (TIMEOUT, Value::from("10 minutes")),
        ]);
        let d = a.validate(&Context::default(), &cfg).await;
        let at: Vec<_> = d.iter().filter_map(|d| d.attribute.clone()).collect();
        assert_eq!(
            at,
            [
                AttributePath::attribute(SOURCE_VPS_ID),
                AttributePath::attribute(TIMEOUT)
            ]
        );
    }

    #[test]
    fn changes_are_shown_at_most_every_gap_and_the_latest_wins() {
        let t0 = Instant::now();
        let s = |secs: u64| t0 + Duration::from_secs(secs);
        let mut r = Reporter::new(t0, Duration::from_secs(3), Duration::from_secs(30));
        // Within the gap after the "started" line: held back.
        assert_eq!(r.update(p(JobStatus::Queued, None), s(1)), None);
        assert_eq!(r.next_due(), s(3));
        assert_eq!(r.update(p(JobStatus::InProgress, Some(10.0)), s(2)), None);
        // Due: the newest state goes out, not the stale one.
        assert_eq!(
            r.tick(s(3)).as_deref(),
            Some("in_progress, 10% done after 3s")
        );
        // The same headline again is no news; a fraction of a percent neither.
        assert_eq!(r.update(p(JobStatus::InProgress, Some(10.3)), s(7)), None);
        assert_eq!(
            r.update(p(JobStatus::InProgress, Some(45.0)), s(8))
                .as_deref(),
            Some("in_progress, 45% done after 8s")
        );
    }

    #[test]
    fn a_quiet_stretch_gets_a_heartbeat() {
        let t0 = Instant::now();
        let s = |secs: u64| t0 + Duration::from_secs(secs);
        let mut r = Reporter::new(t0, Duration::from_secs(3), Duration::from_secs(30));
        assert_eq!(r.next_due(), s(30));
        assert_eq!(r.tick(s(29)), None);
        assert_eq!(
            r.tick(s(30)).as_deref(),
            Some("still running: waiting for HostUp after 30s")
        );
        assert!(r
            .update(p(JobStatus::InProgress, Some(45.0)), s(31))
            .is_none());
        assert!(r.tick(s(33)).is_some());
        assert_eq!(r.next_due(), s(63));
        assert_eq!(
            r.tick(s(130)).as_deref(),
            Some("still running: 45% after 2m10s")
        );
    }
}
