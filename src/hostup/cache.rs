//! A per-process, single-flight cache of the HostUp reads that plan-time checks repeat: the VPS
//! summary, its details and its restore sources. Terraform plans many resources in parallel; when
//! a hundred restores name ten targets, each distinct read goes to HostUp once and every other
//! caller waits for that one answer. A failed read is handed to the callers already waiting for
//! it and then dropped, so the next caller asks HostUp again. Successful answers live for a
//! bounded time, because a provider process normally serves a single plan or apply.
//!
//! The checks just before a restore POST accept only an answer a few seconds old
//! ([`PRE_POST_MAX_AGE`]): in an apply, Terraform plans each resource again in the apply's own
//! provider process moments before applying it, and that re-plan's reads are as fresh as the
//! POST needs; anything older is read again. Writes that change what a read said (a restore
//! accepted, a backup made or deleted) drop the answers they made stale.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::api::{ApiError, Client, Vps, VpsDetails};
use crate::hostup::source_pool::{SourceList, SourcePool};

/// How long a successful answer is reused.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// The oldest answer the checks just before a restore POST accept. Terraform's apply re-plans a
/// resource and applies it back to back, so the re-plan's answers are milliseconds old when the
/// POST goes out; a read older than this comes from some earlier step and is made again.
pub const PRE_POST_MAX_AGE: Duration = Duration::from_secs(10);

/// The error a cached read hands to every caller that shared it.
pub type SharedError = Arc<ApiError>;

type Slot<V> = Arc<OnceCell<(Instant, Result<Arc<V>, SharedError>)>>;

/// One single-flight table: a cell per key, filled by the first caller.
pub struct SingleFlight<K, V> {
    ttl: Duration,
    slots: Mutex<HashMap<K, Slot<V>>>,
}

impl<K, V> SingleFlight<K, V>
where
    K: Eq + Hash + Clone,
{
    /// An empty table; an answer is reused for `ttl` after it arrives.
    pub fn new(ttl: Duration) -> SingleFlight<K, V> {
        SingleFlight {
            ttl,
            slots: Mutex::new(HashMap::new()),
        }
    }

    fn slot(&self, key: &K) -> Slot<V> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(key.clone()).or_default().clone()
    }

    /// Drops `slot` from the table unless another caller already replaced it.
    fn evict(&self, key: &K, slot: &Slot<V>) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.get(key).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            slots.remove(key);
        }
    }

    /// The value for `key`: a cached answer younger than the table's TTL, the answer of a read
    /// already under way, or the answer of `fetch`, run once for all concurrent callers.
    pub async fn get<F, Fut>(&self, key: &K, fetch: F) -> Result<Arc<V>, SharedError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, ApiError>>,
    {
        self.get_within(key, self.ttl, fetch).await
    }

    /// As [`get`](Self::get), but a cached answer counts only while younger than `max_age` (and
    /// the TTL); an older one is read again, and the new answer replaces it for everyone.
    pub async fn get_within<F, Fut>(
        &self,
        key: &K,
        max_age: Duration,
        fetch: F,
    ) -> Result<Arc<V>, SharedError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, ApiError>>,
    {
        let max_age = max_age.min(self.ttl);
        let mut fetch = Some(fetch);
        // At most two rounds: a stale entry is evicted once and read again.
        for _ in 0..2 {
            let slot = self.slot(key);
            let mut ran_here = false;
            let (at, result) = slot
                .get_or_init(|| {
                    ran_here = true;
                    let f = fetch.take();
                    async move {
                        let result = match f {
                            Some(f) => f().await.map(Arc::new).map_err(Arc::new),
                            // Unreachable in practice: a slot is only initialised once per call.
                            None => Err(Arc::new(ApiError::InvalidConfig(
                                "cache fetch reused".to_owned(),
                            ))),
                        };
                        (Instant::now(), result)
                    }
                })
                .await
                .clone();
            match result {
                Ok(v) if ran_here || at.elapsed() < max_age => return Ok(v),
                Ok(_) => self.evict(key, &slot),
                Err(e) => {
                    // Shared with whoever waited on this flight, then forgotten.
                    self.evict(key, &slot);
                    return Err(e);
                }
            }
            if fetch.is_none() {
                break;
            }
        }
        Err(Arc::new(ApiError::InvalidConfig(
            "cache entry expired twice in one call".to_owned(),
        )))
    }

    /// Drops the answer for `key`, so the next caller reads again. A read under way still
    /// answers the callers already waiting for it.
    pub fn forget(&self, key: &K) {
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    /// Drops every answer.
    pub fn clear(&self) {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Number of keys held (answers and reads under way).
    pub fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The reads plan-time checks share across resources of one provider process.
pub struct ReadCache {
    vps: SingleFlight<String, Vps>,
    details: SingleFlight<String, VpsDetails>,
    sources: SingleFlight<String, SourceList>,
    /// Every target of an account sees the same sources: held once, not once per target.
    source_pool: SourcePool,
}

impl Default for ReadCache {
    fn default() -> Self {
        ReadCache::new(DEFAULT_TTL)
    }
}

/// Counts only: the answers can be large, and the key type need not print.
impl<K, V> fmt::Debug for SingleFlight<K, V>
where
    K: Eq + Hash + Clone,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SingleFlight")
            .field("ttl", &self.ttl)
            .field("len", &self.len())
            .finish()
    }
}

impl fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadCache")
            .field("vps", &self.vps.len())
            .field("details", &self.details.len())
            .field("sources", &self.sources.len())
            .finish()
    }
}

impl ReadCache {
    /// An empty cache whose answers are reused for `ttl`; [`DEFAULT_TTL`] by default.
    pub fn new(ttl: Duration) -> ReadCache {
        ReadCache {
            vps: SingleFlight::new(ttl),
            details: SingleFlight::new(ttl),
            sources: SingleFlight::new(ttl),
            source_pool: SourcePool::new(),
        }
    }

