//! The live checks of a restore, run at plan time and again at apply just before the POST (both
//! through the shared read cache, the second accepting only answers seconds old): the target
//! exists and is ours, its restore gate is open, the source is among its restore sources, the
//! backup is under that source and fits the target's disk, and `confirm_target_name` matches. Every failure is an error at the attribute
//! it is about, with a detail that says what to do. Also the warning that tells the user what
//! apply destroys.

use std::sync::Arc;

use crate::api::{ApiError, Client, GateLookup, RestoreSource, SourceBackup, Vps, VpsDetails};
use crate::framework::{AttributePath, Diagnostic, Diagnostics};

use super::model::{
    gb, source_type_text, Checked, RestoreArgs, BACKUP_ID, CONFIRM_TARGET_NAME, SOURCE_VPS_ID,
    TARGET_VPS_ID,
};
use crate::hostup::cache::{MaxAge, ReadCache};
use crate::hostup::diagnostics::{closed_gate, read_failure, Reading};
use crate::hostup::source_pool::SourceList;
use crate::hostup::values;

/// How many of a source's backups an error lists.
const LISTED_BACKUPS: usize = 5;

/// Where the checks read from: the process's shared read cache, accepting answers as old as the
/// moment allows.
#[derive(Clone, Copy, Debug)]
pub struct Reads<'a> {
    cache: &'a ReadCache,
    client: &'a Client,
    age: MaxAge,
}

impl<'a> Reads<'a> {
    /// Plan time: shared, single-flight reads, reused for the cache's lifetime.
    pub fn plan(cache: &'a ReadCache, client: &'a Client) -> Reads<'a> {
        Reads {
            cache,
            client,
            age: MaxAge::Plan,
        }
    }

    /// Just before the POST: only answers a few seconds old (in an apply, those of this
    /// resource's re-plan a moment ago), so a backup that rotated away since the plan is seen.
    pub fn pre_post(cache: &'a ReadCache, client: &'a Client) -> Reads<'a> {
        Reads {
            cache,
            client,
            age: MaxAge::PrePost,
        }
    }

    async fn vps(&self, id: &str) -> Result<Arc<Vps>, Arc<ApiError>> {
        self.cache.vps(self.client, id, self.age).await
    }

    async fn details(&self, id: &str) -> Result<Arc<VpsDetails>, Arc<ApiError>> {
        self.cache.details(self.client, id, self.age).await
    }

    async fn sources(&self, id: &str) -> Result<Arc<SourceList>, Arc<ApiError>> {
        self.cache.restore_sources(self.client, id, self.age).await
    }
}

fn at(name: &str) -> AttributePath {
    AttributePath::attribute(name)
}

/// A failed read of the target, at `target_vps_id`.
fn target_read_failure(e: &ApiError, target_id: &str, reading: Reading) -> Diagnostic {
    read_failure(e, TARGET_VPS_ID, target_id, reading.of_target())
}

/// How every message names a VPS: "web-01 (vps_…)", or just the id when its name is not known
/// (or HostUp gave an empty one).
pub fn label(id: &str, name: Option<&str>) -> String {
    match name {
        Some(n) if !n.is_empty() => format!("{n} ({id})"),
        _ => id.to_owned(),
    }
}

/// Backups newest first, in the order the data sources list them.
fn newest_first(backups: &[SourceBackup]) -> Vec<&SourceBackup> {
    let mut v: Vec<&SourceBackup> = backups.iter().collect();
    v.sort_by(|a, b| {
        values::newest_first(
            (a.created_at.as_deref(), &a.id),
            (b.created_at.as_deref(), &b.id),
        )
    });
    v
}

fn describe_backup(b: &SourceBackup) -> String {
    let mut s = format!(
        "- {} created {}",
        b.id,
        b.created_at.as_deref().unwrap_or("at an unknown time")
    );
    if let Some(size) = b.size_gb {
        s.push_str(&format!(", {}", gb(size)));
    }
    if let Some(note) = b.note.as_deref().filter(|n| !n.is_empty()) {
        s.push_str(&format!(" ({note})"));
    }
    s
}

fn describe_source(s: &RestoreSource) -> String {
    let mut line = match s.name.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => format!("- {name} ({}, ", s.id),
        None => format!("- {} (", s.id),
    };
    line.push_str(&format!(
        "{}, {} backup{}",
        source_type_text(&s.source_type),
        s.backups.len(),
        if s.backups.len() == 1 { "" } else { "s" }
    ));
    if let Some(newest) = newest_first(&s.backups).first() {
        line.push_str(&format!(", newest {}", newest.id));
        if let Some(at) = &newest.created_at {
            line.push_str(&format!(" from {at}"));
        }
    }
    line.push(')');
    line
}

