//! The tfplugin5 `Provider` gRPC service: each RPC decodes its request, finds the resource, data
//! source or action by type name, calls the framework (its traits, or its plan/apply engine in
//! `framework::server`), and encodes the answer. It decides nothing about a change itself. Every
//! failure on the way (unknown type, undecodable value) becomes an error diagnostic in the
//! response, never a panic or a bare gRPC status, because Terraform shows diagnostics to the user
//! and only logs statuses. Schemas are built once, when the service is created.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::framework::server::{apply_resource_change, plan_resource_change};
use crate::framework::{
    Action, ApplyRequest, Context, DataSource, Diagnostic, Diagnostics, ListRequest, ListResource,
    PlanRequest, Provider, Resource, Schema, Type, Value,
};
use crate::proto::tfplugin5 as pb;
use crate::tfplugin5::codec;
use crate::tfplugin5::convert::{diagnostics_to_proto, path_to_proto, schema_to_proto};
use crate::tfplugin5::identity::Identities;
use crate::tfplugin5::list::{self, Found, LIST_BUFFER};

use pb::provider_server::{Provider as ProviderRpc, ProviderServer};

/// Terraform sends whole configurations and states in one message; tonic's 4 MiB default is too
/// small for large ones.
const MAX_MESSAGE_SIZE: usize = 256 * 1024 * 1024;

/// Progress lines an action may queue before it waits for the stream to catch up.
const ACTION_PROGRESS_BUFFER: usize = 16;

type EventStream<T> = std::pin::Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send>>;

/// A registered type with its schema, built once.
struct Registered<T: ?Sized> {
    handler: Arc<T>,
    schema: Schema,
    value_type: Type,
    wire_schema: pb::Schema,
}

impl<T: ?Sized> Registered<T> {
    fn new(handler: Arc<T>, schema: Schema) -> Registered<T> {
        Registered {
            handler,
            value_type: schema.value_type(),
            wire_schema: schema_to_proto(&schema),
            schema,
        }
    }
}

/// The types of one kind (resources, data sources or actions) by type name.
struct Registry<T: ?Sized> {
    /// "resource", "data source", "action": how errors name the kind.
    kind: &'static str,
    by_name: HashMap<String, Registered<T>>,
}

impl<T: ?Sized> Registry<T> {
    /// Indexes `handlers` by the name `describe` gives; a second handler of one name is reported
    /// in `diagnostics` and left out.
    fn new(
        kind: &'static str,
        handlers: Vec<Arc<T>>,
        describe: impl Fn(&T) -> (String, Schema),
        diagnostics: &mut Diagnostics,
    ) -> Registry<T> {
        let mut by_name = HashMap::new();
        for handler in handlers {
            let (name, schema) = describe(&handler);
            if by_name.contains_key(&name) {
                diagnostics.error(
                    format!("Duplicate {kind} type"),
                    format!("The {kind} type {name} is registered twice; the first one is used."),
                );
                continue;
            }
            by_name.insert(name, Registered::new(handler, schema));
        }
        Registry { kind, by_name }
    }

    /// The type `type_name` of provider `provider`, or the error that it has none.
    fn get(&self, provider: &str, type_name: &str) -> Result<&Registered<T>, Diagnostic> {
        self.by_name.get(type_name).ok_or_else(|| {
            let kind = self.kind;
            Diagnostic::error(
                format!("Unknown {kind} type"),
                format!("The provider {provider} has no {kind} type {type_name:?}."),
            )
        })
    }

    /// The type `type_name` and the request's values decoded against its schema; each value is
    /// named (`"prior state"`) so a malformed one is reported as such.
    fn get_decoded<const N: usize>(
        &self,
        provider: &str,
        type_name: &str,
        values: [(Option<&pb::DynamicValue>, &str); N],
    ) -> Result<(&Registered<T>, [Value; N]), Diagnostic> {
        let r = self.get(provider, type_name)?;
        let mut first_error = None;
        let decoded = values.map(|(dv, what)| {
            decode(dv, &r.value_type, what).unwrap_or_else(|d| {
                first_error.get_or_insert(d);
                Value::Null
            })
        });
        match first_error {
            Some(d) => Err(d),
            None => Ok((r, decoded)),
        }
    }

