//! The traits a provider implements: Provider, Resource, DataSource and Action, with the plain
//! request and result types they exchange. Nothing here knows about gRPC or msgpack; the
//! tfplugin5 layer adapts these calls to the wire.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::diagnostics::{Diagnostic, Diagnostics};
use super::identity::IdentitySchema;
use super::path::AttributePath;
use super::schema::Schema;
use super::value::Value;

/// What every call gets besides its data: the token that Terraform's `Stop` (Ctrl-C) cancels.
/// Long waits select on `cancelled()` and return what they have.
#[derive(Clone, Debug, Default)]
pub struct Context {
    cancel: CancellationToken,
}

impl Context {
    /// A context whose calls stop when `cancel` is cancelled.
    pub fn new(cancel: CancellationToken) -> Context {
        Context { cancel }
    }

    /// The token itself, for code that hands it on (job waits).
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Whether Terraform has asked the provider to stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Resolves once Terraform has asked the provider to stop.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }
}

/// A provider: its own configuration schema and the types it serves.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The provider's local name, the prefix of its type names (`hostup`).
    fn type_name(&self) -> &str;

    /// The schema of the `provider` block.
    fn schema(&self) -> Schema;

    /// Static checks of the provider block; the configuration may hold unknown values.
    async fn validate_config(&self, _ctx: &Context, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    /// Receives the provider block before any resource operation of a plan or apply.
    async fn configure(
        &self,
        ctx: &Context,
        config: &Value,
        terraform_version: &str,
    ) -> Diagnostics;

    /// Every managed resource type the provider serves.
    fn resources(&self) -> Vec<Arc<dyn Resource>>;

    /// Every data source type the provider serves.
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>>;

    /// Every action type the provider serves; none by default.
    fn actions(&self) -> Vec<Arc<dyn Action>> {
        Vec::new()
    }

    /// Every list resource type the provider serves (`terraform query`); none by default.
    fn list_resources(&self) -> Vec<Arc<dyn ListResource>> {
        Vec::new()
    }
}

/// What Terraform proposes for a create or an update.
#[derive(Clone, Debug)]
pub struct PlanRequest {
    /// Null on create.
    pub prior: Value,
    /// The configuration; may hold unknown values.
    pub config: Value,
    /// Terraform's merge of config and prior state.
    pub proposed: Value,
    /// The private bytes stored with the prior state; empty on create.
    pub prior_private: Vec<u8>,
}

impl PlanRequest {
    /// Whether this plans a create (no prior state).
    pub fn is_create(&self) -> bool {
        self.prior.is_null()
    }
}

/// A plan under construction: the framework fills it from the schema, the resource adjusts it.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The planned value; unknown where apply decides.
    pub planned: Value,
    /// Attributes whose change makes this plan a replacement (destroy, then create).
    pub requires_replace: Vec<AttributePath>,
    /// Private bytes Terraform hands to apply; opaque to Terraform.
    pub private: Vec<u8>,
    /// Problems found while planning; an error rejects the plan.
    pub diagnostics: Diagnostics,
}

/// The inputs of a create, update or delete.
#[derive(Clone, Debug)]
pub struct ApplyRequest {
    /// Null on create.
    pub prior: Value,
    /// Null on delete; otherwise the plan, where unknown values are what apply must fill in.
    pub planned: Value,
    /// The configuration; null on delete.
    pub config: Value,
    /// The private bytes of the plan (create, update) or of the prior state (delete).
    pub private: Vec<u8>,
}

/// The outcome of a create or update. A non-null state with errors is still recorded (a failed
/// create is then tainted), which is how an interrupted operation keeps its record.
#[derive(Clone, Debug, Default)]
pub struct ApplyResult {
    /// The state to record; null when nothing exists.
    pub new_state: Value,
    /// Private bytes Terraform stores with the state and hands back on the next read.
    pub private: Vec<u8>,
    /// What the operation has to say; errors fail the apply.
    pub diagnostics: Diagnostics,
}

impl ApplyResult {
    /// A success: `new_state` recorded, no private data, no diagnostics.
    pub fn ok(new_state: Value) -> ApplyResult {
        ApplyResult {
            new_state,
            ..Default::default()
        }
    }

    /// Nothing to record, only diagnostics.
    pub fn failed(diagnostics: impl Into<Diagnostics>) -> ApplyResult {
        ApplyResult {
            diagnostics: diagnostics.into(),
            ..Default::default()
        }
    }

