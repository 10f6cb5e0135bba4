//! The state a configured provider shares with every resource, data source and action it
//! serves: the API client (or the fact that the provider's settings are not known yet), the
//! per-process read cache, and the schedule job waits poll with. A leaf module: the provider
//! fills it in, the types read it, and neither imports the other for it.

use std::sync::RwLock;

use super::cache::ReadCache;
use crate::api::{Client, PollSchedule};
use crate::framework::Diagnostic;

/// What `configure` produced.
#[derive(Clone, Debug)]
enum Configured {
    Ready(Client),
    /// Settings unknown until apply: API checks are deferred.
    Deferred,
}

/// State shared by the provider and every resource and data source it serves.
#[derive(Debug, Default)]
pub struct Shared {
    configured: RwLock<Option<Configured>>,
    /// Plan-time reads shared by every resource of this process (one read per target).
    cache: ReadCache,
    /// How job waits poll; `HOSTUP_POLL_INTERVAL_MS` sets a fixed interval (tests, debugging).
    poll: RwLock<PollSchedule>,
}

impl Shared {
    /// The API client. `Ok(None)` when the provider's settings are not known yet (plan-time checks
    /// are then skipped); an error when the provider was never configured.
    pub fn client(&self) -> Result<Option<Client>, Diagnostic> {
        match &*self.configured.read().unwrap_or_else(|e| e.into_inner()) {
            Some(Configured::Ready(c)) => Ok(Some(c.clone())),
            Some(Configured::Deferred) => Ok(None),
            None => Err(Diagnostic::error(
                "Provider not configured",
                "The hostup provider was used before Terraform configured it. This is a bug in \
                 the provider or in Terraform; please report it.",
            )),
        }
    }

    /// Like `client`, for operations that cannot go on without the API (apply, read).
    pub fn require_client(&self) -> Result<Client, Diagnostic> {
        self.client()?.ok_or_else(|| {
            Diagnostic::error(
                "Provider settings unknown",
                "The hostup provider's api_key or endpoint is still unknown; it must be known \
                 before resources can be applied or read.",
            )
        })
    }

    fn set(&self, c: Configured) {
        *self.configured.write().unwrap_or_else(|e| e.into_inner()) = Some(c);
    }

    /// Configured with a ready client (also for tests that drive resources without Terraform).
    pub fn set_client(&self, client: Client) {
        self.set(Configured::Ready(client));
    }

    /// Configured, but with settings Terraform will know only at apply: API checks are deferred.
    pub fn set_deferred(&self) {
        self.set(Configured::Deferred);
    }

    /// The process-wide plan-time read cache.
    pub fn cache(&self) -> &ReadCache {
        &self.cache
    }

    /// The schedule job waits poll with.
    pub fn poll_schedule(&self) -> PollSchedule {
        self.poll.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the schedule job waits poll with (`HOSTUP_POLL_INTERVAL_MS`).
    pub fn set_poll_schedule(&self, poll: PollSchedule) {
        *self.poll.write().unwrap_or_else(|e| e.into_inner()) = poll;
    }
}