    fn wire_schemas(&self) -> HashMap<String, pb::Schema> {
        self.by_name
            .iter()
            .map(|(k, r)| (k.clone(), r.wire_schema.clone()))
            .collect()
    }

    fn sorted_names(&self) -> impl Iterator<Item = String> {
        let mut names: Vec<String> = self.by_name.keys().cloned().collect();
        names.sort();
        names.into_iter()
    }
}

/// The gRPC face of a framework `Provider`. Cheap to share: every RPC takes `&self`, and RPCs run
/// concurrently.
pub struct ProviderService {
    provider: Arc<dyn Provider>,
    provider_type: Type,
    provider_schema: pb::Schema,
    resources: Registry<dyn Resource>,
    data_sources: Registry<dyn DataSource>,
    actions: Registry<dyn Action>,
    list_resources: Registry<dyn ListResource>,
    /// The identity schemas of the resource types that declare one.
    identities: Arc<Identities>,
    /// Problems found while registering types (duplicate names), reported by GetSchema.
    schema_diagnostics: Diagnostics,
    /// The token handed to every call; `Stop` cancels it for good.
    stop: CancellationToken,
}

/// The registered type names, not the handlers (trait objects) or the wire schemas.
impl fmt::Debug for ProviderService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderService")
            .field("provider_type", &self.provider_type)
            .field(
                "resources",
                &self.resources.sorted_names().collect::<Vec<_>>(),
            )
            .field(
                "data_sources",
                &self.data_sources.sorted_names().collect::<Vec<_>>(),
            )
            .field("actions", &self.actions.sorted_names().collect::<Vec<_>>())
            .field(
                "list_resources",
                &self.list_resources.sorted_names().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl ProviderService {
    /// Builds every schema once and indexes resources, data sources and actions by type name.
    pub fn new(provider: Arc<dyn Provider>) -> ProviderService {
        let provider_schema = provider.schema();
        let mut schema_diagnostics = Diagnostics::new();
        let all_resources = provider.resources();
        let identities = Arc::new(Identities::new(&all_resources));
        let resources = Registry::new(
            "resource",
            all_resources,
            |r| (r.type_name().to_string(), r.schema()),
            &mut schema_diagnostics,
        );
        let data_sources = Registry::new(
            "data source",
            provider.data_sources(),
            |d| (d.type_name().to_string(), d.schema()),
            &mut schema_diagnostics,
        );
        let actions = Registry::new(
            "action",
            provider.actions(),
            |a| (a.type_name().to_string(), a.schema()),
            &mut schema_diagnostics,
        );
        let list_resources = Registry::new(
            "list resource",
            provider.list_resources(),
            |l| (l.type_name().to_string(), l.schema()),
            &mut schema_diagnostics,
        );
        ProviderService {
            provider_type: provider_schema.value_type(),
            provider_schema: schema_to_proto(&provider_schema),
            provider,
            resources,
            data_sources,
            actions,
            list_resources,
            identities,
            schema_diagnostics,
            stop: CancellationToken::new(),
        }
    }

    /// The tonic server for this service, with message limits fit for large states.
    pub fn into_server(self) -> ProviderServer<ProviderService> {
        ProviderServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE)
    }

    /// Cancels the context of every call, as Terraform's `Stop` (Ctrl-C) asks. The cancellation
    /// stays: Terraform prints "Creating..." and sends `Stop` before the apply RPC it announced
    /// may have reached us, so a call that starts after `Stop` must see it too. Terraform never
    /// starts new work on a provider process it has stopped; it only finishes and shuts it down.
    pub fn cancel_in_flight(&self) {
        self.stop.cancel();
    }

    fn context(&self) -> Context {
        Context::new(self.stop.clone())
    }

    /// Stored JSON → the resource's upgrader → a value of the current schema → msgpack.
    fn upgrade(
        &self,
        req: &pb::upgrade_resource_state::Request,
    ) -> Result<pb::DynamicValue, Failure> {
        let r = self.resources.get(self.provider_name(), &req.type_name)?;
        let json = stored_state_json(req.raw_state.as_ref(), &req.type_name)?;
        let upgraded = r
            .handler
            .upgrade_state(req.version, json)
            .map_err(Failure::Many)?;
        let bytes = serde_json::to_vec(&upgraded).map_err(|e| {
            Diagnostic::error(
                "Invalid upgraded state",
                format!(
                    "The upgraded state of this {} could not be serialized: {e}",
                    req.type_name
                ),
            )
        })?;
        let value = codec::decode_state_json(&bytes, &r.value_type).map_err(|e| {
            codec_diagnostic(
                "Stored state does not match the schema".into(),
                &format!("stored state of this {}", req.type_name),
                "read with the current schema",
                e,
            )
        })?;
        Ok(encode(&value, &r.value_type, "upgraded state")?)
    }

    /// The identity of the object `state` describes, for a response; a failure to encode it is
    /// recorded in `diagnostics`.
    fn identity_into(
        &self,
        resource: &dyn Resource,
        state: &Value,
        diagnostics: &mut Diagnostics,
    ) -> Option<pb::ResourceIdentityData> {
        self.identities
            .of_state(resource, state)
            .unwrap_or_else(|d| {
                diagnostics.push(d);
                None
            })
    }

    fn provider_name(&self) -> &str {
        self.provider.type_name()
    }
}

