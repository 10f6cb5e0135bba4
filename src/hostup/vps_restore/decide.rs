//! The restore-once rules as one pure decision: what a planned restore does, given what the
//! provider knows when the plan ends. `modify_plan` gathers the facts (the earlier job, found by
//! `earlier`; the other restores of the run, found by `conflicts`) and carries out the answer;
//! nothing else decides whether a restore is sent.

use super::earlier::Fate;

/// What the provider knows about one planned restore.
#[derive(Clone, Debug, PartialEq)]
pub struct Facts {
    /// The fate of an earlier restore with the same inputs whose end the provider did not see
    /// (or that failed): the tainted object this plan replaces. `None` when there is none.
    pub earlier: Option<Fate>,
    /// The user asked for this restore: `-replace`, or changed inputs on an object that was not
    /// tainted (Terraform plans those against the prior state first).
    pub deliberate: bool,
    /// Another restore of the same target is planned in this run.
    pub conflict: bool,
}

/// What the plan does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Check against HostUp, warn what apply overwrites, and send one restore.
    Restore,
    /// The earlier job failed: say so, then as [`Decision::Restore`].
    RestoreAgain,
    /// The earlier job still runs: plan its id and send no restore; apply waits for it (and,
    /// with `start_after_restore`, brings the target up after it).
    AdoptAndWait,
    /// The earlier job completed: plan its record and send no restore. With
    /// `start_after_restore`, apply finishes the start the earlier apply did not (`power`): the
    /// target is read first, and a start already sent is waited for, never sent again.
    Record,
    /// Fail the plan, sending nothing; the user must decide.
    Refuse(Refusal),
}

/// Why a plan is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Another restore of the same target in this run: one would overwrite the other.
    Conflict,
    /// Nobody can tell whether the earlier restore happened (its job record is gone, or its
    /// request got no usable answer): restoring again could overwrite what the VPS did since.
    OutcomeUnknown,
}

impl Decision {
    /// Whether this plan ends in a new restore request, so HostUp is checked first.
    pub fn sends_restore(self) -> bool {
        matches!(self, Decision::Restore | Decision::RestoreAgain)
    }

    /// Whether the earlier job becomes this resource's restore.
    pub fn adopts(self) -> bool {
        matches!(self, Decision::AdoptAndWait | Decision::Record)
    }
}

/// The restore-once rules, in order; the first that applies decides.
pub fn decide(facts: &Facts) -> Decision {
    // Two restores of one VPS in one run: which one wins would depend on timing.
    if facts.conflict {
        return Decision::Refuse(Refusal::Conflict);
    }
    // The user asked for a new restore: an earlier job is not an answer to that.
    if facts.deliberate {
        return Decision::Restore;
    }
    match &facts.earlier {
        // Nothing restored with these inputs before: the intent is new.
        None => Decision::Restore,
        // Still writing the disk: a second restore would race it, so wait for this one.
        Some(Fate::Running(_)) => Decision::AdoptAndWait,
        // Already done: sending it again would overwrite what the VPS did since.
        Some(Fate::Completed) => Decision::Record,
        // Done and failed: the intent is unmet, so restore again (the plan says why).
        Some(Fate::Failed(_)) => Decision::RestoreAgain,
        // Maybe done, maybe not: only the user can tell.
        Some(Fate::Gone | Fate::Unanswered) => Decision::Refuse(Refusal::OutcomeUnknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::JobStatus;

    #[test]
    fn the_restore_once_table() {
        use Decision::*;
        let running = || Some(Fate::Running(JobStatus::InProgress));
        let failed = || Some(Fate::Failed(Some("checksum".into())));
        #[rustfmt::skip]
        let table: Vec<(&str, Option<Fate>, bool, bool, Decision)> = vec![
            // case                                     earlier                 deliberate conflict decision
            ("a new restore",                           None,                   false, false, Restore),
            ("a tainted restore whose job runs",        running(),              false, false, AdoptAndWait),
            ("a tainted restore whose job completed",   Some(Fate::Completed),  false, false, Record),
            ("a tainted restore whose job failed",      failed(),               false, false, RestoreAgain),
            ("a tainted restore whose record is gone",  Some(Fate::Gone),       false, false, Refuse(Refusal::OutcomeUnknown)),
            ("a restore whose request went unanswered", Some(Fate::Unanswered), false, false, Refuse(Refusal::OutcomeUnknown)),
            ("-replace of a completed restore",         None,                   true,  false, Restore),
            ("-replace after a manual untaint",         running(),              true,  false, Restore),
            ("-replace of an unanswered restore",       Some(Fate::Unanswered), true,  false, Restore),
            ("two new restores of one target",          None,                   false, true,  Refuse(Refusal::Conflict)),
            ("adopting while another restore aims",     running(),              false, true,  Refuse(Refusal::Conflict)),
            ("recording while another restore aims",    Some(Fate::Completed),  false, true,  Refuse(Refusal::Conflict)),
            ("a deliberate restore and another",        None,                   true,  true,  Refuse(Refusal::Conflict)),
        ];
        for (case, earlier, deliberate, conflict, want) in table {
            let facts = Facts {
                earlier,
                deliberate,
                conflict,
            };
            assert_eq!(decide(&facts), want, "{case}: {facts:?}");
        }
    }

    #[test]
    fn only_restoring_decisions_send_and_only_adopting_ones_take_the_job() {
        for d in [Decision::Restore, Decision::RestoreAgain] {
            assert!(d.sends_restore() && !d.adopts(), "{d:?}");
        }
        for d in [Decision::AdoptAndWait, Decision::Record] {
            assert!(!d.sends_restore() && d.adopts(), "{d:?}");
        }
        for r in [Refusal::Conflict, Refusal::OutcomeUnknown] {
            let d = Decision::Refuse(r);
            assert!(!d.sends_restore() && !d.adopts(), "{d:?}");
        }
    }
}
