//! The HostUp provider: its configuration, resources, data sources and actions, built on the
//! framework traits and the HostUp API client.

pub mod config;
pub mod data_sources;
pub mod provider;

pub use provider::{HostupProvider, Shared};
