//! The HostUp data sources: `hostup_vps`, `hostup_vps_restore_sources` and `hostup_vps_backups`,
//! and the one step they share: the id a read is keyed by and the client to read with. What they
//! share with the resources lives beside them: `hostup::attributes` (id checks),
//! `hostup::values` (API answers as values, the backup object, the newest-first order) and
//! `hostup::diagnostics` (API failures as diagnostics).

use std::sync::Arc;

use super::attributes::required_id;
use super::shared::Shared;
use crate::api;
use crate::framework::{DataSource, Diagnostic, ReadResult, Value};

pub mod vps;
pub mod vps_backups;
pub mod vps_restore_sources;

pub use vps::VpsDataSource;
pub use vps_backups::VpsBackupsDataSource;
pub use vps_restore_sources::VpsRestoreSourcesDataSource;

/// Every data source of the provider, sharing the provider's configured client.
pub fn all(shared: Arc<Shared>) -> Vec<Arc<dyn DataSource>> {
    vec![
        Arc::new(VpsDataSource::new(shared.clone())),
        Arc::new(VpsRestoreSourcesDataSource::new(shared.clone())),
        Arc::new(VpsBackupsDataSource::new(shared)),
    ]
}

/// A read that ends with one error and no state.
pub(crate) fn failed(d: Diagnostic) -> ReadResult {
    ReadResult {
        diagnostics: d.into(),
        ..Default::default()
    }
}

/// The id a data source reads by, at `attr`, and the client to read with; or the finished read
/// that says why not.
pub(crate) fn id_and_client(
    shared: &Shared,
    config: &Value,
    attr: &str,
) -> Result<(String, api::Client), ReadResult> {
    let id = required_id(config, attr).map_err(failed)?;
    let client = shared.require_client().map_err(failed)?;
    Ok((id, client))
}