/// Decodes a DynamicValue: msgpack when present, else JSON, else null (Terraform's own rule).
/// `what` names the field in the error, so the user sees which value was malformed.
pub(crate) fn decode(
    dv: Option<&pb::DynamicValue>,
    ty: &Type,
    what: &str,
) -> Result<Value, Diagnostic> {
    let result = match dv {
        Some(dv) if !dv.msgpack.is_empty() => codec::decode_msgpack(&dv.msgpack, ty),
        Some(dv) if !dv.json.is_empty() => codec::decode_json(&dv.json, ty),
        _ => return Ok(Value::Null),
    };
    result.map_err(|e| codec_diagnostic(format!("Invalid {what}"), what, "decoded", e))
}

/// Encodes a value as msgpack, the form Terraform reads first.
pub(crate) fn encode(value: &Value, ty: &Type, what: &str) -> Result<pb::DynamicValue, Diagnostic> {
    codec::encode_msgpack(value, ty)
        .map(|msgpack| pb::DynamicValue {
            msgpack,
            json: Vec::new(),
        })
        .map_err(|e| {
            codec_diagnostic(
                format!("Provider produced an invalid {what}"),
                what,
                "encoded",
                e,
            )
        })
}

fn codec_diagnostic(
    summary: String,
    what: &str,
    verb: &str,
    error: codec::CodecError,
) -> Diagnostic {
    let detail = format!("The {what} could not be {verb}: {error}");
    if error.path.is_root() {
        Diagnostic::error(summary, detail)
    } else {
        Diagnostic::error(summary, detail).at(error.path)
    }
}

/// Encodes `value`, or records why it could not be and answers nothing.
fn encode_into(
    value: &Value,
    ty: &Type,
    what: &str,
    diagnostics: &mut Diagnostics,
) -> Option<pb::DynamicValue> {
    match encode(value, ty, what) {
        Ok(dv) => Some(dv),
        Err(d) => {
            diagnostics.push(d);
            None
        }
    }
}

fn wire(diagnostics: Diagnostics) -> Vec<pb::Diagnostic> {
    diagnostics_to_proto(&diagnostics)
}

fn wire_one(diagnostic: Diagnostic) -> Vec<pb::Diagnostic> {
    wire(diagnostic.into())
}

