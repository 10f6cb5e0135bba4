//! The fixture file: the simulator's starting world (clients, API keys, VPSes with backups and
//! gates, retained sources of terminated services) and optional default settings.
//!
//! The format is the simulator's own, not HostUp's: it is what a test author writes. Unknown fields
//! are refused so a typo in a fixture fails loudly instead of silently meaning "default". All
//! cross-references (key → client, VPS → client) and id prefixes are checked at load time.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Fixture {
    #[serde(default)]
    pub settings: FixtureSettings,
    pub clients: Vec<FixtureClient>,
    pub api_keys: Vec<FixtureKey>,
    #[serde(default)]
    pub vps: Vec<FixtureVps>,
    #[serde(default)]
    pub retained: Vec<FixtureRetained>,
}

/// Defaults a fixture may carry; a command-line flag given explicitly wins over these.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct FixtureSettings {
    pub job_duration: Option<String>,
    pub job_retention: Option<String>,
    pub rate_limit: Option<String>,
    pub fail_rate: Option<f64>,
    pub latency: Option<String>,
    pub poll_url_mode: Option<String>,
    pub job_envelope: Option<String>,
    pub gate_location: Option<String>,
    pub backup_delete: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct FixtureClient {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// The key string is a secret of the fixture: it is matched, never echoed or logged.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct FixtureKey {
    pub key: String,
    pub client: String,
    pub scopes: Vec<String>,
    #[serde(default)]
    pub label: Option<String>,
}

