//! One restore per target per run. Two `hostup_vps_restore` resources that restore the same VPS
//! in one apply would both go ahead (the second after the first's job ends, or refused by
//! HostUp's gate midway), and one would silently overwrite the other. So each restore a plan
//! creates (new or adopting an earlier job) enters its target here, and a plan that finds another
//! restore of the same target fails, whatever its inputs (`count = 2` on one restore is two).
//!
//! Terraform tells a provider nothing about the other resources of a run, and plans independent
//! resources concurrently. So a restore enters its target when its plan starts and looks for
//! others when its plan ends, after its checks against HostUp: of two restores of one target, the
//! later one always sees the earlier, and when their plans overlap (resources planned together,
//! each waiting on HostUp's answers), each gets the error, naming the other. A restore whose plan
//! starts after the other's has been answered (because it depends on it) still fails; only the
//! first one's plan was answered without the error. Either way the plan fails, so nothing is
//! sent. Nothing waits: a plan of many restores takes no longer for the check. A target known
//! only at apply is entered by the apply's own plan of the resource, so the error then comes at
//! apply, before that restore's request, but possibly after the other's.

use std::sync::Mutex;

use crate::framework::{AttributePath, Diagnostic, Value};

use super::model::{BACKUP_ID, SOURCE_VPS_ID, TARGET_VPS_ID};

/// The inputs of one planned restore; unknown parts stay unknown.
#[derive(Clone, Debug)]
struct Entry {
    target: String,
    source: Value,
    backup: Value,
}

impl Entry {
    fn describe(&self) -> String {
        let show = |v: &Value| match v.as_str() {
            Some(s) => s.to_owned(),
            None => "(known at apply)".to_owned(),
        };
        format!(
            "source_vps_id {}, backup_id {}",
            show(&self.source),
            show(&self.backup)
        )
    }
}

/// The restores this provider process has planned, by target.
#[derive(Debug, Default)]
pub struct PlannedTargets {
    /// Each planned restore; its index is its ticket's number.
    entries: Mutex<Vec<Entry>>,
}

impl PlannedTargets {
    /// Enters the restore `config` plans (when its target is known) and returns its ticket for
    /// [`PlannedTargets::conflict`].
    pub fn enter(&self, config: &Value) -> Option<Ticket> {
        let target = config
            .get(TARGET_VPS_ID)
            .and_then(Value::as_str)?
            .to_owned();
        let field = |name: &str| config.get(name).cloned().unwrap_or(Value::Null);
        let entry = Entry {
            target,
            source: field(SOURCE_VPS_ID),
            backup: field(BACKUP_ID),
        };
        // Every entry is a resource of its own, even with the same inputs (`count = 2`, a copied
        // block): Terraform plans each create once per process (a plan and an apply run in
        // processes of their own), and a replacement's first plan, against the prior state, is
        // not entered.
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let number = entries.len();
        entries.push(entry.clone());
        tracing::debug!(
            target_vps = %entry.target,
            number,
            "hostup_vps_restore: a restore planned in this run"
        );
        Some(Ticket { number, entry })
    }

    /// The error when another restore of the same target has entered, before or since `ticket`'s.
    /// Call it at the end of the plan, once the checks against HostUp are done.
    pub fn conflict(&self, ticket: &Ticket) -> Option<Diagnostic> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let mine = &ticket.entry;
        let others: Vec<String> = entries
            .iter()
            .enumerate()
            .filter(|(n, e)| *n != ticket.number && e.target == mine.target)
            .map(|(_, e)| e.describe())
            .collect();
        if others.is_empty() {
            return None;
        }
        Some(
            Diagnostic::error(
                "Another restore of this VPS in the same run",
                format!(
                    "This configuration restores VPS {} more than once in one run: this \
                     resource ({}) and another hostup_vps_restore with {}. One restore would \
                     overwrite the other, and which one wins would depend on timing. Keep one \
                     of them, or restore in separate applies: apply one, then add the other. \
                     This restore was not sent to HostUp.",
                    mine.target,
                    mine.describe(),
                    others.join("; another with "),
                ),
            )
            .at(AttributePath::attribute(TARGET_VPS_ID)),
        )
    }
}

