//! The plan/apply engine: what a provider server does with one resource change once the wire
//! format is gone. It decides between destroy, create and update, runs the schema-derived plan,
//! the resource's own adjustments and the check Terraform would otherwise fail with a generic
//! message, and keeps an object in state when its delete fails. It speaks framework types only;
//! the tfplugin5 layer decodes into it and encodes out of it, and tests call it directly, so the
//! rules exist once.

use super::diagnostics::Diagnostics;
use super::plan::{check_planned, plan_change};
use super::provider::{ApplyRequest, ApplyResult, Context, Plan, PlanRequest, Resource};
use super::schema::Schema;
use super::value::Value;

/// Plans one change of `resource`, whose schema is `schema`.
///
/// A null proposed state is a destroy: the planned state stays null, the prior private data is
/// kept, and the resource may only veto or annotate it (`plan_destroy`, not called when there is
/// nothing to destroy). Otherwise the framework derives the plan from the schema
/// ([`plan_change`]), the resource adjusts it (`modify_plan`), and, when that raised no error,
/// [`check_planned`] names any configured value the resource altered.
pub async fn plan_resource_change(
    resource: &dyn Resource,
    schema: &Schema,
    ctx: &Context,
    req: &PlanRequest,
) -> Plan {
    if req.proposed.is_null() {
        let diagnostics = if req.prior.is_null() {
            Diagnostics::new()
        } else {
            resource.plan_destroy(ctx, &req.prior).await
        };
        return Plan {
            planned: Value::Null,
            requires_replace: Vec::new(),
            private: req.prior_private.clone(),
            diagnostics,
        };
    }
    let mut plan = plan_change(schema, req);
    resource.modify_plan(ctx, req, &mut plan).await;
    if !plan.diagnostics.has_errors() {
        let bugs = check_planned(schema, &req.config, &plan.planned);
        plan.diagnostics.extend(bugs);
    }
    plan
}