fn reply<T>(message: T) -> Result<Response<T>, Status> {
    Ok(Response::new(message))
}

/// The value of an `Ok`; an `Err` answers the call at once with that one diagnostic, every other
/// field of the response type `R` at its default (no state, no schema: Terraform shows the error).
macro_rules! or_reply {
    ($result:expr, $response:ident) => {
        match $result {
            Ok(value) => value,
            Err(d) => {
                return reply($response {
                    diagnostics: wire_one(d),
                    ..Default::default()
                })
            }
        }
    };
}

fn capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        // Destroys come to PlanResourceChange, so a resource can veto or annotate them.
        plan_destroy: true,
        // Every provider process is asked for the schema; it is cheap and always current.
        get_provider_schema_optional: false,
        move_resource_state: false,
        generate_resource_config: false,
    }
}

#[tonic::async_trait]
impl ProviderRpc for ProviderService {
    async fn get_metadata(
        &self,
        _request: Request<pb::get_metadata::Request>,
    ) -> Result<Response<pb::get_metadata::Response>, Status> {
        use pb::get_metadata as m;
        reply(m::Response {
            server_capabilities: Some(capabilities()),
            diagnostics: wire(self.schema_diagnostics.clone()),
            resources: self
                .resources
                .sorted_names()
                .map(|type_name| m::ResourceMetadata { type_name })
                .collect(),
            data_sources: self
                .data_sources
                .sorted_names()
                .map(|type_name| m::DataSourceMetadata { type_name })
                .collect(),
            actions: self
                .actions
                .sorted_names()
                .map(|type_name| m::ActionMetadata { type_name })
                .collect(),
            list_resources: self
                .list_resources
                .sorted_names()
                .map(|type_name| m::ListResourceMetadata { type_name })
                .collect(),
            ..Default::default()
        })
    }

    async fn get_schema(
        &self,
        _request: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        reply(pb::get_provider_schema::Response {
            provider: Some(self.provider_schema.clone()),
            resource_schemas: self.resources.wire_schemas(),
            data_source_schemas: self.data_sources.wire_schemas(),
            action_schemas: self
                .actions
                .by_name
                .iter()
                .map(|(k, r)| {
                    let schema = Some(r.wire_schema.clone());
                    (k.clone(), pb::ActionSchema { schema })
                })
                .collect(),
            list_resource_schemas: self.list_resources.wire_schemas(),
            diagnostics: wire(self.schema_diagnostics.clone()),
            server_capabilities: Some(capabilities()),
            ..Default::default()
        })
    }