/// What the checks that need only the target learned.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// The target VPS id, `vps_…`.
    pub id: String,
    /// The target's name, when HostUp sent one; compared with `confirm_target_name`.
    pub name: Option<String>,
    /// The target's disk size in GB, when the details were read; the backup must fit in it.
    pub storage_gb: Option<f64>,
    /// False when neither VPS endpoint carried the restore gate, so it could not be checked.
    pub gate_checked: bool,
}

impl Target {
    /// `web-01 (vps_…)`.
    pub fn label(&self) -> String {
        label(&self.id, self.name.as_deref())
    }
}

/// The checks that need only the target: it exists and is ours, its restore gate is open, and
/// `confirm_target_name` matches. `Err` when the target cannot be read at all; otherwise what was
/// learned and the errors found, each at its attribute.
pub async fn check_target(
    reads: Reads<'_>,
    target_id: &str,
    confirm_target_name: Option<&str>,
) -> Result<(Target, Diagnostics), Diagnostics> {
    let mut diags = Diagnostics::new();
    let vps = match reads.vps(target_id).await {
        Ok(v) => v,
        Err(e) => return Err(target_read_failure(&e, target_id, Reading::VPS).into()),
    };
    let details = match reads.details(target_id).await {
        Ok(d) => d,
        Err(e) => return Err(target_read_failure(&e, target_id, Reading::VPS_DETAILS).into()),
    };
    let target_name = vps
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| details.hostname.clone());
    let target = label(target_id, target_name.as_deref());

    let lookup = GateLookup::from_answers(&vps, Some(&details));
    let gate_checked = lookup.gate().is_some();
    if let Some(gate) = lookup.gate().filter(|g| !g.allowed) {
        let mut d = closed_gate(
            "HostUp does not allow a restore onto this VPS now",
            format!("HostUp blocks restoring another VPS's backup onto {target}"),
            gate,
        );
        if gate.code.as_deref() == Some("job_in_progress") {
            // The usual advice (wait, then plan again) would restore twice when the running job
            // is this very restore, started by a run that was killed before it recorded it.
            d.detail.push_str(
                " If that job is this restore, started by an earlier run that was killed or lost \
                 its answer before anything reached state, it is already doing what this plan \
                 asks: note its id, and once it has completed do not apply (or invoke) this \
                 restore again, which would restore a second time; import the resource by that \
                 job id instead (`terraform import <address> <job id>`), or remove it from the \
                 configuration.",
            );
        }
        diags.push(d.at(at(TARGET_VPS_ID)));
    }

    if let Some(want) = confirm_target_name {
        if target_name.as_deref() != Some(want) {
            diags.error_at(
                at(CONFIRM_TARGET_NAME),
                "The target VPS has a different name",
                format!(
                    "confirm_target_name is {want:?}, but VPS {target_id} is named {}. This guard \
                     stops a restore onto the wrong machine: check target_vps_id, or set \
                     confirm_target_name to the name of the VPS you mean to overwrite.",
                    target_name
                        .as_deref()
                        .map_or("nothing (HostUp gave no name)".to_owned(), |n| format!(
                            "{n:?}"
                        ))
                ),
            );
        }
    }
    let facts = Target {
        id: target_id.to_owned(),
        name: target_name,
        storage_gb: details.storage_gb,
        gate_checked,
    };
    Ok((facts, diags))
}

