//! Service-level tests: the generated `Provider` trait called directly on `ProviderService` with
//! a small provider defined here, no network. They check what Terraform would see on the wire.

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use tokio::sync::Notify;
use tonic::Request;

use crate::framework::{
    Action, ApplyRequest, ApplyResult, Attribute, AttributePath, Block, Context, DataSource,
    Diagnostic, Diagnostics, IdentityAttribute, IdentitySchema, ImportResult, ListRequest,
    ListResource, ListSender, Listed, PathStep, Plan, PlanRequest, ProgressSender, Provider,
    ReadResult, Resource, Schema, Type, Value,
};
use crate::proto::tfplugin5 as pb;
use crate::tfplugin5::codec;
use crate::tfplugin5::convert::path_from_proto;
use crate::tfplugin5::server::ProviderService;

use pb::provider_server::Provider as Rpc;

const UNKNOWN: [u8; 3] = [0xd4, 0x00, 0x00];

struct TestProvider {
    started: Arc<Notify>,
    /// What the `test_thing` list sent before it stopped, once it has.
    listed: Arc<std::sync::Mutex<Option<usize>>>,
}

#[async_trait]
impl Provider for TestProvider {
    fn type_name(&self) -> &str {
        "test"
    }

    fn schema(&self) -> Schema {
        Schema::new(Block::new().attribute(Attribute::string("api_key").optional().sensitive()))
    }

    async fn configure(&self, _ctx: &Context, config: &Value, version: &str) -> Diagnostics {
        let mut d = Diagnostics::new();
        if config.get_str("api_key").is_none() {
            d.error("Missing API key", format!("terraform {version}"));
        }
        d
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(Thing {
            started: self.started.clone(),
        })]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        vec![Arc::new(Info)]
    }

    fn actions(&self) -> Vec<Arc<dyn Action>> {
        vec![Arc::new(Ping)]
    }

    fn list_resources(&self) -> Vec<Arc<dyn ListResource>> {
        vec![Arc::new(Things {
            sent: self.listed.clone(),
        })]
    }
}

/// `list "test_thing"`: finds `count` things (`config { count = N }`), `t-0`, `t-1`, …, and
/// records how many it sent before a send failed (the CLI had enough, or went away).
struct Things {
    sent: Arc<std::sync::Mutex<Option<usize>>>,
}

#[async_trait]
impl ListResource for Things {
    fn type_name(&self) -> &str {
        "test_thing"
    }

    fn schema(&self) -> Schema {
        Schema::new(Block::new().attribute(Attribute::number("count").required()))
    }

    async fn list(&self, _ctx: &Context, req: ListRequest, found: ListSender) -> Diagnostics {
        let count = req.config.get("count").and_then(Value::as_i64).unwrap_or(0);
        let mut sent = 0;
        for i in 0..count {
            let listed = Listed {
                state: thing(Value::string(format!("t-{i}")), "listed"),
                display_name: format!("thing {i}"),
            };
            if found.send(listed).await.is_err() {
                break;
            }
            sent += 1;
        }
        *self.sent.lock().unwrap() = Some(sent);
        if count < 0 {
            return Diagnostic::error("Negative count", "").into();
        }
        Diagnostics::new()
    }
}

/// `test_thing`: `name = "slow"` blocks its create until Stop; a read of id `gone` finds nothing.
struct Thing {
    started: Arc<Notify>,
}

fn thing_schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(Attribute::string("id").computed())
            .attribute(Attribute::string("name").required())
            .attribute(Attribute::number("size").optional()),
    )
}

#[async_trait]
impl Resource for Thing {
    fn type_name(&self) -> &str {
        "test_thing"
    }

    fn schema(&self) -> Schema {
        thing_schema()
    }

    async fn validate(&self, _ctx: &Context, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        if config.get_str("name") == Some("bad") {
            d.error_at(AttributePath::attribute("name"), "Invalid name", "not bad");
        }
        d
    }

    async fn plan_destroy(&self, _ctx: &Context, _prior: &Value) -> Diagnostics {
        Diagnostic::warning("Destroying a thing", "").into()
    }

