//! The tfplugin5 protocol layer: the Provider gRPC service and the DynamicValue codec.

pub mod codec;
