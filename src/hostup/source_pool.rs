//! Sharing of identical restore sources across the restore-sources answers of one provider
//! process. Every target of an account is offered the same sources (all its other VPSes with
//! backups), so a plan of N targets over an account of M sources would otherwise hold N x M
//! parsed sources in the read cache; with the pool it holds each distinct source once, plus one
//! pointer per (target, source). A source is reused only when it is equal in every field to the
//! one already held, so what a caller sees is exactly what HostUp answered for its target.
//! The pool keeps weak references: a source no cached answer uses any more is freed.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, Weak};

use crate::api::RestoreSource;

/// A restore-sources answer whose entries may be shared with other targets' answers.
pub type SourceList = Vec<Arc<RestoreSource>>;

/// Prune dead entries only when the table has grown this much since the last prune, so the cost
/// stays amortised O(1) per source.
const MIN_PRUNE_LEN: usize = 64;

/// The sources currently held by any answer, by source id.
#[derive(Default)]
pub struct SourcePool {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    by_id: HashMap<String, Weak<RestoreSource>>,
    prune_at: usize,
}

impl SourcePool {
    /// An empty pool.
    pub fn new() -> SourcePool {
        SourcePool::default()
    }

    /// `sources` in the same order, each replaced by the held copy when an equal one is held.
    pub fn intern(&self, sources: Vec<RestoreSource>) -> SourceList {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        // A fresh, exact-size Vec on purpose: `into_iter().map().collect()` would reuse the
        // parsed list's allocation in place, keeping ~150 bytes per source instead of 8 alive
        // for as long as the answer is cached.
        let mut list = Vec::with_capacity(sources.len());
        for source in sources {
            if let Some(held) = table.by_id.get(&source.id).and_then(Weak::upgrade) {
                if *held == source {
                    list.push(held);
                    continue;
                }
            }
            let fresh = Arc::new(source);
            table.by_id.insert(fresh.id.clone(), Arc::downgrade(&fresh));
            list.push(fresh);
        }
        if table.by_id.len() >= table.prune_at.max(MIN_PRUNE_LEN) {
            table.by_id.retain(|_, held| held.strong_count() > 0);
            table.prune_at = table.by_id.len() * 2;
        }
        list
    }

    /// Number of source ids the pool tracks (live or not yet pruned).
    pub fn len(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_id
            .len()
    }

    /// Whether the pool tracks no source.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A count, not the sources: an account can hold thousands.
impl fmt::Debug for SourcePool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourcePool")
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn source(id: &str, backup: &str) -> RestoreSource {
        serde_json::from_value(json!({
            "id": id, "name": "web", "sourceType": "server",
            "backups": [{"id": backup, "createdAt": "2026-04-27T10:00:00.000Z", "sizeGb": 18}]
        }))
        .unwrap()
    }

    #[test]
    fn equal_sources_of_two_targets_are_held_once() {
        let pool = SourcePool::new();
        let a = pool.intern(vec![source("vps_1", "bkp_1"), source("vps_2", "bkp_2")]);
        let b = pool.intern(vec![source("vps_2", "bkp_2"), source("vps_1", "bkp_1")]);
        assert!(Arc::ptr_eq(&a[0], &b[1]));
        assert!(Arc::ptr_eq(&a[1], &b[0]));
        assert_eq!(b[0].id, "vps_2", "order of each answer is kept");
        assert_eq!(b.capacity(), 2, "no spare room kept per cached answer");
    }

    #[test]
    fn a_source_that_changed_is_not_replaced_by_the_old_copy() {
        let pool = SourcePool::new();
        let old = pool.intern(vec![source("vps_1", "bkp_old")]);
        let new = pool.intern(vec![source("vps_1", "bkp_new")]);
        assert_eq!(old[0].backups[0].id, "bkp_old");
        assert_eq!(new[0].backups[0].id, "bkp_new");
        // Later answers share the newest copy.
        let again = pool.intern(vec![source("vps_1", "bkp_new")]);
        assert!(Arc::ptr_eq(&new[0], &again[0]));
    }

    #[test]
    fn sources_no_answer_holds_are_freed_and_pruned() {
        let pool = SourcePool::new();
        for round in 0..10 {
            let ids: Vec<_> = (0..MIN_PRUNE_LEN)
                .map(|i| source(&format!("vps_{round}_{i}"), "bkp"))
                .collect();
            drop(pool.intern(ids));
        }
        assert!(
            pool.len() <= 2 * MIN_PRUNE_LEN,
            "dead entries pile up: {}",
            pool.len()
        );
        let kept = pool.intern(vec![source("vps_x", "bkp")]);
        assert!(
            Arc::strong_count(&kept[0]) == 1,
            "the pool holds no strong reference"
        );
    }
}