impl std::fmt::Debug for FixtureKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixtureKey")
            .field("key", &"<redacted>")
            .field("client", &self.client)
            .field("scopes", &self.scopes)
            .field("label", &self.label)
            .finish()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct FixtureGate {
    pub allowed: bool,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct FixtureGates {
    pub can_restore_from_another_vps: Option<FixtureGate>,
    pub can_create_backup: Option<FixtureGate>,
    pub can_restore: Option<FixtureGate>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct FixtureVps {
    pub id: String,
    pub client: String,
    pub name: String,
    #[serde(default = "active")]
    pub service_status: String,
    #[serde(default = "running")]
    pub power_state: Option<String>,
    /// After a restore HostUp starts the VPS again (`running`, the default) or leaves it
    /// `stopped`; hostup-api.md §14 leaves it open.
    #[serde(default)]
    pub power_after_restore: Option<String>,
    /// With `powerAfterRestore` `running`: how long after the restore the VPS starts (default 0).
    #[serde(default)]
    pub start_after_restore_seconds: Option<u64>,
    /// Power actions on this VPS fail with this reason.
    #[serde(default)]
    pub fail_power_actions: Option<String>,
    #[serde(default)]
    pub primary_ip: Option<String>,
    pub storage_gb: f64,
    #[serde(default)]
    pub cpu_cores: Option<f64>,
    #[serde(default)]
    pub memory_gb: Option<f64>,
    #[serde(default)]
    pub product_name: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub operating_system: Option<Value>,
    #[serde(default)]
    pub billing: Option<Value>,
    /// Backup quota (`quotaInfo.limit`); absent means unlimited (`null`).
    #[serde(default)]
    pub backup_quota: Option<u32>,
    /// Size of backups this VPS creates; defaults to a quarter of `storageGb`.
    #[serde(default)]
    pub new_backup_size_gb: Option<f64>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub gates: FixtureGates,
    #[serde(default)]
    pub backups: Vec<FixtureBackup>,
    /// This many more backups, made up: scheduled, one a day from 2026-01-01 02:00 UTC, ids
    /// `bkp_<the VPS id without vps_>_<number>` (for lists, pages and limits).
    #[serde(default)]
    pub generated_backups: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct FixtureRetained {
    pub id: String,
    pub client: String,
    pub name: String,
    #[serde(default = "terminated")]
    pub service_status: String,
    #[serde(default)]
    pub backups: Vec<FixtureBackup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct FixtureBackup {
    pub id: String,
    pub created_at: String,
    pub size_gb: f64,
    #[serde(default = "manual")]
    pub backup_type: String,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub storage_key: Option<String>,
    /// When set, a restore from this backup fails with this reason.
    #[serde(default)]
    pub fail_restore: Option<String>,
}

fn active() -> String {
    "active".into()
}
fn terminated() -> String {
    "terminated".into()
}
fn manual() -> String {
    "manual".into()
}
fn running() -> Option<String> {
    Some("running".into())
}

impl Fixture {
    pub(crate) fn load(path: &Path) -> anyhow::Result<Fixture> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading fixture {}", path.display()))?;
        let fixture: Fixture = serde_json::from_str(&text)
            .with_context(|| format!("parsing fixture {}", path.display()))?;
        fixture
            .validate()
            .with_context(|| format!("checking fixture {}", path.display()))?;
        Ok(fixture)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let clients: HashSet<&str> = self.clients.iter().map(|c| c.id.as_str()).collect();
        if clients.len() != self.clients.len() {
            bail!("client ids must be unique");
        }
        let mut keys = HashSet::new();
        for (i, k) in self.api_keys.iter().enumerate() {
            if k.key.is_empty() {
                bail!("apiKeys[{i}]: key must not be empty");
            }
            if !keys.insert(k.key.as_str()) {
                bail!("apiKeys[{i}]: the same key is listed twice");
            }
            if !clients.contains(k.client.as_str()) {
                bail!("apiKeys[{i}]: unknown client {:?}", k.client);
            }
        }
        let mut ids = HashSet::new();
        let mut backup_ids = HashSet::new();
        let vps_like = self
            .vps
            .iter()
            .map(|v| (&v.id, &v.client, &v.backups))
            .chain(self.retained.iter().map(|r| (&r.id, &r.client, &r.backups)));
        for (id, client, backups) in vps_like {
            if !id.starts_with("vps_") {
                bail!("VPS id {id:?} must start with vps_");
            }
            if !ids.insert(id.as_str()) {
                bail!("VPS id {id:?} is listed twice");
            }
            if !clients.contains(client.as_str()) {
                bail!("VPS {id}: unknown client {client:?}");
            }
            for b in backups {
                if !b.id.starts_with("bkp_") {
                    bail!("backup id {:?} must start with bkp_", b.id);
                }
                if !backup_ids.insert(b.id.as_str()) {
                    bail!("backup id {:?} is listed twice", b.id);
                }
                parse_time(&b.created_at).with_context(|| format!("backup {}", b.id))?;
                if !(b.size_gb.is_finite() && b.size_gb >= 0.0) {
                    bail!("backup {}: sizeGb must be a non-negative number", b.id);
                }
            }
        }
        for v in &self.vps {
            if !(v.storage_gb.is_finite() && v.storage_gb > 0.0) {
                bail!("VPS {}: storageGb must be a positive number", v.id);
            }
            if let Some(t) = &v.created_at {
                parse_time(t).with_context(|| format!("VPS {}", v.id))?;
            }
        }
        Ok(())
    }
}

pub(crate) fn parse_time(text: &str) -> anyhow::Result<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339(text)
        .with_context(|| format!("{text:?} is not an RFC 3339 timestamp"))?
        .with_timezone(&Utc))
}

/// Parses `300ms`, `5s`, `2m`, `1h` or `0`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .ok_or_else(|| format!("{text:?}: missing unit (ms, s, m or h)"))?;
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{text:?}: {num:?} is not a number"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use ms, s, m or h)"
            ))
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{text:?}: {e}"))
}

/// `N/WINDOW`, e.g. `100/60s`: N requests per window per API key.
pub(crate) fn parse_rate_limit(text: &str) -> Result<(u32, Duration), String> {
    let (n, window) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?}: expected N/WINDOW, e.g. 100/60s"))?;
    let n: u32 = n
        .trim()
        .parse()
        .map_err(|_| format!("{text:?}: {n:?} is not a whole number"))?;
    let window = parse_duration(window)?;
    if n == 0 || window.is_zero() {
        return Err(format!("{text:?}: both N and the window must be positive"));
    }
    Ok((n, window))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_refuse_garbage() {
        assert_eq!(parse_duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn rate_limit_parses_count_and_window() {
        assert_eq!(parse_rate_limit("3/60s"), Ok((3, Duration::from_secs(60))));
        assert!(parse_rate_limit("0/60s").is_err());
        assert!(parse_rate_limit("3").is_err());
    }
}
