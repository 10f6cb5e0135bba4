//! The `hostup_vps_power` action (Terraform 1.14+): `start`, `shutdown`, `stop`, `restart` or
//! `reset` a VPS on demand (`terraform apply -invoke=action.hostup_vps_power.NAME`) or after a
//! resource changes, for instance to start a target after a `hostup_vps_restore`. At plan it reads
//! the VPS (it must exist for this key, and HostUp's restart and reset gates must be open) and
//! warns before `stop` and `reset`, which cut running work off. At invoke it checks again, sends
//! the action exactly once, waits for its job and then until the VPS reports the state the action
//! leads to, streaming each step. Nothing is recorded in state.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::api::{Client, PowerAction, Vps};
use crate::framework::timeouts::format_duration;
use crate::framework::{
    Action, Attribute, AttributePath, Block, Context, Diagnostic, Diagnostics, ProgressSender,
    Schema, Value,
};
use crate::hostup::attributes::validate_id_attribute;
use crate::hostup::cache::MaxAge;
use crate::hostup::diagnostics::{closed_gate, read_failure, Reading};
use crate::hostup::power::{outcome_of, PowerRun};
use crate::hostup::shared::Shared;
use crate::hostup::vps_restore::checks::label;

/// The action's type name, as written in `action "hostup_vps_power"`.
pub const TYPE_NAME: &str = "hostup_vps_power";

/// `vps_id`: the VPS whose power changes.
pub const VPS_ID: &str = "vps_id";
/// `action`: `start`, `shutdown`, `stop`, `restart` or `reset`.
pub const ACTION: &str = "action";
pub use super::TIMEOUT;

/// How long the action waits when `timeout` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The action; holds the provider's shared client and read cache.
#[derive(Debug)]
pub struct VpsPowerAction {
    shared: Arc<Shared>,
}

impl VpsPowerAction {
    /// The action, using the provider's shared client and cache.
    pub fn new(shared: Arc<Shared>) -> VpsPowerAction {
        VpsPowerAction { shared }
    }
}

fn at(name: &str) -> AttributePath {
    AttributePath::attribute(name)
}

/// The action schema.
pub fn schema() -> Schema {
    Schema::new(
        Block::new()
            .description(
                "Starts, shuts down, stops, restarts or resets a VPS, then waits until HostUp \
                 reports it `running` (start, restart, reset) or `stopped` (shutdown, stop), \
                 showing each step. Every invocation sends the action once; nothing is recorded \
                 in state. Needs the API key scope `power:vm`. `stop` and `reset` cut the power \
                 (the plan warns); `shutdown` and `restart` ask the guest.",
            )
            .attribute(
                Attribute::string(VPS_ID)
                    .required()
                    .description("Id of the VPS, `vps_…`."),
            )
            .attribute(Attribute::string(ACTION).required().description(
                "`start`, `shutdown` (asks the guest to power off), `stop` (powers off at once), \
                 `restart` (asks the guest to reboot) or `reset` (hard reboot).",
            ))
            .attribute(Attribute::string(TIMEOUT).optional().description(
                "How long to wait for the action's job and for the VPS to reach its new state, \
                 as a duration such as `5m`. Defaults to `10m`. When it runs out the action \
                 fails; HostUp may still carry it out, and it is not sent again.",
            )),
    )
}

/// The configured action; `Ok(None)` while unknown.
fn action_of(config: &Value) -> Result<Option<PowerAction>, Diagnostic> {
    let Some(raw) = config.get(ACTION).and_then(Value::as_str) else {
        return Ok(None);
    };
    PowerAction::parse(raw).map(Some).ok_or_else(|| {
        let names: Vec<&str> = PowerAction::ALL.iter().map(|a| a.as_str()).collect();
        Diagnostic::error(
            "Unknown power action",
            format!(
                "action = {raw:?} is not a HostUp power action. Use one of: {}.",
                names.join(", ")
            ),
        )
        .at(at(ACTION))
    })
}

/// The configured wait limit; `Err` says what is wrong with it, at `timeout`.
fn timeout_of(config: &Value) -> Result<Duration, Diagnostic> {
    super::timeout_of(config, DEFAULT_TIMEOUT)
        .map_err(|e| Diagnostic::error("Invalid timeout", e).at(at(TIMEOUT)))
}

