//! Integration tests that need no Terraform: the API client against mock servers and
//! `hostup-sim`, the provider's resources and data sources through the framework's engine
//! (`provider` configures them), the simulator itself, the codec and the plugin transport. One
//! test binary, one module per subject; `cargo test --test integration vps_restore::` runs one.

mod api_client;
mod api_sim;
mod codec;
mod data_sources;
mod plugin_env_props;
mod poll_budget;
mod provider;
mod restore_start;
mod silent_api;
mod sim;
mod transport;
mod vps_backup;
mod vps_restore;