    async fn get_resource_identity_schemas(
        &self,
        _request: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Result<Response<pb::get_resource_identity_schemas::Response>, Status> {
        reply(pb::get_resource_identity_schemas::Response {
            identity_schemas: self.identities.wire_schemas(),
            diagnostics: Vec::new(),
        })
    }

    async fn prepare_provider_config(
        &self,
        request: Request<pb::prepare_provider_config::Request>,
    ) -> Result<Response<pb::prepare_provider_config::Response>, Status> {
        use pb::prepare_provider_config::Response as R;
        let req = request.into_inner();
        let config = or_reply!(
            decode(
                req.config.as_ref(),
                &self.provider_type,
                "provider configuration",
            ),
            R
        );
        let mut diagnostics = self
            .provider
            .validate_config(&self.context(), &config)
            .await;
        // Terraform 1.0+ ignores the prepared config; echoing it keeps older clients content.
        let prepared_config = encode_into(
            &config,
            &self.provider_type,
            "provider configuration",
            &mut diagnostics,
        );
        reply(R {
            prepared_config,
            diagnostics: wire(diagnostics),
        })
    }

    async fn validate_resource_type_config(
        &self,
        request: Request<pb::validate_resource_type_config::Request>,
    ) -> Result<Response<pb::validate_resource_type_config::Response>, Status> {
        use pb::validate_resource_type_config::Response as R;
        let req = request.into_inner();
        let diagnostics = match self.resources.get_decoded(
            self.provider_name(),
            &req.type_name,
            [(req.config.as_ref(), "resource configuration")],
        ) {
            Ok((r, [config])) => r.handler.validate(&self.context(), &config).await,
            Err(d) => d.into(),
        };
        reply(R {
            diagnostics: wire(diagnostics),
        })
    }

    async fn validate_data_source_config(
        &self,
        request: Request<pb::validate_data_source_config::Request>,
    ) -> Result<Response<pb::validate_data_source_config::Response>, Status> {
        use pb::validate_data_source_config::Response as R;
        let req = request.into_inner();
        let diagnostics = match self.data_sources.get_decoded(
            self.provider_name(),
            &req.type_name,
            [(req.config.as_ref(), "data source configuration")],
        ) {
            Ok((d, [config])) => d.handler.validate(&self.context(), &config).await,
            Err(d) => d.into(),
        };
        reply(R {
            diagnostics: wire(diagnostics),
        })
    }

    async fn validate_action_config(
        &self,
        request: Request<pb::validate_action_config::Request>,
    ) -> Result<Response<pb::validate_action_config::Response>, Status> {
        use pb::validate_action_config::Response as R;
        let req = request.into_inner();
        let diagnostics = match self.actions.get_decoded(
            self.provider_name(),
            &req.type_name,
            [(req.config.as_ref(), "action configuration")],
        ) {
            Ok((a, [config])) => a.handler.validate(&self.context(), &config).await,
            Err(d) => d.into(),
        };
        reply(R {
            diagnostics: wire(diagnostics),
        })
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        use pb::upgrade_resource_state::Response as R;
        let req = request.into_inner();
        let answer = self.upgrade(&req);
        reply(match answer {
            Ok(upgraded_state) => R {
                upgraded_state: Some(upgraded_state),
                diagnostics: Vec::new(),
            },
            Err(f) => R {
                upgraded_state: None,
                diagnostics: wire(f.into()),
            },
        })
    }

    async fn configure(
        &self,
        request: Request<pb::configure::Request>,
    ) -> Result<Response<pb::configure::Response>, Status> {
        use pb::configure::Response as R;
        let req = request.into_inner();
        let diagnostics = match decode(
            req.config.as_ref(),
            &self.provider_type,
            "provider configuration",
        ) {
            Ok(config) => {
                self.provider
                    .configure(&self.context(), &config, &req.terraform_version)
                    .await
            }
            Err(d) => d.into(),
        };
        reply(R {
            diagnostics: wire(diagnostics),
        })
    }

    async fn read_resource(
        &self,
        request: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        use pb::read_resource::Response as R;
        let req = request.into_inner();
        let (r, [state]) = or_reply!(
            self.resources.get_decoded(
                self.provider_name(),
                &req.type_name,
                [(req.current_state.as_ref(), "current state")],
            ),
            R
        );
        let result = r.handler.read(&self.context(), state, req.private).await;
        let mut diagnostics = result.diagnostics;
        let new_state = encode_into(
            &result.new_state,
            &r.value_type,
            "refreshed state",
            &mut diagnostics,
        );
        let new_identity = self.identity_into(&*r.handler, &result.new_state, &mut diagnostics);
        reply(R {
            new_state,
            diagnostics: wire(diagnostics),
            private: result.private,
            new_identity,
            ..Default::default()
        })
    }

    async fn plan_resource_change(
        &self,
        request: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        use pb::plan_resource_change::Response as R;
        let req = request.into_inner();
        let decoded = self.resources.get_decoded(
            self.provider_name(),
            &req.type_name,
            [
                (req.prior_state.as_ref(), "prior state"),
                (req.proposed_new_state.as_ref(), "proposed new state"),
                (req.config.as_ref(), "resource configuration"),
            ],
        );
        let (r, [prior, proposed, config]) = or_reply!(decoded, R);
        let plan_request = PlanRequest {
            prior,
            config,
            proposed,
            prior_private: req.prior_private,
        };
        let plan =
            plan_resource_change(&*r.handler, &r.schema, &self.context(), &plan_request).await;
        let mut diagnostics = plan.diagnostics;
        let planned_state = encode_into(
            &plan.planned,
            &r.value_type,
            "planned state",
            &mut diagnostics,
        );
        let planned_identity = self.identity_into(&*r.handler, &plan.planned, &mut diagnostics);
        reply(R {
            planned_state,
            requires_replace: plan.requires_replace.iter().map(path_to_proto).collect(),
            planned_private: plan.private,
            diagnostics: wire(diagnostics),
            planned_identity,
            ..Default::default()
        })
    }

    async fn apply_resource_change(
        &self,
        request: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        use pb::apply_resource_change::Response as R;
        let req = request.into_inner();
        let decoded = self.resources.get_decoded(
            self.provider_name(),
            &req.type_name,
            [
                (req.prior_state.as_ref(), "prior state"),
                (req.planned_state.as_ref(), "planned state"),
                (req.config.as_ref(), "resource configuration"),
            ],
        );
        let (r, [prior, planned, config]) = or_reply!(decoded, R);
        let apply = ApplyRequest {
            prior,
            planned,
            config,
            private: req.planned_private,
        };
        let result = apply_resource_change(&*r.handler, &self.context(), apply).await;
        let (new_state, private, mut diagnostics) =
            (result.new_state, result.private, result.diagnostics);
        let new_identity = self.identity_into(&*r.handler, &new_state, &mut diagnostics);
        let new_state = encode_into(&new_state, &r.value_type, "new state", &mut diagnostics);
        reply(R {
            new_state,
            private,
            diagnostics: wire(diagnostics),
            new_identity,
            ..Default::default()
        })
    }

    async fn import_resource_state(
        &self,
        request: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        use pb::import_resource_state::{ImportedResource, Response as R};
        let req = request.into_inner();
        let r = or_reply!(self.resources.get(self.provider_name(), &req.type_name), R);
        // An `import` block with `identity = { … }` sends no id: the identity names it.
        let given = or_reply!(
            self.identities.given(&req.type_name, req.identity.as_ref()),
            R
        );
        let id = match given.filter(|_| req.id.is_empty()) {
            Some(identity) => or_reply!(r.handler.import_id(&identity), R),
            None => req.id.clone(),
        };
        let result = r.handler.import(&self.context(), &id).await;
        let mut diagnostics = result.diagnostics;
        let mut imported_resources = Vec::new();
        if !result.state.is_null() {
            let identity = self.identity_into(&*r.handler, &result.state, &mut diagnostics);
            if let Some(state) = encode_into(
                &result.state,
                &r.value_type,
                "imported state",
                &mut diagnostics,
            ) {
                imported_resources.push(ImportedResource {
                    type_name: req.type_name,
                    state: Some(state),
                    private: result.private,
                    identity,
                });
            }
        }
        reply(R {
            imported_resources,
            diagnostics: wire(diagnostics),
            deferred: None,
        })
    }

    async fn read_data_source(
        &self,
        request: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        use pb::read_data_source::Response as R;
        let req = request.into_inner();
        let (d, [config]) = or_reply!(
            self.data_sources.get_decoded(
                self.provider_name(),
                &req.type_name,
                [(req.config.as_ref(), "data source configuration")],
            ),
            R
        );
        let result = d.handler.read(&self.context(), config).await;
        let mut diagnostics = result.diagnostics;
        let state = encode_into(
            &result.new_state,
            &d.value_type,
            "data source state",
            &mut diagnostics,
        );
        reply(R {
            state,
            diagnostics: wire(diagnostics),
            deferred: None,
        })
    }

    async fn plan_action(
        &self,
        request: Request<pb::plan_action::Request>,
    ) -> Result<Response<pb::plan_action::Response>, Status> {
        use pb::plan_action::Response as R;
        let req = request.into_inner();
        let diagnostics = match self.actions.get_decoded(
            self.provider_name(),
            &req.action_type,
            [(req.config.as_ref(), "action configuration")],
        ) {
            Ok((a, [config])) => a.handler.plan(&self.context(), &config).await,
            Err(d) => d.into(),
        };
        reply(R {
            diagnostics: wire(diagnostics),
            deferred: None,
        })
    }

    async fn invoke_action(
        &self,
        request: Request<pb::invoke_action::Request>,
    ) -> Result<Response<EventStream<pb::invoke_action::Event>>, Status> {
        let req = request.into_inner();
        let (events, stream) = mpsc::channel(ACTION_PROGRESS_BUFFER);
        let found = self.actions.get_decoded(
            self.provider_name(),
            &req.action_type,
            [(req.config.as_ref(), "action configuration")],
        );
        match found {
            Ok((a, [config])) => {
                tokio::spawn(run_action(
                    a.handler.clone(),
                    self.context(),
                    config,
                    req.action_type,
                    events,
                ));
            }
            Err(d) => {
                // The buffer has room for this one event; the stream then ends.
                let _ = events.try_send(Ok(completed(d.into())));
            }
        }
        Ok(Response::new(Box::pin(ReceiverStream::new(stream))))
    }

    async fn validate_list_resource_config(
        &self,
        request: Request<pb::validate_list_resource_config::Request>,
    ) -> Result<Response<pb::validate_list_resource_config::Response>, Status> {
        use pb::validate_list_resource_config::Response as R;
        let req = request.into_inner();
        let decoded = self.list_resources.get_decoded(
            self.provider_name(),
            &req.type_name,
            [(req.config.as_ref(), "list configuration")],
        );
        let diagnostics = match decoded {
            Ok((l, [config])) => {
                list::in_config_block(l.handler.validate(&self.context(), &config).await)
            }
            Err(d) => d.into(),
        };
        reply(R {
            diagnostics: wire(diagnostics),
        })
    }

    async fn list_resource(
        &self,
        request: Request<pb::list_resource::Request>,
    ) -> Result<Response<EventStream<pb::list_resource::Event>>, Status> {
        let req = request.into_inner();
        let (events, stream) = mpsc::channel(LIST_BUFFER);
        let listed = self
            .list_resources
            .get_decoded(
                self.provider_name(),
                &req.type_name,
                [(req.config.as_ref(), "list configuration")],
            )
            .and_then(|(l, [config])| {
                let r = self.resources.get(self.provider_name(), &req.type_name)?;
                Ok((l, r, config))
            });
        match listed {
            Ok((l, r, config)) => {
                let found = Found {
                    resource: r.handler.clone(),
                    value_type: r.value_type.clone(),
                };
                let list_request = ListRequest {
                    config,
                    include_resource: req.include_resource_object,
                    limit: u64::try_from(req.limit).unwrap_or(0),
                };
                tokio::spawn(list::run_list(
                    l.handler.clone(),
                    found,
                    self.identities.clone(),
                    self.context(),
                    list_request,
                    events,
                ));
            }
            Err(d) => {
                let _ = events.try_send(Ok(list::diagnostics_event(d.into())));
            }
        }
        Ok(Response::new(Box::pin(ReceiverStream::new(stream))))
    }

    async fn upgrade_resource_identity(
        &self,
        request: Request<pb::upgrade_resource_identity::Request>,
    ) -> Result<Response<pb::upgrade_resource_identity::Response>, Status> {
        use pb::upgrade_resource_identity::Response as R;
        let req = request.into_inner();
        reply(
            match self
                .identities
                .upgrade(&req.type_name, req.version, req.raw_identity.as_ref())
            {
                Ok(upgraded) => R {
                    upgraded_identity: Some(upgraded),
                    diagnostics: Vec::new(),
                },
                Err(d) => R {
                    upgraded_identity: None,
                    diagnostics: wire_one(d),
                },
            },
        )
    }

    async fn stop(
        &self,
        _request: Request<pb::stop::Request>,
    ) -> Result<Response<pb::stop::Response>, Status> {
        self.cancel_in_flight();
        reply(pb::stop::Response::default())
    }
}

/// Runs an action and streams its progress lines, then exactly one Completed event. The action
/// runs in its own task so a panic in it still ends the stream with an error, not silence.
async fn run_action(
    action: Arc<dyn Action>,
    ctx: Context,
    config: Value,
    action_type: String,
    events: mpsc::Sender<Result<pb::invoke_action::Event, Status>>,
) {
    let (progress, mut lines) = mpsc::channel::<String>(ACTION_PROGRESS_BUFFER);
    let stopped = ctx.cancellation().clone();
    let mut run = tokio::spawn(async move { action.invoke(&ctx, config, progress).await });
    // After Stop, Terraform (1.14, 1.15) ends its read loop at the first progress line its UI
    // refuses, and then crashes on the next event it receives; so from Stop on, only Completed
    // goes out.
    let outcome = loop {
        tokio::select! {
            // Lines already queued go out before the completion.
            biased;
            Some(line) = lines.recv() => {
                if !stopped.is_cancelled() {
                    // A gone client does not stop the action; its outcome still matters to the API.
                    let _ = events.send(Ok(progress_event(line))).await;
                }
            }
            outcome = &mut run => break outcome,
        }
    };
    while let Ok(line) = lines.try_recv() {
        if !stopped.is_cancelled() {
            let _ = events.send(Ok(progress_event(line))).await;
        }
    }
    let diagnostics = outcome.unwrap_or_else(|e| {
        Diagnostic::error(
            "Action failed unexpectedly",
            format!("The action {action_type} stopped before reporting its outcome: {e}"),
        )
        .into()
    });
    let _ = events.send(Ok(completed(diagnostics))).await;
}

fn progress_event(message: String) -> pb::invoke_action::Event {
    use pb::invoke_action::event::{Progress, Type};
    pb::invoke_action::Event {
        r#type: Some(Type::Progress(Progress { message })),
    }
}

fn completed(diagnostics: Diagnostics) -> pb::invoke_action::Event {
    use pb::invoke_action::event::{Completed, Type};
    pb::invoke_action::Event {
        r#type: Some(Type::Completed(Completed {
            diagnostics: wire(diagnostics),
        })),
    }
}

