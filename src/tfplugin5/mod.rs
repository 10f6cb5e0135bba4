//! The tfplugin5 Provider service: the gRPC adapter between Terraform's wire messages and
//! `crate::framework`, with the conversions and the DynamicValue codec it needs.

pub mod convert;
