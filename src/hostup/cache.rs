//! A per-process, single-flight cache of the HostUp reads that plan-time checks repeat: the VPS
//! summary, its details and its restore sources. Terraform plans many resources in parallel; when
//! a hundred restores name ten targets, each distinct read goes to HostUp once and every other
//! caller waits for that one answer. A failed read is handed to the callers already waiting for
//! it and then dropped, so the next caller asks HostUp again. Successful answers live for a
//! bounded time, because a provider process normally serves a single plan or apply. Apply-time
//! re-checks bypass this cache on purpose: they must see the world as it is now.

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

    /// The value for `key`: a fresh cached answer, the answer of a read already under way, or the
    /// answer of `fetch`, run once for all concurrent callers.
    pub async fn get<F, Fut>(&self, key: &K, fetch: F) -> Result<Arc<V>, SharedError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, ApiError>>,
    {
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
                Ok(v) if ran_here || at.elapsed() < self.ttl => return Ok(v),
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

    /// Number of keys held (answers and reads under way).
    pub fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

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
    pub fn new(ttl: Duration) -> ReadCache {
        ReadCache {
            vps: SingleFlight::new(ttl),
            details: SingleFlight::new(ttl),
            sources: SingleFlight::new(ttl),
            source_pool: SourcePool::new(),
        }
    }

    /// `GET /api/v2/vps/{id}`, shared.
    pub async fn vps(&self, client: &Client, id: &str) -> Result<Arc<Vps>, SharedError> {
        self.vps.get(&id.to_owned(), || client.get_vps(id)).await
    }

    /// `GET /api/v2/vps/{id}/details`, shared.
    pub async fn details(&self, client: &Client, id: &str) -> Result<Arc<VpsDetails>, SharedError> {
        self.details
            .get(&id.to_owned(), || client.get_vps_details(id))
            .await
    }

    /// `GET /api/v2/vps/{id}/backups/restore-sources`, shared.
    pub async fn restore_sources(
        &self,
        client: &Client,
        target_id: &str,
    ) -> Result<Arc<SourceList>, SharedError> {
        self.sources
            .get(&target_id.to_owned(), || async {
                let sources = client.restore_sources(target_id).await?;
                Ok(self.source_pool.intern(sources))
            })
            .await
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
    async fn a_stale_answer_is_read_again() {
        let table: SingleFlight<String, u32> = SingleFlight::new(Duration::from_millis(10));
        let key = "t".to_owned();
        assert_eq!(*table.get(&key, || async { Ok(1) }).await.unwrap(), 1);
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(*table.get(&key, || async { Ok(2) }).await.unwrap(), 2);
    }
}