    async fn modify_plan(&self, _ctx: &Context, _req: &PlanRequest, plan: &mut Plan) {
        // A buggy resource: it overwrites the configured size.
        if plan.planned.get_str("name") == Some("tamper") {
            plan.planned.set("size", Value::from(99));
        }
    }

    async fn create(&self, ctx: &Context, req: ApplyRequest) -> ApplyResult {
        let mut state = req.planned;
        if state.get_str("name") == Some("slow") {
            state.set("id", Value::string("partial"));
            self.started.notify_one();
            ctx.cancelled().await;
            return ApplyResult {
                new_state: state,
                private: b"job-7".to_vec(),
                diagnostics: Diagnostic::error("Interrupted", "stopped while waiting").into(),
            };
        }
        if ctx.is_cancelled() {
            return ApplyResult::failed(Diagnostic::error("Cancelled", "stopped before it began"));
        }
        state.set("id", Value::string("t-1"));
        ApplyResult::ok(state)
    }

    async fn read(&self, _ctx: &Context, state: Value, private: Vec<u8>) -> ReadResult {
        if state.get_str("id") == Some("gone") {
            return ReadResult::default();
        }
        ReadResult {
            new_state: state,
            private,
            diagnostics: Diagnostics::new(),
        }
    }

    async fn update(&self, _ctx: &Context, req: ApplyRequest) -> ApplyResult {
        ApplyResult::ok(req.planned)
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(IdentitySchema::new(vec![
            IdentityAttribute::required_string("id", "The thing's id."),
        ]))
    }

    fn identity(&self, state: &Value) -> Value {
        self.identity_schema()
            .unwrap()
            .from_state(state, &[("id", "id")])
    }

    fn import_id(&self, identity: &Value) -> Result<String, Diagnostic> {
        identity
            .get_str("id")
            .map(str::to_owned)
            .ok_or_else(|| Diagnostic::error("Missing id", "").at(AttributePath::attribute("id")))
    }

    async fn import(&self, _ctx: &Context, id: &str) -> ImportResult {
        ImportResult {
            state: thing(Value::string(id), "imported"),
            ..Default::default()
        }
    }

    async fn delete(&self, _ctx: &Context, _req: ApplyRequest) -> Diagnostics {
        Diagnostics::new()
    }
}

struct Info;

#[async_trait]
impl DataSource for Info {
    fn type_name(&self) -> &str {
        "test_info"
    }

    fn schema(&self) -> Schema {
        Schema::new(Block::new().attribute(Attribute::string("value").computed()))
    }

    async fn read(&self, _ctx: &Context, mut config: Value) -> ReadResult {
        config.set("value", Value::string("v"));
        ReadResult {
            new_state: config,
            ..Default::default()
        }
    }
}

struct Ping;

#[async_trait]
impl Action for Ping {
    fn type_name(&self) -> &str {
        "test_ping"
    }

    fn schema(&self) -> Schema {
        Schema::new(Block::new().attribute(Attribute::string("target").required()))
    }

    async fn invoke(&self, ctx: &Context, config: Value, progress: ProgressSender) -> Diagnostics {
        let target = config.get_str("target").unwrap_or("?").to_string();
        if target == "until-stop" {
            let _ = progress.send("waiting".into()).await;
            ctx.cancelled().await;
            let _ = progress.send("stopped after all".into()).await;
            return Diagnostic::error("Ping interrupted", "").into();
        }
        for step in ["starting", "done"] {
            let _ = progress.send(format!("{step} {target}")).await;
        }
        Diagnostic::warning("Ping was slow", "").into()
    }
}

fn service() -> (ProviderService, Arc<Notify>) {
    let started = Arc::new(Notify::new());
    let provider = TestProvider {
        started: started.clone(),
        listed: Arc::default(),
    };
    (ProviderService::new(Arc::new(provider)), started)
}

fn thing_type() -> Type {
    thing_schema().value_type()
}

fn dv(value: &Value, ty: &Type) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: codec::encode_msgpack(value, ty).expect("test value encodes"),
        json: Vec::new(),
    })
}

fn undv(dv: &Option<pb::DynamicValue>, ty: &Type) -> Value {
    let dv = dv.as_ref().expect("a DynamicValue is present");
    assert!(!dv.msgpack.is_empty(), "the service always answers msgpack");
    codec::decode_msgpack(&dv.msgpack, ty).expect("answer decodes")
}

