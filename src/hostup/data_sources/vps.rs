//! `data "hostup_vps"`: one VPS by id: its name, status, primary IP, disk size and whether it
//! can be restored from another VPS right now. Reads `GET /vps/{id}` and `GET /vps/{id}/details`;
//! the restore gate comes from the first of the two that carries it (hostup-api.md §15.1).

use std::sync::Arc;

use async_trait::async_trait;

use super::{failed, id_and_client};
use crate::api::{Gate, GateLookup, Vps, VpsDetails};
use crate::framework::{
    Attribute, Block, Context, DataSource, Diagnostics, ReadResult, Schema, Value,
};
use crate::hostup::attributes::validate_id_attribute;
use crate::hostup::cache::MaxAge;
use crate::hostup::diagnostics::{read_failure, Reading};
use crate::hostup::shared::Shared;
use crate::hostup::values::{number, text};

const ID: &str = "id";

/// The `hostup_vps` data source.
#[derive(Debug)]
pub struct VpsDataSource {
    shared: Arc<Shared>,
}

impl VpsDataSource {
    /// The data source, using the provider's shared client.
    pub fn new(shared: Arc<Shared>) -> VpsDataSource {
        VpsDataSource { shared }
    }
}

/// Why a closed gate is closed: HostUp's reason, else its code, else a plain statement, so the
/// attribute is never null while restores are blocked.
fn blocked_reason(gate: &Gate) -> String {
    match (gate.reason.as_deref(), gate.code.as_deref()) {
        (Some(r), _) if !r.trim().is_empty() => r.to_string(),
        (_, Some(c)) if !c.trim().is_empty() => format!("HostUp gave no reason (code {c})."),
        _ => "HostUp gave no reason.".to_string(),
    }
}

/// The data source's state from the two API answers.
pub fn to_state(id: &str, vps: &Vps, details: &VpsDetails) -> Value {
    let (allowed, reason, code) = match GateLookup::from_answers(vps, Some(details)) {
        GateLookup::Found { gate, .. } if gate.allowed => {
            (Value::Bool(true), Value::Null, Value::Null)
        }
        GateLookup::Found { gate, .. } => (
            Value::Bool(false),
            Value::string(blocked_reason(&gate)),
            text(gate.code.as_deref()),
        ),
        GateLookup::Unknown => (Value::Null, Value::Null, Value::Null),
    };
    Value::object([
        (ID, Value::string(id)),
        ("name", text(vps.name.as_deref())),
        (
            "service_status",
            text(
                vps.service_status
                    .as_deref()
                    .or(details.service_status.as_deref()),
            ),
        ),
        (
            "power_state",
            text(
                vps.power_state
                    .as_deref()
                    .or(details.power_state.as_deref()),
            ),
        ),
        ("primary_ip", text(vps.primary_ip.as_deref())),
        ("storage_gb", number(details.storage_gb)),
        ("can_restore_from_another_vps", allowed),
        ("restore_blocked_reason", reason),
        ("restore_blocked_code", code),
    ])
}

/// The `hostup_vps` schema.
pub fn schema() -> Schema {
    Schema::new(
        Block::new()
            .description(
                "Reads one HostUp VPS by id: its name, status, primary IP, disk size, and whether \
                 it can be restored from a backup of another VPS right now (the target gate that \
                 `hostup_vps_restore` checks at plan time). Needs the API key scope `read:vm`.",
            )
            .attribute(Attribute::string(ID).required().description(
                "The VPS id, e.g. `vps_01hxa3b4c5d6e7f8g9h0j1k2m3`: letters, digits, `_` and `-`, \
                 1 to 64 characters. The VPS must belong to the account of the provider's API key.",
            ))
            .attribute(
                Attribute::string("name")
                    .computed()
                    .description("The VPS's display name in HostUp; null if HostUp sends none."),
            )
            .attribute(Attribute::string("service_status").computed().description(
                "The service status: `active`, `suspended`, `terminated`, `pending`, `cancelled`, \
                 `expired`, `fraud` or `unknown` (HostUp may add values).",
            ))
            .attribute(Attribute::string("power_state").computed().description(
                "The power state: `running`, `stopped`, `starting`, `stopping`, `paused`, \
                 `provisioning`, `error` or `unknown`; null if HostUp sends none.",
            ))
            .attribute(
                Attribute::string("primary_ip")
                    .computed()
                    .description("The primary IPv4 address; null if the VPS has none."),
            )
            .attribute(Attribute::number("storage_gb").computed().description(
                "The disk size in GB (`storageGb` of the VPS details). A backup restored onto this \
                 VPS must not be larger.",
            ))
            .attribute(Attribute::bool("can_restore_from_another_vps").computed().description(
                "Whether HostUp allows restoring this VPS from a backup of another VPS now \
                 (`actions.canRestoreFromAnotherVps`). Null when HostUp does not report the gate; \
                 a restore then goes ahead without this check.",
            ))
            .attribute(Attribute::string("restore_blocked_reason").computed().description(
                "Why a restore onto this VPS is blocked, in HostUp's words (e.g. an unpaid order \
                 or a job in progress). Null when restores are allowed or the gate is not reported.",
            ))
            .attribute(Attribute::string("restore_blocked_code").computed().description(
                "HostUp's machine-readable code for the block, e.g. `pending_order` or \
                 `job_in_progress`. Null when restores are allowed, the gate is not reported, or \
                 HostUp gives no code.",
            )),
    )
}

