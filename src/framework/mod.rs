//! The protocol-free vocabulary of a provider: values with explicit unknown and null, types,
//! schemas with declared plan behaviour, attribute paths, diagnostics, and the traits a provider,
//! its resources, data sources and actions implement, and the engine that plans and applies a
//! resource change with them (`server`). Nothing here knows the wire format.

pub mod diagnostics;
pub mod identity;
pub mod path;
pub mod plan;
pub mod provider;
pub mod schema;
pub mod server;
pub mod timeouts;
pub mod types;
pub mod value;

pub use diagnostics::{Diagnostic, Diagnostics, Severity};
pub use identity::{IdentityAttribute, IdentitySchema};
pub use path::{AttributePath, PathStep};
pub use provider::{
    Action, ApplyRequest, ApplyResult, Context, DataSource, ImportResult, ListRequest,
    ListResource, ListSender, Listed, Plan, PlanRequest, ProgressSender, Provider, ReadResult,
    Resource,
};
pub use schema::{Attribute, Block, NestedBlock, Nesting, Presence, Schema};
pub use types::Type;
pub use value::{Number, Value};