/// Runs every check. `Ok` carries what the plan and state show; `Err` the errors, each at its
/// attribute (and any warnings gathered before them).
pub async fn run(reads: Reads<'_>, args: &RestoreArgs) -> Result<Checked, Diagnostics> {
    let target_id = args.target_vps_id.as_str();
    let (facts, mut diags) =
        check_target(reads, target_id, args.confirm_target_name.as_deref()).await?;
    let target = facts.label();

    let sources = match reads.sources(target_id).await {
        Ok(s) => s,
        Err(e) => {
            diags.push(target_read_failure(&e, target_id, Reading::RESTORE_SOURCES));
            return Err(diags);
        }
    };
    let Some(source) = sources.iter().find(|s| s.id == args.source_vps_id) else {
        let listed = if sources.is_empty() {
            "HostUp lists no restore sources for this target: none of your other VPSes (live or \
             terminated) has a backup yet."
                .to_owned()
        } else {
            format!(
                "Restore sources HostUp offers for {target}:\n{}",
                sources
                    .iter()
                    .map(|s| describe_source(s))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        };
        diags.error_at(
            at(SOURCE_VPS_ID),
            "Source VPS is not a restore source of the target",
            format!(
                "VPS {} is not among the restore sources of {target}. A source must be another \
                 VPS of the same account with at least one backup. Set source_vps_id to one of \
                 these.\n{listed}",
                args.source_vps_id
            ),
        );
        return Err(diags);
    };
    let source_label = label(&source.id, source.name.as_deref());

    let Some(backup) = source.backups.iter().find(|b| b.id == args.backup_id) else {
        let newest = newest_first(&source.backups);
        let listed = if newest.is_empty() {
            format!("{source_label} has no backups.")
        } else {
            format!(
                "Newest backups of {source_label}:\n{}",
                newest
                    .iter()
                    .take(LISTED_BACKUPS)
                    .map(|b| describe_backup(b))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        };
        diags.error_at(
            at(BACKUP_ID),
            "Backup not found under the source VPS",
            format!(
                "Backup {} is not a backup of {source_label}; it may have been rotated away by \
                 backup retention, or belong to another VPS. Set backup_id to one of the \
                 source's backups (the hostup_vps_restore_sources data source picks the newest).\
                 \n{listed}",
                args.backup_id
            ),
        );
        return Err(diags);
    };

    if let (Some(size), Some(disk)) = (backup.size_gb, facts.storage_gb) {
        if size > disk {
            diags.error_at(
                at(BACKUP_ID),
                "Backup does not fit the target's disk",
                format!(
                    "Backup {} of {source_label} is {}, but {target} has a {} disk. Pick a \
                     smaller backup, or upgrade the target's disk first.",
                    backup.id,
                    gb(size),
                    gb(disk)
                ),
            );
        }
    }

    if diags.has_errors() {
        return Err(diags);
    }
    Ok(Checked {
        target_id: facts.id,
        target_name: facts.name,
        target_storage_gb: facts.storage_gb,
        source_id: source.id.clone(),
        source_name: source.name.clone(),
        source_type: source.source_type.clone(),
        backup_id: backup.id.clone(),
        backup_created_at: backup.created_at.clone(),
        backup_size_gb: backup.size_gb,
        gate_checked: facts.gate_checked,
    })
}

/// How the resource's warning ends.
pub const RESOURCE_WARNING_ENDING: &str = "Terraform cannot undo this: destroying the \
    hostup_vps_restore resource later does not bring the old data back.";

/// The plan warning: what apply destroys, in plain words.
pub fn destruction_warning(c: &Checked) -> Diagnostic {
    destruction_warning_ending(c, RESOURCE_WARNING_ENDING)
}

/// The plan warning with a closing sentence that fits the caller.
pub fn destruction_warning_ending(c: &Checked, ending: &str) -> Diagnostic {
    let target = label(&c.target_id, c.target_name.as_deref());
    let source = label(&c.source_id, c.source_name.as_deref());
    let mut backup = format!(
        "backup {} (created {}",
        c.backup_id,
        c.backup_created_at
            .as_deref()
            .unwrap_or("at an unknown time")
    );
    if let Some(size) = c.backup_size_gb {
        backup.push_str(&format!(", {}", gb(size)));
    }
    backup.push(')');
    let source_kind = match source_type_text(&c.source_type) {
        "retained" => " (a retained backup of a terminated service)",
        _ => "",
    };
    Diagnostic::warning(
        format!("Apply will overwrite VPS {target}"),
        format!(
            "Applying this plan stops VPS {target} and overwrites its disk with {backup} of VPS \
             {source}{source_kind}. Everything written to {target} since that backup was taken \
             is lost. {ending}"
        ),
    )
}

/// Why a plan could check nothing against HostUp: the checks then run during apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unchecked {
    /// The provider's `api_key` or `endpoint` is known only during apply.
    ProviderUnknown,
    /// `target_vps_id` itself is known only during apply.
    TargetUnknown,
}

/// The plan warning when nothing could be checked at plan. It still names what the
/// configuration says (the target above all), so no plan that can restore goes without it.
pub fn unchecked_warning(
    why: Unchecked,
    target_vps_id: Option<&str>,
    source_vps_id: Option<&str>,
    backup_id: Option<&str>,
    ending: &str,
) -> Diagnostic {
    let (summary, target) = match target_vps_id {
        Some(id) => (
            format!("Apply will overwrite VPS {id}"),
            format!("VPS {id}"),
        ),
        None => (
            "Apply will overwrite a VPS known only during apply".to_owned(),
            "the target VPS (target_vps_id is known only during apply)".to_owned(),
        ),
    };
    let backup = backup_id.map_or("a backup".to_owned(), |b| format!("backup {b}"));
    let of = source_vps_id.map_or("of another VPS".to_owned(), |s| format!("of VPS {s}"));
    let reason = match why {
        Unchecked::ProviderUnknown => {
            "The hostup provider's configuration (api_key or endpoint) is known only during \
             apply, so this plan could not read HostUp"
        }
        Unchecked::TargetUnknown => "The target is known only during apply",
    };
    Diagnostic::warning(
        summary,
        format!(
            "Applying this plan stops {target} and overwrites its disk with {backup} {of}. \
             {reason}: the checks (that the target exists and its restore gate is open, that the \
             source and the backup belong to the same client as the target and that the backup \
             fits it) run during apply, just before the restore, and stop it if one fails. \
             Everything written to the target since that backup was taken is lost. {ending}"
        ),
    )
}

/// The plan warning when only the target is known yet: the source or the backup is decided during
/// apply (for example a backup this apply creates), so the rest is checked just before the POST.
pub fn target_only_warning(t: &Target, source_vps_id: Option<&str>, ending: &str) -> Diagnostic {
    let target = t.label();
    let of = source_vps_id.map_or("of another VPS".to_owned(), |s| format!("of VPS {s}"));
    Diagnostic::warning(
        format!("Apply will overwrite VPS {target}"),
        format!(
            "Applying this plan stops VPS {target} and overwrites its disk with a backup {of} that \
             is known only during apply, so the backup is checked just before the restore. \
             Everything written to {target} since that backup was taken is lost. {ending}"
        ),
    )
}

/// The warning shown when neither VPS endpoint carried the restore gate.
pub fn gate_unknown_warning(c: &Checked) -> Diagnostic {
    Diagnostic::warning(
        "Restore gate could not be checked",
        format!(
            "HostUp did not say whether VPS {} accepts a restore right now; the restore will be \
             attempted and HostUp may still refuse it at apply.",
            label(&c.target_id, c.target_name.as_deref())
        ),
    )
    .at(at(TARGET_VPS_ID))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::SourceType;

    fn checked() -> Checked {
        Checked {
            target_id: "vps_t1".into(),
            target_name: Some("web-01".into()),
            target_storage_gb: Some(80.0),
            source_id: "vps_s1".into(),
            source_name: Some("db-01".into()),
            source_type: SourceType::Server,
            backup_id: "bkp_b1".into(),
            backup_created_at: Some("2026-04-27T10:00:00.000Z".into()),
            backup_size_gb: Some(18.0),
            gate_checked: true,
        }
    }

    #[test]
    fn warning_names_target_backup_source_and_the_loss() {
        let w = destruction_warning(&checked());
        assert!(!w.is_error());
        assert!(w.summary.contains("web-01 (vps_t1)"), "{}", w.summary);
        for needle in [
            "stops VPS web-01 (vps_t1)",
            "overwrites its disk with backup bkp_b1",
            "2026-04-27T10:00:00.000Z",
            "18 GB",
            "db-01 (vps_s1)",
            "since that backup was taken is lost",
            "does not bring the old data back",
        ] {
            assert!(
                w.detail.contains(needle),
                "missing {needle:?} in {}",
                w.detail
            );
        }
    }

    #[test]
    fn warning_without_names_uses_ids_and_marks_retained_sources() {
        let mut c = checked();
        c.target_name = None;
        c.source_name = None;
        c.source_type = SourceType::Retained;
        c.backup_size_gb = None;
        let w = destruction_warning(&c);
        assert!(w.detail.contains("stops VPS vps_t1 and"), "{}", w.detail);
        assert!(w.detail.contains("of VPS vps_s1 (a retained backup"));
        assert!(!w.detail.contains("GB"));
    }

    #[test]
    fn backups_are_listed_newest_first_with_date_and_size() {
        let b = |id: &str, at: &str, size: f64| SourceBackup {
            id: id.into(),
            display_id: None,
            storage_key: None,
            created_at: Some(at.into()),
            size_gb: Some(size),
            backup_type: None,
            note: None,
        };
        let list = [
            b("bkp_old", "2026-04-13T02:00:00Z", 12.4),
            b("bkp_new", "2026-04-27T10:00:00Z", 18.0),
            b("bkp_mid", "2026-04-20T02:00:00Z", 96.5),
        ];
        let order: Vec<&str> = newest_first(&list).iter().map(|b| b.id.as_str()).collect();
        assert_eq!(order, ["bkp_new", "bkp_mid", "bkp_old"]);
        assert_eq!(
            describe_backup(&list[0]),
            "- bkp_old created 2026-04-13T02:00:00Z, 12.4 GB"
        );
    }
}
