//! `HostupProvider`: the provider block, configured once per provider process, handing every
//! resource, data source and action the same [`Shared`] state: one API client (and so one rate
//! limiter), one read cache and one poll schedule per process.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use url::Url;

use super::config::{self, Resolved};
use super::shared::Shared;
use super::vps_backup::list::VpsBackupList;
use super::vps_backup::VpsBackupResource;
use super::vps_restore::VpsRestoreResource;
use crate::api::{ApiKey, Client, ClientConfig, PollSchedule};
use crate::framework::{
    Action, AttributePath, Context, DataSource, Diagnostic, Diagnostics, ListResource, Provider,
    Resource, Schema, Value,
};

/// Environment variable that makes job waits poll at a fixed interval, in milliseconds.
pub const ENV_POLL_INTERVAL_MS: &str = "HOSTUP_POLL_INTERVAL_MS";

/// The fixed schedule `HOSTUP_POLL_INTERVAL_MS` asks for; `Err` names what is wrong.
fn poll_from_env(raw: &str) -> Result<PollSchedule, String> {
    match raw.trim().parse::<u64>() {
        Ok(ms) if (10..=600_000).contains(&ms) => Ok(PollSchedule {
            initial: std::time::Duration::from_millis(ms),
            max: std::time::Duration::from_millis(ms),
            factor: 1.0,
        }),
        _ => Err(format!(
            "{ENV_POLL_INTERVAL_MS} must be a whole number of milliseconds from 10 to 600000, \
             got {raw:?}; the default schedule (1 s growing to 10 s) is used instead."
        )),
    }
}

/// Looks an environment variable up; tests pass a fixed map instead of the process environment.
type EnvLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The HostUp provider.
pub struct HostupProvider {
    shared: Arc<Shared>,
    env: EnvLookup,
}

/// Leaves the environment lookup out: it is a closure, and what it reads includes the API key.
impl fmt::Debug for HostupProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostupProvider")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl Default for HostupProvider {
    fn default() -> Self {
        HostupProvider::new()
    }
}

impl HostupProvider {
    /// A provider reading fallback settings from the process environment.
    pub fn new() -> HostupProvider {
        HostupProvider::with_env(|k| std::env::var(k).ok())
    }

    /// A provider reading fallback settings through `env` (tests pass a fixed map).
    pub fn with_env(
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> HostupProvider {
        HostupProvider {
            shared: Arc::new(Shared::default()),
            env: Box::new(env),
        }
    }

    /// The state this provider shares with its types: client, read cache, poll schedule.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Applies `HOSTUP_POLL_INTERVAL_MS` when set; a bad value is a warning, not a failure.
    fn read_poll_env(&self) -> Diagnostics {
        let mut diags = Diagnostics::new();
        if let Some(raw) = (self.env)(ENV_POLL_INTERVAL_MS) {
            match poll_from_env(&raw) {
                Ok(poll) => self.shared.set_poll_schedule(poll),
                Err(detail) => diags.warning("Ignored HOSTUP_POLL_INTERVAL_MS", detail),
            }
        }
        diags
    }
}

fn client_for(settings: &config::Settings, terraform_version: &str) -> Result<Client, Diagnostics> {
    let endpoint_error = |detail: String| -> Diagnostics {
        Diagnostic::error("Invalid HostUp endpoint", detail)
            .at(AttributePath::attribute("endpoint"))
            .into()
    };
    let url = Url::parse(&settings.endpoint).map_err(|e| {
        endpoint_error(format!(
            "{:?} is not a URL ({e}). Use the API's base URL, for example {}.",
            settings.endpoint,
            config::DEFAULT_ENDPOINT
        ))
    })?;
    let mut cfg = ClientConfig::new(url, ApiKey::new(settings.api_key.clone()));
    if !terraform_version.is_empty() {
        cfg.user_agent_suffix = Some(format!("terraform/{terraform_version}"));
    }
    Client::new(cfg).map_err(|e| endpoint_error(e.to_string()))
}

#[async_trait]
impl Provider for HostupProvider {
    fn type_name(&self) -> &str {
        "hostup"
    }

    fn schema(&self) -> Schema {
        config::schema()
    }

    async fn configure(
        &self,
        _ctx: &Context,
        config: &Value,
        terraform_version: &str,
    ) -> Diagnostics {
        let mut diags = self.read_poll_env();
        diags.extend(match config::resolve(config, &*self.env) {
            Ok(Resolved::Unknown) => {
                self.shared.set_deferred();
                Diagnostics::new()
            }
            Ok(Resolved::Ready(settings)) => match client_for(&settings, terraform_version) {
                Ok(client) => {
                    self.shared.set_client(client);
                    Diagnostics::new()
                }
                Err(d) => d,
            },
            Err(d) => d,
        });
        diags
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![
            Arc::new(VpsRestoreResource::new(self.shared.clone())),
            Arc::new(VpsBackupResource::new(self.shared.clone())),
        ]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        super::data_sources::all(self.shared.clone())
    }

    fn actions(&self) -> Vec<Arc<dyn Action>> {
        super::actions::all(self.shared.clone())
    }

    fn list_resources(&self) -> Vec<Arc<dyn ListResource>> {
        vec![Arc::new(VpsBackupList::new(self.shared.clone()))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(key: &str, endpoint: &str) -> Value {
        Value::object([
            ("api_key", Value::from(key)),
            ("endpoint", Value::from(endpoint)),
        ])
    }

    #[tokio::test]
    async fn plain_http_to_a_remote_host_is_refused_at_endpoint() {
        let p = HostupProvider::with_env(|_| None);
        let diags = p
            .configure(
                &Context::default(),
                &block("k", "http://example.com"),
                "1.15.5",
            )
            .await;
        let d = diags.iter().next().expect("an error");
        assert!(d.is_error());
        assert_eq!(d.attribute, Some(AttributePath::attribute("endpoint")));
        assert!(
            p.shared().client().is_err(),
            "no client after a failed configure"
        );
    }

    #[tokio::test]
    async fn loopback_endpoint_configures_a_client() {
        let p = HostupProvider::with_env(|_| None);
        let diags = p
            .configure(
                &Context::default(),
                &block("k", "http://127.0.0.1:9"),
                "1.0.3",
            )
            .await;
        assert!(diags.is_empty(), "{diags:?}");
        assert!(p.shared().client().unwrap().is_some());
    }

    #[tokio::test]
    async fn unknown_key_defers_api_checks() {
        let p = HostupProvider::with_env(|_| None);
        let cfg = Value::object([("api_key", Value::Unknown), ("endpoint", Value::Null)]);
        assert!(p.configure(&Context::default(), &cfg, "").await.is_empty());
        assert!(p.shared().client().unwrap().is_none());
        assert!(p.shared().require_client().is_err());
    }

    #[tokio::test]
    async fn debug_output_never_shows_the_api_key() {
        let p =
            HostupProvider::with_env(|k| (k == config::ENV_API_KEY).then(|| "env_secret_9".into()));
        let diags = p
            .configure(
                &Context::default(),
                &block("block_secret_7", "http://127.0.0.1:9"),
                "1.9.5",
            )
            .await;
        assert!(diags.is_empty(), "{diags:?}");
        let shown = format!("{p:?} {:?}", VpsRestoreResource::new(p.shared()));
        assert!(shown.contains("Client"), "{shown}");
        assert!(!shown.contains("block_secret_7"), "{shown}");
        assert!(!shown.contains("env_secret_9"), "{shown}");
    }
}