    /// An update that changes only what Terraform stores (timeouts, guards): the planned values,
    /// with any value still unknown taken from the prior state, and the private data kept.
    pub fn recorded_in_state(req: ApplyRequest) -> ApplyResult {
        let mut state = req.planned.clone();
        if let (Some(planned), Some(prior)) = (req.planned.as_entries(), req.prior.as_entries()) {
            for (name, value) in planned {
                if value.is_unknown() {
                    state.set(name, prior.get(name).cloned().unwrap_or(Value::Null));
                }
            }
        }
        ApplyResult {
            new_state: state,
            private: req.private,
            diagnostics: Diagnostics::new(),
        }
    }
}

/// The outcome of a refresh. A null state means the object is gone.
#[derive(Clone, Debug, Default)]
pub struct ReadResult {
    /// The refreshed state; null when the object is gone.
    pub new_state: Value,
    /// Private bytes stored with the state, usually the ones read received.
    pub private: Vec<u8>,
    /// What the refresh has to say; errors fail the plan.
    pub diagnostics: Diagnostics,
}

impl ReadResult {
    /// A refresh that keeps (or updates) the object: its state, its private data, and what the
    /// read had to say.
    pub fn kept(new_state: Value, private: Vec<u8>, diagnostics: Diagnostics) -> ReadResult {
        ReadResult {
            new_state,
            private,
            diagnostics,
        }
    }
}

/// The outcome of an import: the state to record before Terraform refreshes it.
#[derive(Clone, Debug, Default)]
pub struct ImportResult {
    /// The imported object's state: at least its id; the refresh after import fills in the rest.
    pub state: Value,
    /// Private bytes stored with the imported state.
    pub private: Vec<u8>,
    /// Why the import failed, or warnings about it.
    pub diagnostics: Diagnostics,
}

