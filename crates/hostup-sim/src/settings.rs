//! Resolved simulator settings: a command-line flag given explicitly wins, then the fixture's
//! `settings` object, then the built-in default.

use std::time::Duration;

use anyhow::{bail, Context};

use crate::fixture::{parse_duration, parse_rate_limit, FixtureSettings};
use crate::Args;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PollUrlMode {
    Relative,
    Absolute,
    /// Poll URLs point at this origin instead of the simulator.
    Foreign(String),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum JobEnvelope {
    Legacy,
    V2,
}

/// Which endpoints carry `actions.canRestoreFromAnotherVps`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum GateLocation {
    Both,
    Vps,
    Details,
    None,
}

/// How a backup DELETE answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BackupDelete {
    /// 204: the backup is gone at once.
    Sync,
    /// 202 with an operation: the backup is gone when its job ends.
    Job,
}

#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub job_duration: Duration,
    pub job_retention: Duration,
    pub rate_limit: Option<(u32, Duration)>,
    pub fail_rate: f64,
    pub fail_method: Option<String>,
    pub fail_path: Option<String>,
    pub burst: u32,
    pub burst_status: u16,
    pub latency: Duration,
    pub poll_url_mode: PollUrlMode,
    pub job_envelope: JobEnvelope,
    pub gate_location: GateLocation,
    pub backup_delete: BackupDelete,
    pub seed: u64,
}

fn pick<'a>(cli: &'a Option<String>, fixture: &'a Option<String>) -> Option<&'a str> {
    cli.as_deref().or(fixture.as_deref())
}

impl Settings {
    pub(crate) fn resolve(args: &Args, fx: &FixtureSettings) -> anyhow::Result<Settings> {
        let dur =
            |cli: &Option<String>, f: &Option<String>, default: Duration, what: &str| match pick(
                cli, f,
            ) {
                Some(text) => parse_duration(text)
                    .map_err(anyhow::Error::msg)
                    .with_context(|| what.to_string()),
                None => Ok(default),
            };
        let fail_rate = args.fail_rate.or(fx.fail_rate).unwrap_or(0.0);
        if !(0.0..=1.0).contains(&fail_rate) {
            bail!("fail rate must be between 0 and 1, got {fail_rate}");
        }
        if !(400..=599).contains(&args.burst_status) {
            bail!("--burst-status must be an HTTP error status (400-599)");
        }
        Ok(Settings {
            job_duration: dur(
                &args.job_duration,
                &fx.job_duration,
                Duration::from_secs(5),
                "job duration",
            )?,
            job_retention: dur(
                &args.job_retention,
                &fx.job_retention,
                Duration::from_secs(24 * 3600),
                "job retention",
            )?,
            rate_limit: pick(&args.rate_limit, &fx.rate_limit)
                .map(parse_rate_limit)
                .transpose()
                .map_err(anyhow::Error::msg)?,
            fail_rate,
            fail_method: args.fail_method.as_ref().map(|m| m.to_ascii_uppercase()),
            fail_path: args.fail_path.clone(),
            burst: args.burst_503,
            burst_status: args.burst_status,
            latency: dur(&args.latency, &fx.latency, Duration::ZERO, "latency")?,
            poll_url_mode: match pick(&args.poll_url_mode, &fx.poll_url_mode) {
                None | Some("relative") => PollUrlMode::Relative,
                Some("absolute") => PollUrlMode::Absolute,
                Some(other) => match other.strip_prefix("foreign:") {
                    Some(origin) if origin.starts_with("http://") || origin.starts_with("https://") => {
                        PollUrlMode::Foreign(origin.to_string())
                    }
                    _ => bail!(
                        "poll URL mode {other:?}: use relative, absolute or foreign:<http(s)://origin>"
                    ),
                },
            },
            job_envelope: match pick(&args.job_envelope, &fx.job_envelope) {
                None | Some("legacy") => JobEnvelope::Legacy,
                Some("v2") => JobEnvelope::V2,
                Some(other) => bail!("job envelope {other:?}: use legacy or v2"),
            },
            gate_location: match pick(&args.gate_location, &fx.gate_location) {
                None | Some("both") => GateLocation::Both,
                Some("vps") => GateLocation::Vps,
                Some("details") => GateLocation::Details,
                Some("none") => GateLocation::None,
                Some(other) => bail!("gate location {other:?}: use both, vps, details or none"),
            },
            backup_delete: match pick(&args.backup_delete, &fx.backup_delete) {
                None | Some("sync") => BackupDelete::Sync,
                Some("job") => BackupDelete::Job,
                Some(other) => bail!("backup delete mode {other:?}: use sync or job"),
            },
            seed: args.seed,
        })
    }
}
