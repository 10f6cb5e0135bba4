//! The echo provider's types: `echo_thing`, a resource that stores whatever its configuration
//! says and fills a few computed values, with switches to fail or stall a create on purpose; and
//! `echo_data`, a data source that echoes its inputs. The logic is plain functions over `Value`s
//! so `cargo test --example echo` checks it without Terraform.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use terraform_provider_hostup::framework::timeouts::{
    timeout_for, timeouts_block, validate_timeouts,
};
use terraform_provider_hostup::framework::{
    ApplyRequest, ApplyResult, Attribute, AttributePath, Block, Context, DataSource, Diagnostic,
    Diagnostics, ImportResult, NestedBlock, Provider, ReadResult, Resource, Schema, Type, Value,
};

pub(crate) const PROVIDER_ADDRESS: &str = "registry.terraform.io/hostup/echo";

/// How long a create may stall when the configuration sets no `timeouts.create`.
const DEFAULT_CREATE_TIMEOUT: Duration = Duration::from_secs(20 * 60);

const TIMEOUT_OPERATIONS: &[&str] = &["create"];

pub(crate) struct EchoProvider;

#[async_trait]
impl Provider for EchoProvider {
    fn type_name(&self) -> &str {
        "echo"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .description("A provider without an API, for testing the plugin protocol.")
                .attribute(
                    Attribute::string("token")
                        .optional()
                        .sensitive()
                        .description("Ignored; present so a sensitive provider value is sent."),
                ),
        )
    }

    async fn configure(&self, _ctx: &Context, _config: &Value, _tf_version: &str) -> Diagnostics {
        Diagnostics::new()
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(EchoThing)]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        vec![Arc::new(EchoData)]
    }
}

pub(crate) struct EchoThing;

pub(crate) fn thing_schema() -> Schema {
    let rule = Block::new()
        .description("An ordered rule, echoed as given.")
        .attribute(Attribute::string("name").required())
        .attribute(Attribute::number("weight").optional());
    Schema::new(
        Block::new()
            .description("Stores its configuration and echoes it back.")
            .attribute(
                Attribute::string("id")
                    .computed()
                    .keep_prior()
                    .description("`echo-<name>`."),
            )
            .attribute(
                Attribute::string("name")
                    .required()
                    .requires_replace()
                    .description("Non-empty, without spaces; changing it replaces the object."),
            )
            .attribute(Attribute::number("count_value").optional())
            .attribute(Attribute::bool("enabled").optional())
            .attribute(Attribute::new("tags", Type::map(Type::String)).optional())
            .attribute(Attribute::new("items", Type::list(Type::String)).optional())
            .attribute(Attribute::new("labels", Type::set(Type::String)).optional())
            .attribute(
                Attribute::new(
                    "shape",
                    Type::object([("a", Type::String), ("b", Type::Number)]),
                )
                .optional(),
            )
            .attribute(Attribute::new("anything", Type::Dynamic).optional())
            .attribute(Attribute::string("secret").optional().sensitive())
            .attribute(
                Attribute::string("computed_later")
                    .computed()
                    .description("Known only after apply."),
            )
            .attribute(
                Attribute::number("revision")
                    .computed()
                    .description("1 after create, one more after each update."),
            )
            .attribute(
                Attribute::string("fail_on_create")
                    .optional()
                    .description("When set, create fails with an error about this attribute."),
            )
            .attribute(
                Attribute::number("slow_create_ms")
                    .optional()
                    .description("Create waits this many milliseconds, or until interrupted."),
            )
            .block(timeouts_block(TIMEOUT_OPERATIONS))
            .block(NestedBlock::list("rule", rule)),
    )
}

