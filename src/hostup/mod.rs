//! The HostUp provider: its configuration, resources, data sources and actions, built on the
//! framework traits and the HostUp API client.

pub mod actions;
pub mod cache;
pub mod config;
pub mod data_sources;
pub mod provider;
pub mod source_pool;
pub mod vps_backup;
pub mod vps_restore;

pub use provider::{HostupProvider, Shared};
