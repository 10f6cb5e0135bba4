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
//! [finds](Replaced::find) the earlier job to adopt: the same inputs mean the same intent.
//! `hostup_vps_restore` and `hostup_vps_backup` each keep one, with their own key and job types.

use std::sync::Mutex;

/// The earlier jobs of one resource type that this process met, by the inputs (`K`) of their
/// objects, and the inputs replaced on purpose in this run. Writers: the resource's `read` and
/// `delete` (an earlier job), and its `modify_plan` for a prior state (a deliberate replacement).
/// Reader: its `modify_plan` for a create.
#[derive(Debug)]
pub struct Replaced<K, J> {
    inner: Mutex<Inner<K, J>>,
}

#[derive(Debug)]
struct Inner<K, J> {
    jobs: Vec<(K, J)>,
    on_purpose: Vec<K>,
}

impl<K, J> Default for Replaced<K, J> {
    fn default() -> Self {
        Replaced {
            inner: Mutex::new(Inner {
                jobs: Vec::new(),
                on_purpose: Vec::new(),
            }),
        }
    }
}

impl<K: PartialEq, J: Clone> Replaced<K, J> {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner<K, J>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers `job` for objects with inputs `key`, replacing what was known before.
    pub fn remember(&self, key: K, job: J) {
        let mut inner = self.inner();
        inner.jobs.retain(|(k, _)| *k != key);
        inner.jobs.push((key, job));
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

    /// The earlier job of an object with inputs `key`, if this process met one and it is not
    /// replaced on purpose.
    pub fn find(&self, key: &K) -> Option<J> {
        let inner = self.inner();
        if inner.on_purpose.contains(key) {
            return None;
        }
        inner
            .jobs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, j)| j.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_job_remembered_is_found_unless_replaced_on_purpose() {
        let replaced = Replaced::<&str, u32>::default();
        assert_eq!(replaced.find(&"a"), None);
        replaced.remember("a", 1);
        replaced.remember("a", 2);
        replaced.remember("b", 3);
        assert_eq!(replaced.find(&"a"), Some(2));
        replaced.replaced_on_purpose("a");
        assert!(replaced.is_replaced_on_purpose(&"a"));
        assert_eq!(replaced.find(&"a"), None, "the user asked for a new one");
        replaced.remember("a", 4);
        assert_eq!(replaced.find(&"a"), None, "still replaced on purpose");
        assert_eq!(replaced.find(&"b"), Some(3));
    }
}