/// Applies one planned change of `resource`: a delete when the planned state is null, a create
/// when the prior state is null, an update otherwise.
///
/// A delete that fails answers the prior state and private data, so the object is not forgotten;
/// one that succeeds answers null. A create or update answers whatever the resource returned, even
/// alongside errors: that is how an interrupted create keeps its record (tainted) in state.
pub async fn apply_resource_change(
    resource: &dyn Resource,
    ctx: &Context,
    req: ApplyRequest,
) -> ApplyResult {
    if req.planned.is_null() {
        let prior = req.prior.clone();
        let private = req.private.clone();
        let diagnostics = resource.delete(ctx, req).await;
        return if diagnostics.has_errors() {
            ApplyResult {
                new_state: prior,
                private,
                diagnostics,
            }
        } else {
            ApplyResult {
                new_state: Value::Null,
                private: Vec::new(),
                diagnostics,
            }
        };
    }
    if req.prior.is_null() {
        resource.create(ctx, req).await
    } else {
        resource.update(ctx, req).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::framework::{
        Attribute, AttributePath, Block, Diagnostic, ReadResult, Schema as FwSchema,
    };

    /// Records which operation ran; `fail_delete` makes delete fail; `tamper` alters `name`.
    #[derive(Default)]
    struct Probe {
        calls: Mutex<Vec<&'static str>>,
        fail_delete: bool,
        tamper: bool,
    }

    impl Probe {
        fn calls(&self) -> Vec<&'static str> {
            self.calls.lock().unwrap().clone()
        }
        fn record(&self, what: &'static str) {
            self.calls.lock().unwrap().push(what);
        }
    }

    fn schema() -> FwSchema {
        FwSchema::new(
            Block::new()
                .attribute(Attribute::string("id").computed())
                .attribute(Attribute::string("name").required()),
        )
    }

    #[async_trait]
    impl Resource for Probe {
        fn type_name(&self) -> &str {
            "probe"
        }
        fn schema(&self) -> FwSchema {
            schema()
        }
        async fn plan_destroy(&self, _ctx: &Context, _prior: &Value) -> Diagnostics {
            self.record("plan_destroy");
            Diagnostic::warning("Destroying", "").into()
        }
        async fn modify_plan(&self, _ctx: &Context, _req: &PlanRequest, plan: &mut Plan) {
            self.record("modify_plan");
            if self.tamper {
                plan.planned.set("name", Value::from("other"));
            }
        }
        async fn create(&self, _ctx: &Context, req: ApplyRequest) -> ApplyResult {
            self.record("create");
            ApplyResult::ok(req.planned)
        }
        async fn read(&self, _ctx: &Context, state: Value, _private: Vec<u8>) -> ReadResult {
            ReadResult {
                new_state: state,
                ..Default::default()
            }
        }
        async fn update(&self, _ctx: &Context, req: ApplyRequest) -> ApplyResult {
            self.record("update");
            ApplyResult::ok(req.planned)
        }
        async fn delete(&self, _ctx: &Context, _req: ApplyRequest) -> Diagnostics {
            self.record("delete");
            if self.fail_delete {
                Diagnostic::error("Delete failed", "").into()
            } else {
                Diagnostics::new()
            }
        }
    }

    fn obj(name: &str) -> Value {
        Value::object([("id", Value::from("x")), ("name", Value::from(name))])
    }

    fn plan_req(prior: Value, proposed: Value) -> PlanRequest {
        PlanRequest {
            prior,
            config: proposed.clone(),
            proposed,
            prior_private: b"kept".to_vec(),
        }
    }

    fn apply_req(prior: Value, planned: Value) -> ApplyRequest {
        ApplyRequest {
            prior,
            config: planned.clone(),
            planned,
            private: b"p".to_vec(),
        }
    }

    #[tokio::test]
    async fn a_destroy_plan_stays_null_keeps_private_and_asks_the_resource() {
        let r = Probe::default();
        let ctx = Context::default();
        let plan =
            plan_resource_change(&r, &schema(), &ctx, &plan_req(obj("a"), Value::Null)).await;
        assert!(plan.planned.is_null());
        assert_eq!(plan.private, b"kept");
        assert_eq!(plan.diagnostics.len(), 1);
        assert_eq!(r.calls(), ["plan_destroy"]);

        // Nothing to destroy: the resource is not asked.
        let r = Probe::default();
        let plan =
            plan_resource_change(&r, &schema(), &ctx, &plan_req(Value::Null, Value::Null)).await;
        assert!(plan.planned.is_null() && plan.diagnostics.is_empty());
        assert!(r.calls().is_empty());
    }

    #[tokio::test]
    async fn a_create_plan_marks_computed_unknown_and_names_an_altered_value() {
        let r = Probe::default();
        let ctx = Context::default();
        let config = Value::object([("id", Value::Null), ("name", Value::from("a"))]);
        let plan =
            plan_resource_change(&r, &schema(), &ctx, &plan_req(Value::Null, config.clone())).await;
        assert!(plan.planned.get("id").unwrap().is_unknown());
        assert!(plan.diagnostics.is_empty(), "{:?}", plan.diagnostics);
        assert_eq!(r.calls(), ["modify_plan"]);

        let r = Probe {
            tamper: true,
            ..Default::default()
        };
        let plan = plan_resource_change(&r, &schema(), &ctx, &plan_req(Value::Null, config)).await;
        let bug = plan.diagnostics.iter().next().expect("the altered value");
        assert!(bug.is_error());
        assert_eq!(bug.attribute, Some(AttributePath::attribute("name")));
    }

    #[tokio::test]
    async fn apply_picks_create_update_or_delete_and_a_failed_delete_keeps_the_object() {
        let ctx = Context::default();
        let r = Probe::default();
        let created = apply_resource_change(&r, &ctx, apply_req(Value::Null, obj("a"))).await;
        assert_eq!(created.new_state, obj("a"));
        apply_resource_change(&r, &ctx, apply_req(obj("a"), obj("b"))).await;
        let deleted = apply_resource_change(&r, &ctx, apply_req(obj("b"), Value::Null)).await;
        assert!(deleted.new_state.is_null() && deleted.private.is_empty());
        assert_eq!(r.calls(), ["create", "update", "delete"]);

        let r = Probe {
            fail_delete: true,
            ..Default::default()
        };
        let kept = apply_resource_change(&r, &ctx, apply_req(obj("b"), Value::Null)).await;
        assert_eq!(kept.new_state, obj("b"));
        assert_eq!(kept.private, b"p");
        assert!(kept.diagnostics.has_errors());
    }
}
