//! What one provider process learns about the tainted objects its run replaces, for the create
//! that replaces each. Terraform tells a create nothing about the object it replaces, so the
//! object reaches the create through the provider process (a plan and an apply each run their own):
//!
//! - in a plan, Terraform refreshes the tainted object (`read`) just before it plans its
//!   replacement, a create from a null prior state;
//! - in an apply, it deletes the tainted object just before it plans the replacement again and
//!   creates it;
//! - a replacement the user asked for (`-replace`, a changed argument) of an object that is not
//!   tainted is first planned against the prior state.
//!
//! So `read` and `delete` [`remember`](Replaced::remember) an object whose job did not end in the
//! provider's sight under the inputs that make up its intent, the first plan of a deliberate
//! replacement [marks](Replaced::replaced_on_purpose) its inputs, and the create's plan
//! [finds](Replaced::find_for_create) the earlier job to adopt: the same inputs mean the same
//! intent. `hostup_vps_restore` and `hostup_vps_backup` each keep one, with their own key and job
//! types.
//!
//! One object comes in no fixed order: a *deposed* one, which an apply with
//! `create_before_destroy` leaves when it stops before creating the replacement. Terraform
//! refreshes it apart from the new object's create, in either order, and in an apply it creates
//! the new object before it destroys the deposed one. A create planned before the earlier job was
//! met would send a second request; so [`remember`](Replaced::remember) tells when a create with
//! the same inputs was already planned without it ([`Met::TooLate`]), and `read` then fails the
//! plan. When the job is met first, the create adopts it in the plan, and the apply (which
//! cannot meet it in time) stops before anything is sent with "Provider produced inconsistent
//! final plan". Either way nothing is sent twice; the resources' docs give the way out.

use std::sync::Mutex;

/// The earlier jobs of one resource type that this process met, by the inputs (`K`) of their
/// objects, the inputs replaced on purpose in this run, and those of the creates planned without
/// an earlier job. Writers: the resource's `read` and `delete` (an earlier job), its
/// `modify_plan` for a prior state (a deliberate replacement) and for a create (planned anew).
/// Readers: its `modify_plan` for a create, and `read` (a job met too late).
#[derive(Debug)]
pub struct Replaced<K, J> {
    inner: Mutex<Inner<K, J>>,
}

#[derive(Debug)]
struct Inner<K, J> {
    jobs: Vec<(K, J)>,
    on_purpose: Vec<K>,
    /// The inputs of the creates planned without an earlier job to adopt.
    anew: Vec<K>,
}

/// Whether [`Replaced::remember`] met a job in time for the create that replaces its object.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Met {
    /// No create with the same inputs has been planned without it yet.
    InTime,
    /// A create with the same inputs was already planned without it: that plan will send a new
    /// request unless the run stops.
    TooLate,
}

impl<K, J> Default for Replaced<K, J> {
    fn default() -> Self {
        Replaced {
            inner: Mutex::new(Inner {
                jobs: Vec::new(),
                on_purpose: Vec::new(),
                anew: Vec::new(),
            }),
        }
    }
}

impl<K: PartialEq, J: Clone> Replaced<K, J> {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner<K, J>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers `job` for objects with inputs `key`, replacing what was known before, and says
    /// whether it came in time for the create that replaces its object.
    pub fn remember(&self, key: K, job: J) -> Met {
        let mut inner = self.inner();
        let met = if inner.anew.contains(&key) {
            Met::TooLate
        } else {
            Met::InTime
        };
        inner.jobs.retain(|(k, _)| *k != key);
        inner.jobs.push((key, job));
        met
    }

    /// Notes that the object with inputs `key` is replaced on purpose: Terraform planned it
    /// against its prior state first, which it does only for an object that is not tainted
    /// (`-replace`, or changed arguments). Its job, even one that never ended in sight (say,
    /// untainted by hand), is then not adopted: the user asked for a new one.
    pub fn replaced_on_purpose(&self, key: K) {
        let mut inner = self.inner();
        inner.jobs.retain(|(k, _)| *k != key);
        inner.on_purpose.push(key);
    }

    /// Whether the object with inputs `key` is replaced on purpose in this run.
    pub fn is_replaced_on_purpose(&self, key: &K) -> bool {
        self.inner().on_purpose.contains(key)
    }

    /// For the plan of a create with inputs `key`: the earlier job to adopt, if this process met
    /// one and the object is not replaced on purpose. Without one, the create is planned anew,
    /// and a job with these inputs met afterwards comes [too late](Met::TooLate) for it.
    pub fn find_for_create(&self, key: &K) -> Option<J>
    where
        K: Clone,
    {
        let mut inner = self.inner();
        let found = if inner.on_purpose.contains(key) {
            None
        } else {
            inner
                .jobs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, j)| j.clone())
        };
        if found.is_none() {
            inner.anew.push(key.clone());
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_job_remembered_is_found_unless_replaced_on_purpose() {
        let replaced = Replaced::<&str, u32>::default();
        assert_eq!(replaced.remember("a", 1), Met::InTime);
        assert_eq!(replaced.remember("a", 2), Met::InTime);
        assert_eq!(replaced.remember("b", 3), Met::InTime);
        assert_eq!(replaced.find_for_create(&"a"), Some(2));
        replaced.replaced_on_purpose("a");
        assert!(replaced.is_replaced_on_purpose(&"a"));
        assert_eq!(
            replaced.find_for_create(&"a"),
            None,
            "the user asked for a new one"
        );
        let _ = replaced.remember("a", 4);
        assert_eq!(
            replaced.find_for_create(&"a"),
            None,
            "still replaced on purpose"
        );
        assert_eq!(replaced.find_for_create(&"b"), Some(3));
    }

    #[test]
    fn a_job_met_after_a_create_was_planned_without_it_comes_too_late() {
        let replaced = Replaced::<&str, u32>::default();
        assert_eq!(replaced.find_for_create(&"a"), None, "planned anew");
        assert_eq!(replaced.remember("a", 1), Met::TooLate);
        assert_eq!(replaced.remember("b", 2), Met::InTime, "other inputs");
        assert_eq!(replaced.find_for_create(&"b"), Some(2));
        assert_eq!(
            replaced.remember("b", 3),
            Met::InTime,
            "the create adopted the job; no create is planned without one"
        );
    }
}
