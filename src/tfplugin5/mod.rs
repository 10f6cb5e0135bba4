//! The tfplugin5 protocol layer: the Provider gRPC service that adapts Terraform's wire messages
//! to `crate::framework`, the schema/diagnostic/path conversions, and the DynamicValue codec.

pub mod codec;
mod convert;
mod identity;
mod list;
pub mod server;

pub use server::ProviderService;

#[cfg(test)]
mod service_tests;