/// Why an upgrade failed: one diagnostic of ours, or the resource's own.
enum Failure {
    One(Diagnostic),
    Many(Diagnostics),
}

impl From<Diagnostic> for Failure {
    fn from(d: Diagnostic) -> Failure {
        Failure::One(d)
    }
}

impl From<Failure> for Diagnostics {
    fn from(f: Failure) -> Diagnostics {
        match f {
            Failure::One(d) => d.into(),
            Failure::Many(ds) => ds,
        }
    }
}

/// The stored state as JSON. Flatmap state predates Terraform 0.12 and this provider; it is
/// refused rather than guessed at.
fn stored_state_json(
    raw: Option<&pb::RawState>,
    type_name: &str,
) -> Result<serde_json::Value, Failure> {
    let raw = raw.cloned().unwrap_or_default();
    if raw.json.is_empty() {
        let detail = if raw.flatmap.is_empty() {
            format!("Terraform sent no stored state for this {type_name}.")
        } else {
            format!(
                "The state of this {type_name} is in the flatmap format of Terraform 0.11 and \
                 earlier, which this provider does not read. Remove it from state with \
                 `terraform state rm` and import it again."
            )
        };
        return Err(Diagnostic::error("Unsupported stored state", detail).into());
    }
    serde_json::from_slice(&raw.json).map_err(|e| {
        Diagnostic::error(
            "Invalid stored state",
            format!("The stored state of this {type_name} is not valid JSON: {e}"),
        )
        .into()
    })
}