/// Static checks: `name` must be a non-empty word, `slow_create_ms` not negative, timeouts valid.
pub(crate) fn validate_thing(config: &Value) -> Diagnostics {
    let mut diags = validate_timeouts(config, TIMEOUT_OPERATIONS);
    if let Some(name) = config.get_str("name") {
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            diags.error_at(
                AttributePath::attribute("name"),
                "Invalid name",
                format!("name must be non-empty and contain no spaces; got {name:?}."),
            );
        }
    }
    let delay = config.get("slow_create_ms").and_then(Value::as_f64);
    if delay.is_some_and(|ms| ms < 0.0) {
        diags.error_at(
            AttributePath::attribute("slow_create_ms"),
            "Invalid delay",
            "slow_create_ms must not be negative.",
        );
    }
    diags
}

fn computed_later(name: &str, revision: i64) -> String {
    format!("{name} at revision {revision}")
}

/// The state recorded for `planned` at `revision`: the plan's unknowns filled in.
pub(crate) fn applied_state(planned: &Value, revision: i64) -> Value {
    let mut state = planned.clone();
    let name = planned.get_str("name").unwrap_or_default().to_string();
    if state.get("id").is_none_or(Value::is_unknown) {
        state.set("id", format!("echo-{name}").into());
    }
    if state.get("revision").is_none_or(Value::is_unknown) {
        state.set("revision", Value::int(revision));
    }
    if state.get("computed_later").is_none_or(Value::is_unknown) {
        state.set("computed_later", computed_later(&name, revision).into());
    }
    state
}

/// The error a create returns when `fail_on_create` is set.
pub(crate) fn requested_failure(planned: &Value) -> Option<Diagnostic> {
    let value = planned.get_str("fail_on_create")?;
    Some(
        Diagnostic::error(
            "Create failed on request",
            format!("fail_on_create is set to {value:?}, so echo_thing refuses to create."),
        )
        .at(AttributePath::attribute("fail_on_create")),
    )
}

/// How a stalled create ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Stall {
    Finished,
    Interrupted,
    TimedOut(Duration),
}

/// Waits `delay`, unless Terraform stops the provider or the create timeout passes first.
pub(crate) async fn stall(ctx: &Context, delay: Duration, timeout: Duration) -> Stall {
    tokio::select! {
        _ = tokio::time::sleep(delay) => Stall::Finished,
        _ = tokio::time::sleep(timeout), if timeout < delay => Stall::TimedOut(timeout),
        _ = ctx.cancelled() => Stall::Interrupted,
    }
}

pub(crate) async fn create_thing(ctx: &Context, req: &ApplyRequest) -> ApplyResult {
    if let Some(failure) = requested_failure(&req.planned) {
        return ApplyResult::failed(failure);
    }
    let state = applied_state(&req.planned, 1);
    let delay_ms = req
        .planned
        .get("slow_create_ms")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    if delay_ms <= 0.0 {
        return ApplyResult::ok(state);
    }
    let delay = Duration::from_millis(delay_ms.min(u32::MAX as f64) as u64);
    let timeout = timeout_for(&req.config, "create", DEFAULT_CREATE_TIMEOUT);
    // The object "exists" from the start, so an interrupted or timed-out create still returns
    // it: Terraform then keeps it in state, tainted, instead of forgetting it.
    let problem = match stall(ctx, delay, timeout).await {
        Stall::Finished => return ApplyResult::ok(state),
        Stall::Interrupted => Diagnostic::error(
            "interrupted",
            "Terraform was interrupted while echo_thing was being created; the object is kept \
             in state as tainted.",
        ),
        Stall::TimedOut(after) => Diagnostic::error(
            "Create timed out",
            format!(
                "echo_thing was still being created after {after:?} (timeouts.create); the \
                 object is kept in state as tainted."
            ),
        ),
    };
    ApplyResult {
        new_state: state,
        private: Vec::new(),
        diagnostics: problem.into(),
    }
}

pub(crate) fn update_thing(req: &ApplyRequest) -> ApplyResult {
    let revision = req
        .prior
        .get("revision")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        + 1;
    ApplyResult::ok(applied_state(&req.planned, revision))
}