#[async_trait]
impl DataSource for VpsDataSource {
    fn type_name(&self) -> &str {
        "hostup_vps"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, _ctx: &Context, config: &Value) -> Diagnostics {
        validate_id_attribute(config, ID, "VPS id")
    }

    async fn read(&self, _ctx: &Context, config: Value) -> ReadResult {
        let (id, client) = match id_and_client(&self.shared, &config, ID) {
            Ok(found) => found,
            Err(done) => return done,
        };
        // Through the per-process cache: a plan that also checks restores onto this VPS reads it
        // once, not once per reader.
        let cache = self.shared.cache();
        let (vps, details) = tokio::join!(
            cache.vps(&client, &id, MaxAge::Plan),
            cache.details(&client, &id, MaxAge::Plan)
        );
        let (vps, details) = match (vps, details) {
            (Ok(v), Ok(d)) => (v, d),
            (Err(e), _) | (_, Err(e)) => return failed(read_failure(&e, ID, &id, Reading::VPS)),
        };
        ReadResult {
            new_state: to_state(&id, &vps, &details),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::GateOrigin;
    use serde_json::json;

    fn vps(body: serde_json::Value) -> Vps {
        serde_json::from_value(body).expect("vps")
    }

    fn details(body: serde_json::Value) -> VpsDetails {
        serde_json::from_value(body).expect("details")
    }

    #[test]
    fn open_gate_maps_to_true_with_null_reason() {
        let v = vps(
            json!({"id": "vps_1", "name": "web-01", "serviceStatus": "active",
            "powerState": "running", "primaryIp": "192.0.2.10",
            "actions": {"canRestoreFromAnotherVps": {"allowed": true, "reason": null}}}),
        );
        let d = details(json!({"id": "vps_1", "storageGb": 80}));
        let s = to_state("vps_1", &v, &d);
        assert_eq!(s.get_str("name"), Some("web-01"));
        assert_eq!(s.get_str("primary_ip"), Some("192.0.2.10"));
        assert_eq!(s.get("storage_gb").and_then(Value::as_f64), Some(80.0));
        assert_eq!(
            s.get("can_restore_from_another_vps"),
            Some(&Value::Bool(true))
        );
        assert_eq!(s.get("restore_blocked_reason"), Some(&Value::Null));
        assert_eq!(s.get("restore_blocked_code"), Some(&Value::Null));
        assert!(s.is_wholly_known());
        let names: Vec<&String> = s.as_entries().unwrap().keys().collect();
        let want: Vec<String> = schema()
            .block
            .attributes
            .iter()
            .map(|a| a.name.clone())
            .collect();
        assert_eq!(names.len(), want.len());
        assert!(
            want.iter().all(|n| s.get(n).is_some()),
            "state lacks an attribute"
        );
    }

    #[test]
    fn closed_gate_from_details_carries_reason_and_code() {
        let v = vps(json!({"id": "vps_1", "name": "mail-01"}));
        let d = details(
            json!({"id": "vps_1", "storageGb": 40.5, "serviceStatus": "active",
            "powerState": "stopped",
            "actions": {"canRestoreFromAnotherVps": {"allowed": false,
                "reason": "An unpaid order blocks changes.", "code": "pending_order"}}}),
        );
        assert!(matches!(
            GateLookup::from_answers(&v, Some(&d)),
            GateLookup::Found {
                origin: GateOrigin::Details,
                ..
            }
        ));
        let s = to_state("vps_1", &v, &d);
        assert_eq!(
            s.get("can_restore_from_another_vps"),
            Some(&Value::Bool(false))
        );
        assert_eq!(
            s.get_str("restore_blocked_reason"),
            Some("An unpaid order blocks changes.")
        );
        assert_eq!(s.get_str("restore_blocked_code"), Some("pending_order"));
        assert_eq!(s.get_str("service_status"), Some("active"));
        assert_eq!(s.get_str("power_state"), Some("stopped"));
        assert_eq!(s.get("storage_gb").and_then(Value::as_f64), Some(40.5));
    }

    #[test]
    fn closed_gate_without_reason_still_explains() {
        let v = vps(json!({"id": "vps_1",
            "actions": {"canRestoreFromAnotherVps": {"allowed": false, "code": "job_in_progress"}}}));
        let d = details(json!({"id": "vps_1"}));
        let s = to_state("vps_1", &v, &d);
        let reason = s.get_str("restore_blocked_reason").expect("a reason");
        assert!(reason.contains("job_in_progress"), "{reason}");
    }

    #[test]
    fn missing_gate_and_fields_are_null_not_unknown() {
        let v = vps(json!({"id": "vps_1", "powerState": ""}));
        let d = details(json!({"id": "vps_1"}));
        assert_eq!(GateLookup::from_answers(&v, Some(&d)), GateLookup::Unknown);
        let s = to_state("vps_1", &v, &d);
        for attr in [
            "name",
            "service_status",
            "power_state",
            "primary_ip",
            "storage_gb",
            "can_restore_from_another_vps",
            "restore_blocked_reason",
        ] {
            assert_eq!(s.get(attr), Some(&Value::Null), "{attr}");
        }
        assert!(s.is_wholly_known());
    }

    #[test]
    fn every_attribute_has_a_description() {
        for a in &schema().block.attributes {
            assert!(!a.description.is_empty(), "{} has no description", a.name);
        }
    }
}
