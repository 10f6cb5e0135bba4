//! The HostUp actions (Terraform 1.14+): operations run with `terraform apply -invoke=…` or from
//! a resource's `action_trigger`. Each action lives in its own module and shares the provider's
//! configured client; a new one is a module plus a line in `all`.

use std::sync::Arc;
use std::time::Duration;

use super::shared::Shared;
use crate::framework::timeouts::parse_duration;
use crate::framework::{Action, ProgressSender, Value};

pub mod vps_power;
pub mod vps_restore;

pub use vps_power::VpsPowerAction;
pub use vps_restore::VpsRestoreAction;

/// Every action of the provider, sharing the provider's configured client.
pub fn all(shared: Arc<Shared>) -> Vec<Arc<dyn Action>> {
    vec![
        Arc::new(VpsRestoreAction::new(shared.clone())),
        Arc::new(VpsPowerAction::new(shared)),
    ]
}

/// The attribute of every action that sets how long it waits, as a duration such as `30m`.
pub const TIMEOUT: &str = "timeout";

/// The configured wait limit (`default` when unset or still unknown); `Err` says what is wrong.
pub(crate) fn timeout_of(config: &Value, default: Duration) -> Result<Duration, String> {
    match config.get(TIMEOUT).and_then(Value::as_str) {
        None => Ok(default),
        Some(raw) => match parse_duration(raw)? {
            d if d.is_zero() => Err(format!(
                "timeout {raw:?} is zero; the action could never be waited for"
            )),
            d => Ok(d),
        },
    }
}

/// Queues a progress line of the action `type_name` without ever holding up its wait; a line
/// lost to a full queue is only cosmetic.
pub(crate) fn say(progress: &ProgressSender, type_name: &str, line: String) {
    if let Err(e) = progress.try_send(line) {
        tracing::debug!(error = %e, action = type_name, "progress line dropped");
    }
}
