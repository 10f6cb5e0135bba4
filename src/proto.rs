//! Generated protobuf and gRPC code, behind one door: only `plugin` and `tfplugin5` use it.
//! Each module includes what `build.rs` compiled from the `.proto` file of that package.
#![allow(clippy::all, missing_docs, unreachable_pub, dead_code)]

pub mod tfplugin5 {
    tonic::include_proto!("tfplugin5");
}

/// go-plugin's auxiliary services (`plugin.GRPCController`, `plugin.GRPCStdio`).
pub mod plugin {
    tonic::include_proto!("plugin");
}