/// Whether the action cuts the power under whatever runs in the VPS.
fn is_hard(action: PowerAction) -> bool {
    matches!(action, PowerAction::Stop | PowerAction::Reset)
}

/// The plan's warning before a hard action on `vps`.
fn hard_warning(action: PowerAction, vps: &str) -> Diagnostic {
    let (what, instead) = match action {
        PowerAction::Reset => (
            "resets it at once, like pressing a reset button",
            "`restart` asks the guest to reboot cleanly",
        ),
        _ => (
            "powers it off at once, like pulling the plug",
            "`shutdown` asks the guest to power off cleanly",
        ),
    };
    Diagnostic::warning(
        format!("Invoking this action will {action} VPS {vps}"),
        format!(
            "The {action} of {vps} {what}: whatever runs in it is cut off, and data not yet \
             written to disk is lost. Every invocation does it again. Where the guest can take \
             part, {instead}."
        ),
    )
    .at(at(ACTION))
}

/// The gate HostUp keeps for `action`, when it keeps one (restart and reset).
fn gate_check(vps: &Vps, action: PowerAction, name: &str) -> Result<(), Diagnostic> {
    let actions = vps.actions.as_ref();
    let gate = match action {
        PowerAction::Restart => actions.and_then(|a| a.can_restart.as_ref()),
        PowerAction::Reset => actions.and_then(|a| a.can_reset.as_ref()),
        _ => None,
    };
    match gate {
        Some(g) if !g.allowed => Err(closed_gate(
            &format!("HostUp does not allow a {action} of {name} now"),
            format!("HostUp blocks the {action} of VPS {name}"),
            g,
        )
        .at(at(VPS_ID))),
        _ => Ok(()),
    }
}

impl VpsPowerAction {
    /// Reads the VPS (through the shared cache, at most `age` old) and checks the gate: the VPS
    /// as messages name it, or the errors.
    async fn check(
        &self,
        client: &Client,
        id: &str,
        action: PowerAction,
        age: MaxAge,
    ) -> Result<String, Diagnostic> {
        let vps = self
            .shared
            .cache()
            .vps(client, id, age)
            .await
            .map_err(|e| read_failure(&e, VPS_ID, id, Reading::VPS))?;
        let name = label(id, vps.name.as_deref());
        gate_check(&vps, action, &name)?;
        Ok(name)
    }

    async fn run(&self, ctx: &Context, config: &Value, progress: &ProgressSender) -> Diagnostics {
        let client = match self.shared.require_client() {
            Ok(c) => c,
            Err(d) => return d.into(),
        };
        let (Some(id), Ok(Some(action))) = (config.get_str(VPS_ID), action_of(config)) else {
            return Diagnostic::error(
                "Power action unknown at invoke",
                "vps_id and action must be known and valid when the action runs. This is a bug \
                 in Terraform or the provider; please report it.",
            )
            .into();
        };
        let timeout = match timeout_of(config) {
            Ok(t) => t,
            Err(d) => return d.into(),
        };
        let name = match self.check(&client, id, action, MaxAge::PrePost).await {
            Ok(name) => name,
            Err(mut d) => {
                d.detail
                    .push_str("\n(Checked just before the action; nothing was sent to HostUp.)");
                return d.into();
            }
        };
        let started = Instant::now();
        tracing::info!(
            vps = %name,
            action = %action,
            timeout = %format_duration(timeout),
            "hostup_vps_power action: sending the action"
        );
        let run = PowerRun {
            ctx,
            shared: &self.shared,
            client: &client,
            vps_id: id,
            label: &name,
            attribute: VPS_ID,
            deadline: started + timeout,
            timeout,
            timeout_name: "the action's timeout",
            before: "",
            recovery: "The action is not sent again by this invocation; check the VPS in the \
                       HostUp control panel before invoking it again.",
        };
        let (lines, mut seen) = mpsc::unbounded_channel::<String>();
        let act = run.act(action, move |step: &str| {
            let _ = lines.send(step.to_owned());
        });
        tokio::pin!(act);
        let end = loop {
            tokio::select! {
                end = &mut act => break end,
                Some(line) = seen.recv() => say(progress, line),
            }
        };
        while let Ok(line) = seen.try_recv() {
            say(progress, line);
        }
        if end.reached {
            say(
                progress,
                format!(
                    "{name} is {} after {}",
                    outcome_of(action),
                    format_duration(Duration::from_secs(started.elapsed().as_secs().max(1)))
                ),
            );
        }
        end.diagnostics
    }
}

