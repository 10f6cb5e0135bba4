//! The HostUp actions (Terraform 1.14+): operations run with `terraform apply -invoke=…` or from
//! a resource's `action_trigger`. Each action lives in its own module and shares the provider's
//! configured client; a new one is a module plus a line in `all`.

use std::sync::Arc;

use super::shared::Shared;
use crate::framework::Action;

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