/// Refresh: the stored object is the truth; values an import could not know are filled in.
pub(crate) fn refresh_thing(state: Value) -> Value {
    if state.is_null() {
        return state;
    }
    let revision = state.get("revision").and_then(Value::as_i64).unwrap_or(1);
    let mut state = state;
    if state.get("revision").is_none_or(Value::is_null) {
        state.set("revision", Value::int(revision));
    }
    if state.get("computed_later").is_none_or(Value::is_null) {
        let name = state.get_str("name").unwrap_or_default().to_string();
        state.set("computed_later", computed_later(&name, revision).into());
    }
    state
}

/// `echo-<name>` becomes a state holding that id and name, everything else empty.
pub(crate) fn import_thing(id: &str) -> ImportResult {
    let name = id.strip_prefix("echo-").unwrap_or_default();
    let config = Value::object([("name", Value::from(name))]);
    if name.is_empty() || validate_thing(&config).has_errors() {
        return ImportResult {
            diagnostics: Diagnostic::error(
                "Invalid import ID",
                format!("Expected \"echo-<name>\" with a name without spaces; got {id:?}."),
            )
            .into(),
            ..Default::default()
        };
    }
    let mut state = thing_schema().block.empty_value();
    state.set("id", id.into());
    state.set("name", name.into());
    ImportResult {
        state,
        ..Default::default()
    }
}

#[async_trait]
impl Resource for EchoThing {
    fn type_name(&self) -> &str {
        "echo_thing"
    }

    fn schema(&self) -> Schema {
        thing_schema()
    }

    async fn validate(&self, _ctx: &Context, config: &Value) -> Diagnostics {
        validate_thing(config)
    }

    async fn create(&self, ctx: &Context, req: ApplyRequest) -> ApplyResult {
        create_thing(ctx, &req).await
    }

    async fn read(&self, _ctx: &Context, state: Value, private: Vec<u8>) -> ReadResult {
        ReadResult {
            new_state: refresh_thing(state),
            private,
            diagnostics: Diagnostics::new(),
        }
    }

    async fn update(&self, _ctx: &Context, req: ApplyRequest) -> ApplyResult {
        update_thing(&req)
    }

    async fn delete(&self, _ctx: &Context, _req: ApplyRequest) -> Diagnostics {
        Diagnostics::new()
    }

    async fn import(&self, _ctx: &Context, id: &str) -> ImportResult {
        import_thing(id)
    }
}

pub(crate) struct EchoData;

