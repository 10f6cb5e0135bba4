//! terraform-provider-hostup: a Terraform / OpenTofu provider for the HostUp VPS API, speaking
//! plugin protocol 5 over gRPC.
//!
//! Layers, each importing only from the ones below it:
//! - `plugin`: the go-plugin transport (cookie, handshake line, auto-mTLS, controller, health);
//! - `tfplugin5`: the Provider gRPC service and the DynamicValue codec;
//! - `framework`: values, schemas, diagnostics and the provider traits, free of protocol types;
//! - `hostup`: the HostUp provider, its resources, data sources and actions;
//! - `api`: the HostUp REST client, which knows nothing about Terraform.

pub mod api;
mod entry;
pub mod framework;
pub mod hostup;
pub mod logging;
pub mod plugin;
mod proto;
pub mod tfplugin5;

pub use entry::serve_main;

/// The provider's version, reported by `--version` and sent in the API client's User-Agent:
/// `HOSTUP_PROVIDER_VERSION` when the build sets it (`make release VERSION=…` does), else the
/// `version` in Cargo.toml.
pub const VERSION: &str = match option_env!("HOSTUP_PROVIDER_VERSION") {
    Some(v) if !v.is_empty() => v,
    _ => env!("CARGO_PKG_VERSION"),
};
