//! The provider as the trait-level tests drive it, without Terraform: a `HostupProvider` configured
//! against a running [`Sim`], its resources and data sources found by type name, and plans and
//! applies run through the framework's own engine (`framework::server`, the one the gRPC layer
//! calls), so a test speaks to one resource the way Terraform would.

use std::sync::Arc;

use terraform_provider_hostup::framework::server::{apply_resource_change, plan_resource_change};
use terraform_provider_hostup::framework::{
    ApplyRequest, ApplyResult, Context, DataSource, Diagnostic, Plan, PlanRequest, Provider,
    Resource, Value,
};
use terraform_provider_hostup::hostup::HostupProvider;

use testkit::sim::Sim;

/// A provider configured with `key` against `sim`. Jobs are polled every 50 ms, so a test's waits
/// last about as long as the simulator's jobs do. Configuring must give no diagnostic at all.
pub(crate) async fn configured_provider(sim: &Sim, key: &str) -> HostupProvider {
    configured_provider_at(sim.base_url(), key).await
}

/// As [`configured_provider`], against any `endpoint` (a proxy in front of a simulator).
pub(crate) async fn configured_provider_at(endpoint: &str, key: &str) -> HostupProvider {
    let provider =
        HostupProvider::with_env(|k| (k == "HOSTUP_POLL_INTERVAL_MS").then(|| "50".to_string()));
    let cfg = Value::object([
        ("api_key", Value::from(key)),
        ("endpoint", Value::from(endpoint)),
    ]);
    let diags = provider
        .configure(&Context::default(), &cfg, "1.15.5")
        .await;
    assert!(diags.is_empty(), "{diags:?}");
    provider
}

/// The resource `type_name` of a provider [configured](configured_provider) against `sim`.
pub(crate) async fn configured_resource(
    sim: &Sim,
    key: &str,
    type_name: &str,
) -> Arc<dyn Resource> {
    resource_named(&configured_provider(sim, key).await, type_name)
}

#[track_caller]
pub(crate) fn resource_named(p: &HostupProvider, type_name: &str) -> Arc<dyn Resource> {
    p.resources()
        .into_iter()
        .find(|r| r.type_name() == type_name)
        .unwrap_or_else(|| panic!("{type_name} is not registered"))
}

#[track_caller]
pub(crate) fn data_source_named(p: &HostupProvider, type_name: &str) -> Arc<dyn DataSource> {
    p.data_sources()
        .into_iter()
        .find(|d| d.type_name() == type_name)
        .unwrap_or_else(|| panic!("{type_name} is not registered"))
}

/// What Terraform proposes: the configuration, with computed values taken from prior state.
pub(crate) fn plan_request(res: &dyn Resource, prior: &Value, config: &Value) -> PlanRequest {
    let schema = res.schema();
    let mut proposed = config.clone();
    if let Some(prior) = prior.as_entries() {
        for (name, value) in prior {
            let computed = schema
                .block
                .find_attribute(name)
                .is_some_and(|a| a.is_computed());
            if computed && config.get(name).is_none_or(Value::is_null) {
                proposed.set(name, value.clone());
            }
        }
    }
    PlanRequest {
        prior: prior.clone(),
        config: config.clone(),
        proposed,
        prior_private: Vec::new(),
    }
}

/// The engine's plan for `config` (create when `prior` is null), as Terraform would receive it.
/// A plan the engine flags as altering a configured value fails the test.
pub(crate) async fn plan_from(res: &dyn Resource, prior: &Value, config: &Value) -> Plan {
    let req = plan_request(res, prior, config);
    let p = plan_resource_change(res, &res.schema(), &Context::default(), &req).await;
    let bugs: Vec<_> = p
        .diagnostics
        .iter()
        .filter(|d| d.summary.starts_with("provider bug"))
        .collect();
    assert!(bugs.is_empty(), "invalid plan: {bugs:?}");
    p
}

/// The plan that creates `config`.
pub(crate) async fn plan(res: &dyn Resource, config: &Value) -> Plan {
    plan_from(res, &Value::Null, config).await
}

/// Applies the create plan `p` under `ctx`, through the engine.
pub(crate) async fn create_with(
    res: &dyn Resource,
    ctx: &Context,
    p: &Plan,
    config: &Value,
) -> ApplyResult {
    let req = ApplyRequest {
        prior: Value::Null,
        planned: p.planned.clone(),
        config: config.clone(),
        private: p.private.clone(),
    };
    apply_resource_change(res, ctx, req).await
}

pub(crate) fn errors(diags: impl IntoIterator<Item = Diagnostic>) -> Vec<Diagnostic> {
    diags.into_iter().filter(Diagnostic::is_error).collect()
}

/// The one error among `diags`; fails the test unless there is exactly one.
#[track_caller]
pub(crate) fn the_error(diags: impl IntoIterator<Item = Diagnostic>) -> Diagnostic {
    let e = errors(diags);
    assert_eq!(e.len(), 1, "expected one error, got {e:#?}");
    e.into_iter().next().unwrap()
}

/// The known string attribute `name` of an object value.
#[track_caller]
pub(crate) fn known_str<'a>(v: &'a Value, name: &str) -> &'a str {
    v.get_str(name)
        .unwrap_or_else(|| panic!("{name} is not a known string in {v:?}"))
}