/// A managed resource type.
#[async_trait]
pub trait Resource: Send + Sync + 'static {
    /// The full type name, `hostup_vps_restore`.
    fn type_name(&self) -> &str;

    /// The resource's schema; its version is the state version.
    fn schema(&self) -> Schema;

    /// Static checks of a configuration that may hold unknown values. No API calls.
    async fn validate(&self, _ctx: &Context, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    /// Adjusts the plan the framework derived from the schema, for creates and updates.
    async fn modify_plan(&self, _ctx: &Context, _req: &PlanRequest, _plan: &mut Plan) {}

    /// Vetoes or annotates a destroy; the planned state stays null.
    async fn plan_destroy(&self, _ctx: &Context, _prior: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    /// Creates the object in `req.planned`; a state recorded with errors taints the resource.
    async fn create(&self, ctx: &Context, req: ApplyRequest) -> ApplyResult;

    /// Refreshes `state`; a null `new_state` removes the object from state.
    async fn read(&self, ctx: &Context, state: Value, private: Vec<u8>) -> ReadResult;

    /// Updates the object in place from `req.prior` to `req.planned`.
    async fn update(&self, ctx: &Context, req: ApplyRequest) -> ApplyResult;

    /// Removes the object. Errors keep it in state.
    async fn delete(&self, ctx: &Context, req: ApplyRequest) -> Diagnostics;

    /// Takes an existing object by `id` into state; unsupported by default.
    async fn import(&self, _ctx: &Context, _id: &str) -> ImportResult {
        ImportResult {
            diagnostics: Diagnostic::error(
                "Import is not supported",
                format!("The resource type {} cannot be imported.", self.type_name()),
            )
            .into(),
            ..Default::default()
        }
    }

    /// The resource's identity schema (Terraform and OpenTofu 1.12+); `None` (the default) when
    /// it declares no identity.
    fn identity_schema(&self) -> Option<IdentitySchema> {
        None
    }

    /// The identity of the object `state` describes: an object of the identity schema's type,
    /// null when `state` is null. Only called when [`Resource::identity_schema`] is `Some`.
    fn identity(&self, _state: &Value) -> Value {
        Value::Null
    }

    /// The import id an `import` block's `identity = { … }` names; an import by identity then
    /// runs [`Resource::import`] with it, so both forms give the same state. The error points
    /// at the identity attribute at fault.
    fn import_id(&self, _identity: &Value) -> Result<String, Diagnostic> {
        Err(Diagnostic::error(
            "Import by identity is not supported",
            format!(
                "The resource type {} cannot be imported by identity.",
                self.type_name()
            ),
        ))
    }

    /// Rewrites state JSON written under an older schema `version` into the current shape.
    /// The default accepts the current version only.
    fn upgrade_state(
        &self,
        version: i64,
        state: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        let current = self.schema().version;
        if version == current {
            Ok(state)
        } else {
            Err(Diagnostic::error(
                "Unsupported state version",
                format!(
                    "The state of this {} was written with schema version {version}; this provider \
                     reads version {current} only.",
                    self.type_name()
                ),
            )
            .into())
        }
    }
}

/// A data source type.
#[async_trait]
pub trait DataSource: Send + Sync + 'static {
    /// The full type name, `hostup_vps` for instance.
    fn type_name(&self) -> &str;

    /// The data source's schema.
    fn schema(&self) -> Schema;

    /// Static checks of a configuration that may hold unknown values. No API calls.
    async fn validate(&self, _ctx: &Context, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    /// Fills the computed attributes of `config`; the result must be wholly known.
    async fn read(&self, ctx: &Context, config: Value) -> ReadResult;
}

/// What `terraform query` asks a list resource for.
#[derive(Clone, Debug)]
pub struct ListRequest {
    /// The `config { … }` block of the `list` block, under the list resource's schema.
    pub config: Value,
    /// Whether each result must carry the whole resource object (`include_resource = true`,
    /// and always for `-generate-config-out`).
    pub include_resource: bool,
    /// At most this many results are wanted; the stream is closed once they are sent.
    pub limit: u64,
}

/// One object a list resource found.
#[derive(Clone, Debug)]
pub struct Listed {
    /// The object as the managed resource's state would record it (its identity is derived from
    /// it); sent whole only when the request includes resources.
    pub state: Value,
    /// A line for people: what the object is.
    pub display_name: String,
}

/// Where a list resource sends what it finds. A send that fails means the CLI has all it asked
/// for (the limit) or went away: the list stops there.
pub type ListSender = mpsc::Sender<Listed>;

/// A list resource (Terraform 1.14+ `terraform query`): finds existing objects of the managed
/// resource type of the same name, so they can be imported.
#[async_trait]
pub trait ListResource: Send + Sync + 'static {
    /// The type name, the same as the managed resource's (`hostup_vps_backup`).
    fn type_name(&self) -> &str;

    /// The schema of the `config { … }` block.
    fn schema(&self) -> Schema;

    /// Static checks of the `config` block; it may hold unknown values. No API calls.
    async fn validate(&self, _ctx: &Context, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    /// Sends each object found to `found`, in a stable order, and returns the problems met;
    /// stops early when a send fails or Terraform stops the provider.
    async fn list(&self, ctx: &Context, req: ListRequest, found: ListSender) -> Diagnostics;
}

/// Progress lines an action sends while it runs; Terraform prints each as it arrives.
pub type ProgressSender = mpsc::Sender<String>;

/// An action type (Terraform 1.14+): an operation run on demand or from a lifecycle trigger.
#[async_trait]
pub trait Action: Send + Sync + 'static {
    /// The full type name, `hostup_vps_restore` for instance.
    fn type_name(&self) -> &str;

    /// The action's schema.
    fn schema(&self) -> Schema;

    /// Static checks of a configuration that may hold unknown values. No API calls.
    async fn validate(&self, _ctx: &Context, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    /// Checks before the run; the configuration may hold unknown values.
    async fn plan(&self, _ctx: &Context, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    /// Runs the action, sending progress lines, and returns its final diagnostics.
    async fn invoke(&self, ctx: &Context, config: Value, progress: ProgressSender) -> Diagnostics;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_in_state_update_keeps_prior_values_for_what_the_plan_left_unknown() {
        let prior = Value::object([("id", Value::from("job_1")), ("note", Value::from("a"))]);
        let planned = Value::object([("id", Value::Unknown), ("note", Value::from("b"))]);
        let r = ApplyResult::recorded_in_state(ApplyRequest {
            prior,
            planned,
            config: Value::Null,
            private: b"poll".to_vec(),
        });
        assert_eq!(r.new_state.get_str("id"), Some("job_1"));
        assert_eq!(r.new_state.get_str("note"), Some("b"));
        assert_eq!(r.private, b"poll");
        assert!(r.diagnostics.is_empty());
    }
}