fn thing(id: Value, name: &str) -> Value {
    Value::object([
        ("id", id),
        ("name", Value::string(name)),
        ("size", Value::Null),
    ])
}

fn errors(diags: &[pb::Diagnostic]) -> Vec<&pb::Diagnostic> {
    diags.iter().filter(|d| d.severity == 1).collect()
}

async fn apply(
    svc: &ProviderService,
    prior: &Value,
    planned: &Value,
) -> pb::apply_resource_change::Response {
    let ty = thing_type();
    svc.apply_resource_change(Request::new(pb::apply_resource_change::Request {
        type_name: "test_thing".into(),
        prior_state: dv(prior, &ty),
        planned_state: dv(planned, &ty),
        config: dv(planned, &ty),
        ..Default::default()
    }))
    .await
    .unwrap()
    .into_inner()
}

#[tokio::test]
async fn get_schema_publishes_every_type_and_plan_destroy() {
    let (svc, _) = service();
    let r = svc
        .get_schema(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(r.diagnostics.is_empty());
    let provider = r.provider.expect("provider schema is always present");
    let key = &provider.block.unwrap().attributes[0];
    assert!(key.sensitive && key.optional);
    let thing = r.resource_schemas["test_thing"].block.clone().unwrap();
    let id = thing.attributes.iter().find(|a| a.name == "id").unwrap();
    assert!(id.computed && !id.optional && !id.required);
    assert_eq!(id.r#type, b"\"string\"");
    assert!(r.data_source_schemas.contains_key("test_info"));
    assert!(r.action_schemas["test_ping"].schema.is_some());
    assert!(r.list_resource_schemas.contains_key("test_thing"));
    let caps = r.server_capabilities.unwrap();
    assert!(caps.plan_destroy);
    assert!(!caps.get_provider_schema_optional);

    let m = svc
        .get_metadata(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(m.resources[0].type_name, "test_thing");
    assert_eq!(m.actions[0].type_name, "test_ping");
}

#[tokio::test]
async fn validate_errors_carry_the_attribute_path() {
    let (svc, _) = service();
    let r = svc
        .validate_resource_type_config(Request::new(pb::validate_resource_type_config::Request {
            type_name: "test_thing".into(),
            config: dv(&thing(Value::Null, "bad"), &thing_type()),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.diagnostics.len(), 1);
    assert_eq!(r.diagnostics[0].severity, 1);
    let path = path_from_proto(r.diagnostics[0].attribute.as_ref().unwrap()).unwrap();
    assert_eq!(path.steps(), [PathStep::Attribute("name".into())]);
}

#[tokio::test]
async fn unknown_type_and_malformed_value_become_error_diagnostics() {
    let (svc, _) = service();
    let r = svc
        .validate_resource_type_config(Request::new(pb::validate_resource_type_config::Request {
            type_name: "test_nope".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(errors(&r.diagnostics).len(), 1);
    assert!(r.diagnostics[0].detail.contains("test_nope"));

    let r = svc
        .plan_resource_change(Request::new(pb::plan_resource_change::Request {
            type_name: "test_thing".into(),
            proposed_new_state: Some(pb::DynamicValue {
                msgpack: vec![0x81, 0xa1],
                json: Vec::new(),
            }),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(errors(&r.diagnostics).len(), 1);
    assert!(
        r.diagnostics[0].summary.contains("proposed new state"),
        "{:?}",
        r.diagnostics[0]
    );
    assert!(r.planned_state.is_none());
}

/// The plan of a new `test_thing` called `name`, as Terraform asks for it.
async fn plan_create(svc: &ProviderService, name: &str) -> pb::plan_resource_change::Response {
    let ty = thing_type();
    let proposed = thing(Value::Null, name);
    svc.plan_resource_change(Request::new(pb::plan_resource_change::Request {
        type_name: "test_thing".into(),
        prior_state: None,
        proposed_new_state: dv(&proposed, &ty),
        config: dv(&proposed, &ty),
        ..Default::default()
    }))
    .await
    .unwrap()
    .into_inner()
}

#[tokio::test]
async fn plan_of_a_create_marks_computed_attributes_unknown() {
    let (svc, _) = service();
    let ty = thing_type();
    let r = plan_create(&svc, "web").await;
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let bytes = &r.planned_state.as_ref().unwrap().msgpack;
    assert!(bytes.windows(3).any(|w| w == UNKNOWN), "{bytes:02x?}");
    let planned = undv(&r.planned_state, &ty);
    assert!(planned.get("id").unwrap().is_unknown());
    assert_eq!(planned.get_str("name"), Some("web"));
    assert_eq!(planned.get("size"), Some(&Value::Null));
}

#[tokio::test]
async fn a_plan_that_alters_a_configured_value_is_refused_at_that_attribute() {
    let (svc, _) = service();
    let r = plan_create(&svc, "tamper").await;
    let errors: Vec<_> = r
        .diagnostics
        .iter()
        .filter(|d| d.severity == pb::diagnostic::Severity::Error as i32)
        .collect();
    assert_eq!(errors.len(), 1, "{:?}", r.diagnostics);
    assert!(
        errors[0].summary.contains("provider bug"),
        "{:?}",
        errors[0]
    );
    let steps = &errors[0].attribute.as_ref().expect("at an attribute").steps;
    assert_eq!(steps.len(), 1, "{steps:?}");
}

#[tokio::test]
async fn destroy_plan_answers_a_null_planned_state() {
    let (svc, _) = service();
    let ty = thing_type();
    let r = svc
        .plan_resource_change(Request::new(pb::plan_resource_change::Request {
            type_name: "test_thing".into(),
            prior_state: dv(&thing(Value::string("t-1"), "web"), &ty),
            proposed_new_state: None,
            config: None,
            prior_private: b"p".to_vec(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let planned = match &r.planned_state {
        Some(dv) if !dv.msgpack.is_empty() => codec::decode_msgpack(&dv.msgpack, &ty).unwrap(),
        _ => Value::Null,
    };
    assert!(planned.is_null());
    assert_eq!(r.diagnostics.len(), 1);
    assert_eq!(
        r.diagnostics[0].severity, 2,
        "plan_destroy's warning reaches Terraform"
    );
    assert_eq!(r.planned_private, b"p");
}

#[tokio::test]
async fn apply_create_returns_the_new_state_and_delete_returns_null() {
    let (svc, _) = service();
    let ty = thing_type();
    let planned = thing(Value::Unknown, "web");
    let r = apply(&svc, &Value::Null, &planned).await;
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let state = undv(&r.new_state, &ty);
    assert_eq!(state, thing(Value::string("t-1"), "web"));

    let r = apply(&svc, &state, &Value::Null).await;
    assert!(r.diagnostics.is_empty());
    assert!(undv(&r.new_state, &ty).is_null());
}

#[tokio::test]
async fn read_resource_null_means_gone_and_private_passes_through() {
    let (svc, _) = service();
    let ty = thing_type();
    let read = |id: &str| pb::read_resource::Request {
        type_name: "test_thing".into(),
        current_state: dv(&thing(Value::string(id), "web"), &ty),
        private: b"keep".to_vec(),
        ..Default::default()
    };
    let r = svc
        .read_resource(Request::new(read("gone")))
        .await
        .unwrap()
        .into_inner();
    assert!(r.diagnostics.is_empty());
    assert!(undv(&r.new_state, &ty).is_null());

    let r = svc
        .read_resource(Request::new(read("t-1")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(undv(&r.new_state, &ty).get_str("id"), Some("t-1"));
    assert_eq!(r.private, b"keep");
}

fn identity_type() -> Type {
    Type::object([("id", Type::String)])
}

fn identity_of(data: &Option<pb::ResourceIdentityData>) -> Option<Value> {
    data.as_ref()
        .map(|d| undv(&d.identity_data, &identity_type()))
}

#[tokio::test]
async fn identity_schemas_are_published_with_their_type_and_import_rule() {
    let (svc, _) = service();
    let r = svc
        .get_resource_identity_schemas(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.identity_schemas.len(), 1, "only test_thing declares one");
    let s = &r.identity_schemas["test_thing"];
    assert_eq!(s.version, 0);
    let a = &s.identity_attributes[0];
    assert_eq!(
        (a.name.as_str(), a.r#type.as_slice()),
        ("id", &b"\"string\""[..])
    );
    assert!(a.required_for_import && !a.optional_for_import);
}

#[tokio::test]
async fn identity_rides_along_with_read_plan_apply_and_import() {
    let (svc, _) = service();
    let id = |s: &str| Some(Value::object([("id", Value::string(s))]));
    // A create's plan has no id yet, so no identity; the apply has one.
    let plan = plan_create(&svc, "web").await;
    assert_eq!(identity_of(&plan.planned_identity), None);
    let created = apply(&svc, &Value::Null, &thing(Value::Unknown, "web")).await;
    assert_eq!(identity_of(&created.new_identity), id("t-1"));
    // A read answers the identity of what it found; an object gone has none.
    let ty = thing_type();
    let read = |object: &str| pb::read_resource::Request {
        type_name: "test_thing".into(),
        current_state: dv(&thing(Value::string(object), "web"), &ty),
        ..Default::default()
    };
    let r = svc.read_resource(Request::new(read("t-1"))).await.unwrap();
    assert_eq!(identity_of(&r.into_inner().new_identity), id("t-1"));
    let r = svc.read_resource(Request::new(read("gone"))).await.unwrap();
    assert_eq!(identity_of(&r.into_inner().new_identity), None);
    // An `import` block's identity names the id the import reads.
    let given = pb::ResourceIdentityData {
        identity_data: dv(&id("t-9").unwrap(), &identity_type()),
    };
    let r = svc
        .import_resource_state(Request::new(pb::import_resource_state::Request {
            type_name: "test_thing".into(),
            id: String::new(),
            identity: Some(given),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let imported = &r.imported_resources[0];
    assert_eq!(
        undv(&imported.state, &ty),
        thing(Value::string("t-9"), "imported")
    );
    assert_eq!(identity_of(&imported.identity), id("t-9"));
}

#[tokio::test]
async fn stored_identity_of_version_0_upgrades_as_it_is_and_others_are_refused() {
    let (svc, _) = service();
    let upgrade = |version: i64| pb::upgrade_resource_identity::Request {
        type_name: "test_thing".into(),
        version,
        raw_identity: Some(pb::RawState {
            json: br#"{"id":"t-1"}"#.to_vec(),
            ..Default::default()
        }),
    };
    let r = svc
        .upgrade_resource_identity(Request::new(upgrade(0)))
        .await
        .unwrap()
        .into_inner();
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert_eq!(
        identity_of(&r.upgraded_identity),
        Some(Value::object([("id", Value::string("t-1"))]))
    );
    let r = svc
        .upgrade_resource_identity(Request::new(upgrade(1)))
        .await
        .unwrap()
        .into_inner();
    assert!(r.upgraded_identity.is_none());
    assert!(errors(&r.diagnostics)[0].summary.contains("version"));
}

/// A `ListResource` request for `count` things, at most `limit`.
fn list_request(count: i64, limit: i64, include: bool) -> pb::list_resource::Request {
    let config_type = Type::object([("count", Type::Number)]);
    pb::list_resource::Request {
        type_name: "test_thing".into(),
        config: dv(
            &Value::object([("count", Value::from(count))]),
            &config_type,
        ),
        include_resource_object: include,
        limit,
    }
}

#[tokio::test]
async fn a_list_streams_identities_and_objects_and_stops_at_the_limit() {
    let started = Arc::new(Notify::new());
    let listed = Arc::new(std::sync::Mutex::new(None));
    let provider = TestProvider {
        started,
        listed: listed.clone(),
    };
    let svc = ProviderService::new(Arc::new(provider));
    let events: Vec<_> = svc
        .list_resource(Request::new(list_request(1000, 3, true)))
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    assert_eq!(events.len(), 3, "{events:?}");
    for (i, event) in events.iter().enumerate() {
        let event = event.as_ref().unwrap();
        let id = format!("t-{i}");
        assert_eq!(
            identity_of(&event.identity),
            Some(Value::object([("id", Value::string(&id))]))
        );
        assert_eq!(event.display_name, format!("thing {i}"));
        assert_eq!(
            undv(&event.resource_object, &thing_type()),
            thing(Value::string(&id), "listed")
        );
        assert!(event.diagnostic.is_empty());
    }
    // The list learned it could stop: it did not go on through 1000 things.
    let sent = listed.lock().unwrap().expect("the list returned");
    assert!(sent < 3 + 16 + 2, "sent {sent} after the limit");
    // Without include_resource_object, no objects.
    let events: Vec<_> = svc
        .list_resource(Request::new(list_request(2, 100, false)))
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    assert_eq!(events.len(), 2);
    assert!(events[0].as_ref().unwrap().resource_object.is_none());
}

#[tokio::test]
async fn a_list_stops_when_the_cli_drops_the_stream_and_errors_end_it_as_diagnostics() {
    let listed = Arc::new(std::sync::Mutex::new(None));
    let provider = TestProvider {
        started: Arc::new(Notify::new()),
        listed: listed.clone(),
    };
    let svc = ProviderService::new(Arc::new(provider));
    let mut stream = svc
        .list_resource(Request::new(list_request(100_000, 1_000_000, false)))
        .await
        .unwrap()
        .into_inner();
    assert!(stream.next().await.is_some());
    drop(stream);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let sent = loop {
        if let Some(sent) = *listed.lock().unwrap() {
            break sent;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the list never stopped"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert!(
        sent < 100_000,
        "the list went on after the CLI left: {sent}"
    );

    let events: Vec<_> = svc
        .list_resource(Request::new(list_request(-1, 100, false)))
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    assert_eq!(events.len(), 1, "{events:?}");
    let last = events[0].as_ref().unwrap();
    assert!(last.identity.is_none());
    assert_eq!(errors(&last.diagnostic)[0].summary, "Negative count");
}

#[tokio::test]
async fn upgrade_reads_json_state_and_refuses_flatmap() {
    let (svc, _) = service();
    let upgrade = |raw: pb::RawState| pb::upgrade_resource_state::Request {
        type_name: "test_thing".into(),
        version: 0,
        raw_state: Some(raw),
    };
    let r = svc
        .upgrade_resource_state(Request::new(upgrade(pb::RawState {
            json: br#"{"id":"t-1","name":"web","size":2}"#.to_vec(),
            ..Default::default()
        })))
        .await
        .unwrap()
        .into_inner();
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let state = undv(&r.upgraded_state, &thing_type());
    assert_eq!(state.get_str("id"), Some("t-1"));
    assert_eq!(state.get("size").and_then(Value::as_i64), Some(2));

    let r = svc
        .upgrade_resource_state(Request::new(upgrade(pb::RawState {
            json: Vec::new(),
            flatmap: [("id".to_string(), "t-1".to_string())].into(),
        })))
        .await
        .unwrap()
        .into_inner();
    assert!(r.upgraded_state.is_none());
    assert_eq!(errors(&r.diagnostics).len(), 1);
    assert!(r.diagnostics[0].detail.contains("flatmap"));
}

#[tokio::test]
async fn stop_cancels_running_and_later_waits_and_the_service_keeps_serving() {
    let (svc, started) = service();
    let svc = Arc::new(svc);
    let running = {
        let svc = svc.clone();
        tokio::spawn(async move { apply(&svc, &Value::Null, &thing(Value::Unknown, "slow")).await })
    };
    started.notified().await;
    let stopped = svc.stop(Request::new(pb::stop::Request {})).await.unwrap();
    assert!(stopped.into_inner().error.is_empty());

    let r = running.await.unwrap();
    assert_eq!(errors(&r.diagnostics).len(), 1);
    assert_eq!(r.diagnostics[0].summary, "Interrupted");
    let partial = undv(&r.new_state, &thing_type());
    assert_eq!(
        partial.get_str("id"),
        Some("partial"),
        "partial state is kept"
    );
    assert_eq!(r.private, b"job-7");

    // The service still answers, and a wait that starts after Stop (Terraform's Ctrl-C can
    // overtake the apply RPC it announced) is interrupted at once instead of running on.
    let r = apply(&svc, &Value::Null, &thing(Value::Unknown, "web")).await;
    assert_eq!(
        r.diagnostics[0].summary, "Cancelled",
        "a create after Stop sees it"
    );
    let late = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        apply(&svc, &Value::Null, &thing(Value::Unknown, "slow")),
    )
    .await
    .expect("a slow apply started after Stop ends at once");
    assert_eq!(late.diagnostics[0].summary, "Interrupted");
}

#[tokio::test]
async fn invoke_action_streams_progress_then_one_completed() {
    let (svc, _) = service();
    let ty = Type::object([("target", Type::String)]);
    let config = Value::object([("target", Value::string("vps-1"))]);
    let stream = svc
        .invoke_action(Request::new(pb::invoke_action::Request {
            action_type: "test_ping".into(),
            config: dv(&config, &ty),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let events: Vec<_> = stream.map(|e| e.unwrap().r#type.unwrap()).collect().await;
    use pb::invoke_action::event::Type as E;
    let progress: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            E::Progress(p) => Some(p.message.as_str()),
            E::Completed(_) => None,
        })
        .collect();
    assert_eq!(progress, ["starting vps-1", "done vps-1"]);
    assert_eq!(events.len(), 3);
    match &events[2] {
        E::Completed(c) => {
            assert_eq!(c.diagnostics.len(), 1);
            assert_eq!(c.diagnostics[0].severity, 2);
        }
        other => panic!("last event must be Completed, got {other:?}"),
    }
}

/// Terraform (1.14, 1.15) stops reading the stream once its UI refuses a progress line after
/// Stop, and crashes on any event after that; so after Stop only Completed may go out.
#[tokio::test]
async fn after_stop_an_action_stream_carries_only_its_completion() {
    let (svc, _) = service();
    let ty = Type::object([("target", Type::String)]);
    let config = Value::object([("target", Value::string("until-stop"))]);
    let mut stream = svc
        .invoke_action(Request::new(pb::invoke_action::Request {
            action_type: "test_ping".into(),
            config: dv(&config, &ty),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    use pb::invoke_action::event::Type as E;
    match stream.next().await.unwrap().unwrap().r#type.unwrap() {
        E::Progress(p) => assert_eq!(p.message, "waiting"),
        other => panic!("expected the first progress line, got {other:?}"),
    }
    svc.stop(Request::new(pb::stop::Request::default()))
        .await
        .unwrap();
    let rest: Vec<_> = stream.map(|e| e.unwrap().r#type.unwrap()).collect().await;
    match rest.as_slice() {
        [E::Completed(c)] => assert_eq!(errors(&c.diagnostics).len(), 1),
        other => panic!("expected only Completed after Stop, got {other:?}"),
    }
}

#[tokio::test]
async fn invoke_of_an_unknown_action_completes_with_an_error() {
    let (svc, _) = service();
    let stream = svc
        .invoke_action(Request::new(pb::invoke_action::Request {
            action_type: "test_nope".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let events: Vec<_> = stream.map(|e| e.unwrap().r#type.unwrap()).collect().await;
    use pb::invoke_action::event::Type as E;
    match events.as_slice() {
        [E::Completed(c)] => assert_eq!(errors(&c.diagnostics).len(), 1),
        other => panic!("expected one Completed, got {other:?}"),
    }
}

#[tokio::test]
async fn configure_and_data_source_reach_the_framework() {
    let (svc, _) = service();
    let pty = Type::object([("api_key", Type::String)]);
    let r = svc
        .configure(Request::new(pb::configure::Request {
            terraform_version: "1.15.0".into(),
            config: dv(&Value::object([("api_key", Value::Null)]), &pty),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(errors(&r.diagnostics).len(), 1);
    assert!(r.diagnostics[0].detail.contains("1.15.0"));

    let dty = Type::object([("value", Type::String)]);
    let r = svc
        .read_data_source(Request::new(pb::read_data_source::Request {
            type_name: "test_info".into(),
            config: dv(&Value::object([("value", Value::Null)]), &dty),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(r.diagnostics.is_empty());
    assert_eq!(undv(&r.state, &dty).get_str("value"), Some("v"));
}