fn say(progress: &ProgressSender, line: String) {
    super::say(progress, TYPE_NAME, line);
}

#[async_trait]
impl Action for VpsPowerAction {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, _ctx: &Context, config: &Value) -> Diagnostics {
        let mut diags = validate_id_attribute(config, VPS_ID, "VPS id");
        if let Err(d) = action_of(config) {
            diags.push(d);
        }
        if let Err(d) = timeout_of(config) {
            diags.push(d);
        }
        diags
    }

    async fn plan(&self, _ctx: &Context, config: &Value) -> Diagnostics {
        let (Some(id), Ok(Some(action))) = (config.get_str(VPS_ID), action_of(config)) else {
            return Diagnostics::new();
        };
        let client = match self.shared.client() {
            Ok(Some(c)) => c,
            Ok(None) => {
                return if is_hard(action) {
                    hard_warning(action, id).into()
                } else {
                    Diagnostics::new()
                }
            }
            Err(d) => return d.into(),
        };
        match self.check(&client, id, action, MaxAge::Plan).await {
            Ok(name) if is_hard(action) => hard_warning(action, &name).into(),
            Ok(_) => Diagnostics::new(),
            Err(d) => d.into(),
        }
    }

    async fn invoke(&self, ctx: &Context, config: Value, progress: ProgressSender) -> Diagnostics {
        self.run(ctx, &config, &progress).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(action: Value, timeout: Value) -> Value {
        Value::object([
            (VPS_ID, Value::from("vps_1")),
            (ACTION, action),
            (TIMEOUT, timeout),
        ])
    }

    #[tokio::test]
    async fn validate_names_the_attribute_and_the_choices() {
        let a = VpsPowerAction::new(Arc::new(Shared::default()));
        let ctx = Context::default();
        let ok = a
            .validate(&ctx, &cfg(Value::from("reset"), Value::from("5m")))
            .await;
        assert!(ok.is_empty(), "{ok:?}");
        let unknown = a.validate(&ctx, &cfg(Value::Unknown, Value::Null)).await;
        assert!(unknown.is_empty(), "{unknown:?}");
        let d = a
            .validate(&ctx, &cfg(Value::from("hibernate"), Value::from("0s")))
            .await;
        let at: Vec<_> = d.iter().filter_map(|d| d.attribute.clone()).collect();
        assert_eq!(
            at,
            [
                AttributePath::attribute(ACTION),
                AttributePath::attribute(TIMEOUT)
            ]
        );
        let first = d.iter().next().unwrap();
        assert!(
            first
                .detail
                .contains("start, shutdown, stop, restart, reset"),
            "{}",
            first.detail
        );
    }

    #[test]
    fn stop_and_reset_are_hard_and_their_warning_names_the_vps() {
        for action in PowerAction::ALL {
            assert_eq!(
                is_hard(action),
                matches!(action, PowerAction::Stop | PowerAction::Reset),
                "{action}"
            );
        }
        let d = hard_warning(PowerAction::Reset, "web-01 (vps_1)");
        assert!(!d.is_error());
        assert_eq!(
            d.summary,
            "Invoking this action will reset VPS web-01 (vps_1)"
        );
        assert!(d.detail.contains("`restart`"), "{}", d.detail);
        let d = hard_warning(PowerAction::Stop, "web-01 (vps_1)");
        assert!(d.detail.contains("`shutdown`"), "{}", d.detail);
    }

    #[test]
    fn restart_and_reset_follow_their_gates() {
        let vps: Vps = serde_json::from_value(json!({
            "id": "vps_1",
            "actions": {"canRestart": {"allowed": false, "reason": "Locked", "code": "pending_order"},
                        "canReset": {"allowed": true}}
        }))
        .unwrap();
        let d = gate_check(&vps, PowerAction::Restart, "web-01").unwrap_err();
        assert!(d.detail.contains("Locked"), "{}", d.detail);
        assert_eq!(d.attribute, Some(AttributePath::attribute(VPS_ID)));
        assert!(gate_check(&vps, PowerAction::Reset, "web-01").is_ok());
        assert!(gate_check(&vps, PowerAction::Start, "web-01").is_ok());
    }
}