    /// `GET /api/v2/vps/{id}`, shared.
    pub async fn vps(
        &self,
        client: &Client,
        id: &str,
        age: MaxAge,
    ) -> Result<Arc<Vps>, SharedError> {
        self.vps
            .get_within(&id.to_owned(), age.limit(), || client.get_vps(id))
            .await
    }

    /// `GET /api/v2/vps/{id}/details`, shared.
    pub async fn details(
        &self,
        client: &Client,
        id: &str,
        age: MaxAge,
    ) -> Result<Arc<VpsDetails>, SharedError> {
        self.details
            .get_within(&id.to_owned(), age.limit(), || client.get_vps_details(id))
            .await
    }

    /// `GET /api/v2/vps/{id}/backups/restore-sources`, shared.
    pub async fn restore_sources(
        &self,
        client: &Client,
        target_id: &str,
        age: MaxAge,
    ) -> Result<Arc<SourceList>, SharedError> {
        self.sources
            .get_within(&target_id.to_owned(), age.limit(), || async {
                let sources = client.restore_sources(target_id).await?;
                Ok(self.source_pool.intern(sources))
            })
            .await
    }

    /// A restore was accepted for `target_id`: its gate is closed now and its disk is being
    /// replaced, so what was read about it no longer holds.
    pub fn forget_target(&self, target_id: &str) {
        let key = target_id.to_owned();
        self.vps.forget(&key);
        self.details.forget(&key);
        self.sources.forget(&key);
    }

    /// A backup of `vps_id` was made or deleted: every restore-sources answer may list it (or
    /// no longer should), and the VPS's own gate and quota moved.
    pub fn forget_backups_of(&self, vps_id: &str) {
        let key = vps_id.to_owned();
        self.vps.forget(&key);
        self.details.forget(&key);
        self.sources.clear();
    }
}

/// How old a cached answer a caller accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaxAge {
    /// Plan-time checks and data sources: anything within the cache's TTL.
    Plan,
    /// The checks just before a restore POST: at most [`PRE_POST_MAX_AGE`].
    PrePost,
}

impl MaxAge {
    fn limit(self) -> Duration {
        match self {
            MaxAge::Plan => Duration::MAX,
            MaxAge::PrePost => PRE_POST_MAX_AGE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn boom() -> ApiError {
        ApiError::InvalidConfig("boom".into())
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_read_per_key() {
        let table: Arc<SingleFlight<String, usize>> =
            Arc::new(SingleFlight::new(Duration::from_secs(60)));
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..100 {
            let table = table.clone();
            let calls = calls.clone();
            tasks.push(tokio::spawn(async move {
                let key = format!("target-{}", i % 10);
                table
                    .get(&key, || async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok(i % 10)
                    })
                    .await
            }));
        }
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(*t.await.unwrap().unwrap(), i % 10);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 10);
    }

    #[tokio::test]
    async fn an_error_is_not_kept_for_the_next_caller() {
        let table: SingleFlight<String, u32> = SingleFlight::new(Duration::from_secs(60));
        let key = "t".to_owned();
        let err = table.get(&key, || async { Err(boom()) }).await;
        assert!(err.is_err());
        assert!(table.is_empty(), "a failed read must not stay cached");
        let ok = table.get(&key, || async { Ok(7) }).await.unwrap();
        assert_eq!(*ok, 7);
        // The success is cached: a failing fetch is not even called.
        let again = table.get(&key, || async { Err(boom()) }).await.unwrap();
        assert_eq!(*again, 7);
    }

    #[tokio::test]
    async fn a_caller_wanting_a_recent_answer_reads_again_and_shares_it() {
        let table: SingleFlight<String, u32> = SingleFlight::new(Duration::from_secs(60));
        let key = "t".to_owned();
        assert_eq!(*table.get(&key, || async { Ok(1) }).await.unwrap(), 1);
        let young = Duration::from_secs(5);
        // Just read: young enough, so no new read.
        let same = table
            .get_within(&key, young, || async { Err(boom()) })
            .await;
        assert_eq!(*same.unwrap(), 1);
        tokio::time::pause();
        tokio::time::advance(Duration::from_secs(6)).await;
        let newer = table.get_within(&key, young, || async { Ok(2) }).await;
        assert_eq!(
            *newer.unwrap(),
            2,
            "an answer older than asked is read again"
        );
        // The new answer serves plan-time callers too.
        assert_eq!(*table.get(&key, || async { Ok(3) }).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn forgotten_answers_are_read_again() {
        let table: SingleFlight<String, u32> = SingleFlight::new(Duration::from_secs(60));
        let (a, b) = ("a".to_owned(), "b".to_owned());
        table.get(&a, || async { Ok(1) }).await.unwrap();
        table.get(&b, || async { Ok(1) }).await.unwrap();
        table.forget(&a);
        assert_eq!(*table.get(&a, || async { Ok(2) }).await.unwrap(), 2);
        assert_eq!(*table.get(&b, || async { Ok(2) }).await.unwrap(), 1);
        table.clear();
        assert!(table.is_empty());
        assert_eq!(*table.get(&b, || async { Ok(3) }).await.unwrap(), 3);
    }

    #[tokio::test]
    async fn a_stale_answer_is_read_again() {
        let table: SingleFlight<String, u32> = SingleFlight::new(Duration::from_millis(10));
        let key = "t".to_owned();
        assert_eq!(*table.get(&key, || async { Ok(1) }).await.unwrap(), 1);
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(*table.get(&key, || async { Ok(2) }).await.unwrap(), 2);
    }
}