fn typed_inputs() -> [(&'static str, Type); 4] {
    [
        ("text", Type::String),
        ("amount", Type::Number),
        ("flag", Type::Bool),
        ("words", Type::list(Type::String)),
    ]
}

pub(crate) fn data_schema() -> Schema {
    let mut block = Block::new().description("Echoes its inputs.").attribute(
        Attribute::new("input", Type::Dynamic)
            .optional()
            .description("Any value; echoed in `output`."),
    );
    for (name, ty) in typed_inputs() {
        block = block.attribute(Attribute::new(name, ty).optional());
    }
    Schema::new(
        block
            .attribute(
                Attribute::new("output", Type::Dynamic)
                    .computed()
                    .description("`input`, unchanged."),
            )
            .attribute(
                Attribute::new("typed", Type::object(typed_inputs()))
                    .computed()
                    .description("The typed inputs as one object."),
            )
            .attribute(Attribute::number("length").computed().description(
                "Characters of a string `input`, elements or entries of a collection, else null.",
            )),
    )
}

/// Length of a value as a user would count it: characters of a string, elements or entries of
/// a collection; none for other values.
pub(crate) fn length_of(v: &Value) -> Option<i64> {
    let n = match v.unwrap_dynamic() {
        Value::String(s) => s.chars().count(),
        Value::List(e) | Value::Set(e) | Value::Tuple(e) => e.len(),
        Value::Map(m) | Value::Object(m) => m.len(),
        _ => return None,
    };
    i64::try_from(n).ok()
}

pub(crate) fn read_data(config: Value) -> Value {
    let mut state = config;
    let input = state.get("input").cloned().unwrap_or_default();
    // A dynamic value travels with its type; a plain one gets the type it evidently has.
    let output = match &input {
        Value::Null | Value::Dynamic(..) => input.clone(),
        plain => Value::Dynamic(Box::new(plain.infer_type()), Box::new(plain.clone())),
    };
    let typed = Value::object(
        typed_inputs()
            .into_iter()
            .map(|(name, _)| (name, state.get(name).cloned().unwrap_or_default())),
    );
    state.set("length", length_of(&input).map_or(Value::Null, Value::int));
    state.set("output", output);
    state.set("typed", typed);
    state
}

#[async_trait]
impl DataSource for EchoData {
    fn type_name(&self) -> &str {
        "echo_data"
    }

    fn schema(&self) -> Schema {
        data_schema()
    }

    async fn read(&self, _ctx: &Context, config: Value) -> ReadResult {
        ReadResult {
            new_state: read_data(config),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use terraform_provider_hostup::framework::plan::{check_planned, plan_change};
    use terraform_provider_hostup::framework::{PlanRequest, Severity};
    use tokio_util::sync::CancellationToken;

    use super::*;

    /// A configuration using every value type, computed attributes null as Terraform sends them.
    fn config(name: &str) -> Value {
        let mut v = thing_schema().block.empty_value();
        v.set("name", name.into());
        v.set("count_value", Value::float(2.5));
        v.set("enabled", true.into());
        v.set(
            "tags",
            Value::Map(BTreeMap::from([("env".to_string(), "test".into())])),
        );
        v.set("items", Value::List(vec!["b".into(), "a".into()]));
        v.set("labels", Value::Set(vec!["x".into(), "y".into()]));
        v.set(
            "shape",
            Value::object([("a", "one".into()), ("b", Value::int(1))]),
        );
        v.set(
            "anything",
            Value::Dynamic(
                Box::new(Type::list(Type::Number)),
                Box::new(Value::List(vec![Value::int(1), Value::int(2)])),
            ),
        );
        v.set("secret", "hunter2".into());
        v.set(
            "rule",
            Value::List(vec![Value::object([
                ("name", "r".into()),
                ("weight", Value::int(3)),
            ])]),
        );
        v
    }

    /// Terraform's proposed new state for this schema: config, computed nulls from prior.
    fn proposed(config: &Value, prior: &Value) -> Value {
        let mut p = config.clone();
        for a in thing_schema().block.attributes {
            if a.is_computed() && config.get(&a.name).is_none_or(Value::is_null) {
                p.set(&a.name, prior.get(&a.name).cloned().unwrap_or_default());
            }
        }
        p
    }

    fn plan(prior: &Value, config: &Value) -> terraform_provider_hostup::framework::Plan {
        plan_change(
            &thing_schema(),
            &PlanRequest {
                prior: prior.clone(),
                config: config.clone(),
                proposed: proposed(config, prior),
                prior_private: vec![],
            },
        )
    }

    fn apply(planned: &Value, config: &Value, prior: &Value) -> ApplyRequest {
        ApplyRequest {
            prior: prior.clone(),
            planned: planned.clone(),
            config: config.clone(),
            private: vec![],
        }
    }

    fn error_paths(d: &Diagnostics) -> Vec<String> {
        d.iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| {
                d.attribute
                    .as_ref()
                    .map(|p| p.to_string())
                    .unwrap_or_default()
            })
            .collect()
    }

    #[test]
    fn schema_declares_the_promised_rules() {
        let s = thing_schema();
        let attr = |n: &str| s.block.find_attribute(n).unwrap();
        assert!(attr("name").is_required() && attr("name").requires_replace);
        assert!(attr("id").keep_prior && attr("id").is_computed());
        assert!(attr("secret").sensitive);
        assert!(!attr("computed_later").is_optional());
        assert_eq!(attr("anything").ty, Type::Dynamic);
        assert!(!s.block.find_block("timeouts").unwrap().requires_replace);
        assert!(s.block.find_block("rule").is_some());
        assert!(
            EchoProvider
                .schema()
                .block
                .find_attribute("token")
                .unwrap()
                .sensitive
        );
    }

    #[test]
    fn validation_rejects_bad_names_delays_and_timeouts() {
        assert!(validate_thing(&config("web")).is_empty());
        assert_eq!(error_paths(&validate_thing(&config(""))), vec!["name"]);
        assert_eq!(error_paths(&validate_thing(&config("a b"))), vec!["name"]);
        let mut unknown = config("web");
        unknown.set("name", Value::Unknown);
        assert!(validate_thing(&unknown).is_empty());
        let mut bad = config("web");
        bad.set("slow_create_ms", Value::int(-1));
        bad.set("timeouts", Value::object([("create", "10 minutes".into())]));
        assert_eq!(
            error_paths(&validate_thing(&bad)),
            vec!["timeouts.create", "slow_create_ms"]
        );
    }

    #[tokio::test]
    async fn create_fills_exactly_the_unknowns_and_the_next_plan_is_empty() {
        let cfg = config("web");
        let planned = plan(&Value::Null, &cfg).planned;
        for name in ["id", "computed_later", "revision"] {
            assert_eq!(planned.get(name), Some(&Value::Unknown), "{name}");
        }
        assert!(check_planned(&thing_schema(), &cfg, &planned).is_empty());

        let res = create_thing(&Context::default(), &apply(&planned, &cfg, &Value::Null)).await;
        assert!(res.diagnostics.is_empty());
        let state = res.new_state;
        assert!(state.is_wholly_known());
        assert_eq!(state.get_str("id"), Some("echo-web"));
        assert_eq!(state.get_str("computed_later"), Some("web at revision 1"));
        assert_eq!(state.get("revision").and_then(Value::as_i64), Some(1));
        // Every value known in the plan comes back unchanged.
        for (k, v) in planned.as_entries().unwrap() {
            if !v.is_unknown() {
                assert_eq!(state.get(k), Some(v), "{k}");
            }
        }

        let refreshed = refresh_thing(state.clone());
        assert_eq!(refreshed, state);
        let again = plan(&refreshed, &cfg);
        assert_eq!(again.planned, state, "no change planned after apply");
        assert!(again.requires_replace.is_empty());
    }

    #[test]
    fn update_bumps_revision_and_keeps_id() {
        let cfg = config("web");
        let prior = applied_state(&plan(&Value::Null, &cfg).planned, 1);
        let mut changed = cfg.clone();
        changed.set("enabled", false.into());
        let p = plan(&prior, &changed);
        assert!(p.requires_replace.is_empty());
        assert_eq!(p.planned.get_str("id"), Some("echo-web"));
        assert_eq!(p.planned.get("revision"), Some(&Value::Unknown));
        let res = update_thing(&apply(&p.planned, &changed, &prior));
        assert_eq!(
            res.new_state.get("revision").and_then(Value::as_i64),
            Some(2)
        );
        assert_eq!(
            res.new_state.get_str("computed_later"),
            Some("web at revision 2")
        );
        assert_eq!(res.new_state.get("enabled"), Some(&Value::Bool(false)));
    }

    #[test]
    fn renaming_forces_replacement_and_timeouts_do_not() {
        let cfg = config("web");
        let prior = applied_state(&plan(&Value::Null, &cfg).planned, 1);
        let renamed = plan(&prior, &config("db"));
        assert_eq!(
            renamed.requires_replace,
            vec![AttributePath::attribute("name")]
        );
        let mut timed = cfg.clone();
        timed.set("timeouts", Value::object([("create", "5m".into())]));
        assert!(plan(&prior, &timed).requires_replace.is_empty());
    }

    #[tokio::test]
    async fn fail_on_create_errors_at_its_attribute_with_its_value() {
        let mut cfg = config("web");
        cfg.set("fail_on_create", "boom-42".into());
        let planned = plan(&Value::Null, &cfg).planned;
        let res = create_thing(&Context::default(), &apply(&planned, &cfg, &Value::Null)).await;
        assert!(res.new_state.is_null(), "nothing recorded");
        assert_eq!(error_paths(&res.diagnostics), vec!["fail_on_create"]);
        assert!(res
            .diagnostics
            .iter()
            .next()
            .unwrap()
            .detail
            .contains("boom-42"));
    }

    async fn slow_create(cfg: &Value, ctx: &Context) -> ApplyResult {
        let planned = plan(&Value::Null, cfg).planned;
        create_thing(ctx, &apply(&planned, cfg, &Value::Null)).await
    }

    #[tokio::test(start_paused = true)]
    async fn interrupted_slow_create_returns_state_and_error() {
        let mut cfg = config("web");
        cfg.set("slow_create_ms", Value::int(3_600_000));
        let token = CancellationToken::new();
        let ctx = Context::new(token.clone());
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            token.cancel();
        });
        let started = tokio::time::Instant::now();
        let res = slow_create(&cfg, &ctx).await;
        stopper.await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "stopped promptly"
        );
        assert_eq!(res.new_state.get_str("id"), Some("echo-web"));
        assert!(res.new_state.is_wholly_known());
        let d = res.diagnostics.iter().next().unwrap();
        assert!(d.is_error() && d.summary == "interrupted");
    }

    #[tokio::test(start_paused = true)]
    async fn slow_create_honours_timeouts_create_and_finishes_otherwise() {
        let mut cfg = config("web");
        cfg.set("slow_create_ms", Value::int(3_600_000));
        cfg.set("timeouts", Value::object([("create", "2s".into())]));
        let res = slow_create(&cfg, &Context::default()).await;
        assert!(res.new_state.get_str("id").is_some());
        assert!(res.diagnostics.iter().next().unwrap().detail.contains("2s"));

        cfg.set("slow_create_ms", Value::int(100));
        let res = slow_create(&cfg, &Context::default()).await;
        assert!(res.diagnostics.is_empty());
        assert!(res.new_state.is_wholly_known());
    }

    #[test]
    fn import_then_refresh_matches_a_name_only_config() {
        let imported = import_thing("echo-web");
        assert!(imported.diagnostics.is_empty());
        assert_eq!(imported.state.get_str("name"), Some("web"));
        assert_eq!(imported.state.get("count_value"), Some(&Value::Null));
        assert_eq!(imported.state.get("rule"), Some(&Value::List(vec![])));
        let state = refresh_thing(imported.state);
        assert!(state.is_wholly_known());
        assert_eq!(state.get("revision").and_then(Value::as_i64), Some(1));

        let mut cfg = thing_schema().block.empty_value();
        cfg.set("name", "web".into());
        let p = plan(&state, &cfg);
        assert_eq!(p.planned, state, "imported object needs no change");

        for bad in ["web", "echo-", "echo-a b", ""] {
            assert!(import_thing(bad).diagnostics.has_errors(), "{bad:?}");
        }
    }

    #[test]
    fn data_source_echoes_input_and_counts_it() {
        let mut cfg = data_schema().block.empty_value();
        cfg.set("input", "héllo".into());
        cfg.set("flag", true.into());
        let out = read_data(cfg);
        assert!(out.is_wholly_known());
        assert_eq!(out.get("length").and_then(Value::as_i64), Some(5));
        assert_eq!(
            out.get("output"),
            Some(&Value::Dynamic(
                Box::new(Type::String),
                Box::new("héllo".into())
            ))
        );
        let typed = out.get("typed").unwrap();
        assert_eq!(typed.get("flag"), Some(&Value::Bool(true)));
        assert_eq!(typed.get("text"), Some(&Value::Null));

        let mut cfg = data_schema().block.empty_value();
        let list = Value::Dynamic(
            Box::new(Type::Tuple(vec![Type::String, Type::Number])),
            Box::new(Value::Tuple(vec!["a".into(), Value::int(1)])),
        );
        cfg.set("input", list.clone());
        let out = read_data(cfg);
        assert_eq!(out.get("output"), Some(&list));
        assert_eq!(out.get("length").and_then(Value::as_i64), Some(2));

        let out = read_data(data_schema().block.empty_value());
        assert_eq!(out.get("output"), Some(&Value::Null));
        assert_eq!(out.get("length"), Some(&Value::Null));
    }
}