/// A planned restore's place in [`PlannedTargets`].
#[derive(Debug)]
pub struct Ticket {
    number: usize,
    entry: Entry,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(target: &str, backup: Value) -> Value {
        Value::object([
            (TARGET_VPS_ID, Value::from(target)),
            (SOURCE_VPS_ID, Value::from("vps_s")),
            (BACKUP_ID, backup),
            (super::super::model::TRIGGERS, Value::Null),
        ])
    }

    #[test]
    fn two_restores_of_one_target_each_get_the_error_naming_the_other() {
        let planned = PlannedTargets::default();
        let a = planned
            .enter(&config("vps_t", Value::from("bkp_a")))
            .unwrap();
        let b = planned
            .enter(&config("vps_t", Value::from("bkp_b")))
            .unwrap();
        let other = planned
            .enter(&config("vps_u", Value::from("bkp_a")))
            .unwrap();
        let (da, db, dother) = (
            planned.conflict(&a),
            planned.conflict(&b),
            planned.conflict(&other),
        );
        let da = da.expect("a conflicts");
        let db = db.expect("b conflicts");
        assert!(dother.is_none(), "another target is fine");
        assert!(da
            .detail
            .contains("this resource (source_vps_id vps_s, backup_id bkp_a)"));
        assert!(
            da.detail
                .contains("another hostup_vps_restore with source_vps_id vps_s, backup_id bkp_b"),
            "{}",
            da.detail
        );
        assert!(db.detail.contains("backup_id bkp_a"), "{}", db.detail);
        assert_eq!(da.attribute, Some(AttributePath::attribute(TARGET_VPS_ID)));
        assert!(da.detail.contains("This restore was not sent"));
    }

    #[test]
    fn identical_restores_and_unknown_inputs_conflict_and_an_unknown_target_waits() {
        // `count = 2`, or a copied block: the same inputs twice are still two restores.
        let planned = PlannedTargets::default();
        let first = planned
            .enter(&config("vps_t", Value::from("bkp_a")))
            .unwrap();
        let copy = planned
            .enter(&config("vps_t", Value::from("bkp_a")))
            .unwrap();
        assert!(planned.conflict(&first).is_some());
        assert!(planned.conflict(&copy).is_some());

        let planned = PlannedTargets::default();
        let a = planned.enter(&config("vps_t", Value::Unknown)).unwrap();
        let b = planned.enter(&config("vps_t", Value::Unknown)).unwrap();
        let d = planned.conflict(&b).expect("two restores");
        assert!(d.detail.contains("(known at apply)"), "{}", d.detail);
        assert!(planned.conflict(&a).is_some());
        // A target known only at apply is entered by the apply's plan instead.
        assert!(planned
            .enter(&Value::object([(TARGET_VPS_ID, Value::Unknown)]))
            .is_none());
    }

    #[test]
    fn a_later_restore_sees_one_whose_plan_has_ended_and_the_earlier_sees_only_overlaps() {
        let planned = PlannedTargets::default();
        let first = planned
            .enter(&config("vps_t", Value::from("bkp_a")))
            .unwrap();
        for i in 0..10 {
            planned.enter(&config(&format!("vps_{i}"), Value::from("bkp")));
        }
        // Nothing else aims at vps_t while the first plan runs: it passes, at once.
        assert!(planned.conflict(&first).is_none());
        // A restore of the same target planned after the first had answered still fails.
        let later = planned
            .enter(&config("vps_t", Value::from("bkp_b")))
            .unwrap();
        let d = planned.conflict(&later).expect("the later one fails");
        assert!(d.detail.contains("backup_id bkp_a"), "{}", d.detail);
    }
}
