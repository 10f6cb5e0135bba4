//! The HostUp provider: its configuration, resources, data sources and actions, built on the
//! framework traits and the HostUp API client.

pub mod actions;
pub mod attributes;
pub mod cache;
pub mod config;
pub mod data_sources;
pub mod diagnostics;
pub mod job;
pub mod power;
pub mod provider;
pub mod replaced;
pub mod shared;
pub mod source_pool;
pub mod values;
pub mod vps_backup;
pub mod vps_restore;

pub use provider::HostupProvider;
pub use shared::Shared;
