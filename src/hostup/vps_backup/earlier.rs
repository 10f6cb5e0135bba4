//! The earlier job of a tainted backup. When the provider stops waiting before a backup's create
//! job ends (the create timeout, Terraform's Stop after Ctrl-C or a CI cancel), Terraform keeps
//! the resource as tainted with the job id, and its next plan replaces it. That replacement must
//! not take a second backup while the job still runs or after it made its backup, nor delete the
//! backup the job made: it adopts the job, waits for it if it still runs, and records its backup.
//!
//! The object reaches the replacing create through the provider process (see
//! `hostup::replaced`), under the backup's inputs (VPS and note). A backup whose job failed, or
//! whose outcome can no longer be told (its record expired), is not adopted: its replacement takes
//! a new backup, as for any tainted backup. A deliberate replacement (`-replace`, a changed note)
//! takes a new backup too.

use crate::framework::{Diagnostic, Value};
use crate::hostup::replaced::Replaced;

use super::model::{Private, BACKUP_TYPE, CREATED_AT, ID, JOB_ID, NOTE, SIZE_GB, VPS_ID};

/// The inputs that make up one backup intent; equal keys mean the same backup.
#[derive(Clone, Debug, PartialEq)]
pub struct BackupKey {
    vps_id: String,
    note: Value,
}

impl BackupKey {
    /// The key of a configuration or state; `None` while any part of it is unknown.
    pub fn of(v: &Value) -> Option<BackupKey> {
        let note = v.get(NOTE).cloned().unwrap_or(Value::Null);
        if !note.is_wholly_known() {
            return None;
        }
        Some(BackupKey {
            vps_id: v.get_str(VPS_ID)?.to_owned(),
            note,
        })
    }
}

/// The earlier jobs of backups this process met, and the backups replaced on purpose.
pub type EarlierBackups = Replaced<BackupKey, EarlierBackup>;

/// The create job of a tainted backup that may still make, or has made, the backup.
#[derive(Clone, Debug)]
pub struct EarlierBackup {
    job_id: String,
    /// The earlier object's private data: where the job is polled, the backups before it.
    private: Private,
    /// The earlier object's state, as refreshed: `id` and the facts once the backup is found.
    state: Value,
}

impl EarlierBackup {
    /// The earlier job of `state` when its create job did not end in the provider's sight.
    /// Callers leave out a job the refresh saw fail or whose record is gone.
    pub fn of_state(state: &Value, private: &Private) -> Option<(BackupKey, Self)> {
        if !private.unsettled {
            return None;
        }
        Some((
            BackupKey::of(state)?,
            EarlierBackup {
                job_id: state.get_str(JOB_ID)?.to_owned(),
                private: private.clone(),
                state: state.clone(),
            },
        ))
    }

    /// The backup's id, once the job has finished and its backup was found.
    fn backup_id(&self) -> Option<&str> {
        self.state.get_str(ID)
    }

    /// Fills the planned value of the adopting create: the job, and the backup with its facts
    /// once found. While the job runs they stay unknown: the apply learns them by waiting.
    pub fn write_plan(&self, planned: &mut Value) {
        planned.set(JOB_ID, Value::from(self.job_id.as_str()));
        if self.backup_id().is_some() {
            for name in [ID, CREATED_AT, SIZE_GB, BACKUP_TYPE] {
                planned.set(name, self.state.get(name).cloned().unwrap_or(Value::Null));
            }
        }
    }

    /// The private data the adopting create plans with. Terraform hands it to the delete of the
    /// object it replaces too, which must then keep the backup rather than delete it.
    pub fn private(&self) -> Private {
        Private {
            unsettled: true,
            adopted: true,
            ..self.private.clone()
        }
    }

    /// The error of a `read` that met this job after the create replacing its object was planned
    /// without it (see `hostup::replaced`): that plan would take a second backup, so the run
    /// stops.
    pub fn too_late_diagnostic(&self) -> Diagnostic {
        let job = &self.job_id;
        let vps = self.state.get_str(VPS_ID).unwrap_or_default();
        let made = match self.backup_id() {
            Some(id) => format!("it has made backup {id}"),
            None => "it is still making the backup".to_owned(),
        };
        Diagnostic::error(
            format!("An earlier backup of VPS {vps} came to light too late: job {job}"),
            format!(
                "Terraform's state holds an earlier backup of VPS {vps} with the same note, made \
                 by HostUp job {job}, which an earlier apply stopped waiting for; {made}. \
                 Terraform planned this configuration's new backup before it refreshed that \
                 record, so applying would take a second backup; this plan stops, and nothing was \
                 sent. That happens when the record is a deposed object, which an apply with \
                 `create_before_destroy` leaves when it stops before the replacement (\"Provider \
                 produced inconsistent final plan\"): Terraform plans a deposed object apart \
                 from the new one, in either order. Record that backup instead, once the job has \
                 made it: `terraform state rm hostup_vps_backup.<name>` (`tofu` with OpenTofu), \
                 then `terraform import hostup_vps_backup.<name> {vps}/<backup_id>`."
            ),
        )
    }

    /// The plan's warning: no new backup, and what the apply does instead.
    pub fn plan_diagnostic(&self) -> Diagnostic {
        let job = &self.job_id;
        let vps = self.state.get_str(VPS_ID).unwrap_or_default();
        let stopped = format!(
            "An earlier apply stopped waiting for HostUp job {job} before it ended (a timeout, \
             an interrupt or a CI cancel), which left this resource tainted."
        );
        let shown = "Terraform still shows a replacement: that is how it plans a tainted \
                     resource. With `create_before_destroy` on this resource, the apply stops \
                     before anything is sent and the backup must then be recorded by hand (see \
                     the resource's docs). To take a new backup instead, change `note`.";
        match self.backup_id() {
            Some(id) => Diagnostic::warning(
                format!("The backup of VPS {vps} was already made: {id} (job {job})"),
                format!(
                    "{stopped} The job has since made backup {id}. Applying sends nothing to \
                     HostUp and deletes nothing: it records that backup in state, and the plan \
                     after it is empty. {shown}"
                ),
            ),
            None => Diagnostic::warning(
                format!("The backup of VPS {vps} is already being made: job {job}"),
                format!(
                    "{stopped} Applying takes no new backup and deletes nothing: it waits for \
                     job {job} (up to `timeouts.create`) and records the backup it makes. \
                     {shown}"
                ),
            ),
        }
    }
}
