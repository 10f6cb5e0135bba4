//! The three data sources driven through the `DataSource` trait, without Terraform, against a real
//! `hostup-sim` process: values match the fixture, lists come back in our order (not the API's),
//! the restore gate reads open, closed and absent, and failures land where a user looks for them.

use crate::provider::{configured_provider, data_source_named};
use serde_json::{json, Value as Json};
use terraform_provider_hostup::framework::{
    AttributePath, Context, Diagnostic, Provider, ReadResult, Value,
};
use terraform_provider_hostup::hostup::HostupProvider;
use testkit::sim::Sim;
use testkit::world::{World, CLIENT, FULL_SCOPES, OTHER_CLIENT};

const FULL: &str = "hu_test_full_key_0001";
const READ_ONLY: &str = "hu_test_read_key_0001";

const TARGET: &str = "vps_01web0000000000000000001";
const DB_A: &str = "vps_01dba000000000000000001";
const DB_B: &str = "vps_01dbb000000000000000001";
const ZETA: &str = "vps_01zeta00000000000000001";
const GATED: &str = "vps_01mail00000000000000001";
const FOREIGN: &str = "vps_01ext000000000000000001";
const RETAINED: &str = "vps_01shop00000000000000001";
const MISSING: &str = "vps_01nothere000000000000001";

fn fixture() -> Json {
    World::new()
        .key(FULL, CLIENT, FULL_SCOPES)
        .key(READ_ONLY, CLIENT, &["read:vm"])
        .vps_list(json!([
            {"id": TARGET, "client": CLIENT, "name": "web-01", "storageGb": 80,
             "primaryIp": "192.0.2.10", "backups": [
                {"id": "bkp_01web1", "createdAt": "2026-04-20T02:00:00.000Z", "sizeGb": 9.8,
                 "backupType": "scheduled"}]},
            // Listed before the db-01 pair so the API's order differs from ours.
            {"id": ZETA, "client": CLIENT, "name": "zeta-01", "storageGb": 15,
             "powerState": "stopped", "backups": [
                {"id": "bkp_01zeta1", "createdAt": "2026-04-25T03:00:00.000Z", "sizeGb": 3.2}]},
            // Two sources with the same name: the id decides.
            {"id": DB_B, "client": CLIENT, "name": "db-01", "storageGb": 160, "backups": [
                {"id": "bkp_01dbb1", "createdAt": "2026-04-01T00:00:00.000Z", "sizeGb": 4}]},
            {"id": DB_A, "client": CLIENT, "name": "db-01", "storageGb": 160, "backups": [
                {"id": "bkp_01dba1", "createdAt": "2026-04-13T02:00:00.000Z", "sizeGb": 12.4,
                 "backupType": "scheduled"},
                {"id": "bkp_01dba3", "createdAt": "2026-04-27T10:00:00.000Z", "sizeGb": 18,
                 "backupType": "manual", "note": "Before upgrade"},
                // Same instant as bkp_01dba3: the lower id comes first.
                {"id": "bkp_01dba2", "createdAt": "2026-04-27T10:00:00.000Z", "sizeGb": 96.5,
                 "backupType": "scheduled", "note": "After data import"}
            ]},
            {"id": GATED, "client": CLIENT, "name": "mail-01", "storageGb": 40,
             "gates": {"canRestoreFromAnotherVps": {"allowed": false,
                "reason": "An unpaid order blocks changes to this service.", "code": "pending_order"}}},
            {"id": FOREIGN, "client": OTHER_CLIENT, "name": "other-01", "storageGb": 80, "backups": [
                {"id": "bkp_01ext1", "createdAt": "2026-04-26T02:00:00.000Z", "sizeGb": 7}]}
        ]))
        .retained(json!({"id": RETAINED, "client": CLIENT, "name": "app-old", "backups": [
                {"id": "bkp_01shop1", "createdAt": "2026-03-30T02:00:00.000Z", "sizeGb": 22,
                 "note": "Last backup before termination"}]}))
        .build()
}

fn start_sim(args: &[&str]) -> Sim {
    Sim::start(&fixture(), args)
}

async fn read(p: &HostupProvider, name: &str, attr: &str, id: &str) -> ReadResult {
    let ds = data_source_named(p, name);
    let mut config = ds.schema().block.empty_value();
    config.set(attr, Value::from(id));
    ds.read(&Context::default(), config).await
}

/// Reads and insists on success, a wholly known result, and exactly the schema's attributes.
async fn read_ok(p: &HostupProvider, name: &str, attr: &str, id: &str) -> Value {
    let r = read(p, name, attr, id).await;
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert!(r.new_state.is_wholly_known(), "{:?}", r.new_state);
    let schema = data_source_named(p, name).schema();
    let keys: Vec<&String> = r.new_state.as_entries().expect("object").keys().collect();
    let mut want: Vec<&String> = schema.block.attributes.iter().map(|a| &a.name).collect();
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(r.new_state.get_str(attr), Some(id));
    r.new_state
}

fn only_error(r: &ReadResult) -> &Diagnostic {
    let all: Vec<&Diagnostic> = r.diagnostics.iter().collect();
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(all[0].is_error());
    all[0]
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_elements()
        .expect("a list")
        .iter()
        .map(|v| v.get_str("id").expect("id"))
        .collect()
}

fn gb(v: &Value) -> Option<f64> {
    v.get("size_gb").and_then(Value::as_f64)
}

#[tokio::test]
async fn provider_registers_exactly_the_three_data_sources_with_documented_attributes() {
    let p = HostupProvider::with_env(|_| None);
    let mut names: Vec<String> = p
        .data_sources()
        .iter()
        .map(|d| d.type_name().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "hostup_vps",
            "hostup_vps_backups",
            "hostup_vps_restore_sources"
        ]
    );
    for ds in p.data_sources() {
        let schema = ds.schema();
        assert!(!schema.block.description.is_empty());
        for a in &schema.block.attributes {
            assert!(
                !a.description.is_empty(),
                "{}.{} has no description",
                ds.type_name(),
                a.name
            );
        }
    }
}

#[tokio::test]
async fn vps_matches_the_fixture_with_an_open_gate() {
    let sim = start_sim(&[]);
    let p = configured_provider(&sim, FULL).await;
    let s = read_ok(&p, "hostup_vps", "id", TARGET).await;
    assert_eq!(s.get_str("name"), Some("web-01"));
    assert_eq!(s.get_str("service_status"), Some("active"));
    assert_eq!(s.get_str("power_state"), Some("running"));
    assert_eq!(s.get_str("primary_ip"), Some("192.0.2.10"));
    assert_eq!(s.get("storage_gb").and_then(Value::as_f64), Some(80.0));
    assert_eq!(
        s.get("can_restore_from_another_vps"),
        Some(&Value::Bool(true))
    );
    assert_eq!(s.get("restore_blocked_reason"), Some(&Value::Null));
    assert_eq!(s.get("restore_blocked_code"), Some(&Value::Null));

    let s = read_ok(&p, "hostup_vps", "id", ZETA).await;
    assert_eq!(s.get_str("power_state"), Some("stopped"));
    assert_eq!(s.get("storage_gb").and_then(Value::as_f64), Some(15.0));
    assert_eq!(s.get("primary_ip"), Some(&Value::Null));
}

#[tokio::test]
async fn vps_with_a_closed_gate_says_why() {
    let sim = start_sim(&[]);
    let p = configured_provider(&sim, READ_ONLY).await;
    let s = read_ok(&p, "hostup_vps", "id", GATED).await;
    assert_eq!(
        s.get("can_restore_from_another_vps"),
        Some(&Value::Bool(false))
    );
    assert_eq!(
        s.get_str("restore_blocked_reason"),
        Some("An unpaid order blocks changes to this service.")
    );
    assert_eq!(s.get_str("restore_blocked_code"), Some("pending_order"));
}

#[tokio::test]
async fn vps_gate_is_null_when_the_api_shows_none_and_found_in_details_otherwise() {
    let sim = start_sim(&["--gate-location", "none"]);
    let p = configured_provider(&sim, FULL).await;
    for id in [TARGET, GATED] {
        let s = read_ok(&p, "hostup_vps", "id", id).await;
        assert_eq!(s.get("can_restore_from_another_vps"), Some(&Value::Null));
        assert_eq!(s.get("restore_blocked_reason"), Some(&Value::Null));
        assert!(s.get("storage_gb").and_then(Value::as_f64).is_some());
    }
    drop(sim);

    let sim = start_sim(&["--gate-location", "details"]);
    let p = configured_provider(&sim, FULL).await;
    let s = read_ok(&p, "hostup_vps", "id", GATED).await;
    assert_eq!(
        s.get("can_restore_from_another_vps"),
        Some(&Value::Bool(false))
    );
    assert_eq!(s.get_str("restore_blocked_code"), Some("pending_order"));
}

#[tokio::test]
async fn restore_sources_match_the_fixture_in_a_deterministic_order() {
    let sim = start_sim(&[]);
    let p = configured_provider(&sim, FULL).await;
    let s = read_ok(&p, "hostup_vps_restore_sources", "target_vps_id", TARGET).await;
    let sources = s.get("sources").expect("sources");
    // By name, then id; never the target; the other client's VPS and the VPS without backups
    // are not offered.
    assert_eq!(ids(sources), [RETAINED, DB_A, DB_B, ZETA]);
    let list = sources.as_elements().unwrap();

    let shop = &list[0];
    assert_eq!(shop.get_str("name"), Some("app-old"));
    assert_eq!(shop.get_str("source_type"), Some("retained"));
    assert_eq!(shop.get_str("service_status"), Some("terminated"));

    let db = &list[1];
    assert_eq!(db.get_str("name"), Some("db-01"));
    assert_eq!(db.get_str("source_type"), Some("server"));
    assert_eq!(db.get_str("service_status"), Some("active"));
    let backups = db.get("backups").unwrap();
    assert_eq!(ids(backups), ["bkp_01dba2", "bkp_01dba3", "bkp_01dba1"]);
    let b = backups.as_elements().unwrap();
    assert_eq!(gb(&b[0]), Some(96.5));
    assert_eq!(gb(&b[1]), Some(18.0));
    assert_eq!(gb(&b[2]), Some(12.4));
    assert_eq!(b[1].get_str("note"), Some("Before upgrade"));
    assert_eq!(b[1].get_str("backup_type"), Some("manual"));
    assert_eq!(b[2].get("note"), Some(&Value::Null));
    let created = b[1].get_str("created_at").expect("created_at");
    assert!(created.starts_with("2026-04-27T10:00:00"), "{created}");
    let display = b[1].get_str("display_id").expect("display_id");
    assert!(display.starts_with(created), "{display}");

    // The same read from another target offers web-01 and no longer the new target.
    let s = read_ok(&p, "hostup_vps_restore_sources", "target_vps_id", ZETA).await;
    assert_eq!(
        ids(s.get("sources").unwrap()),
        [RETAINED, DB_A, DB_B, TARGET]
    );
}

#[tokio::test]
async fn restore_sources_with_a_read_only_key_names_the_missing_scope() {
    let sim = start_sim(&[]);
    let p = configured_provider(&sim, READ_ONLY).await;
    let r = read(&p, "hostup_vps_restore_sources", "target_vps_id", TARGET).await;
    let d = only_error(&r);
    assert!(d.summary.contains("backup:vm"), "{}", d.summary);
    assert!(d.detail.contains("`backup:vm`"), "{}", d.detail);
    assert!(d.detail.contains("request id req_"), "{}", d.detail);
    assert!(
        !d.detail.contains(READ_ONLY),
        "the key leaked: {}",
        d.detail
    );
    assert!(r.new_state.is_null());
}

#[tokio::test]
async fn backups_match_the_fixture_newest_first() {
    let sim = start_sim(&[]);
    let p = configured_provider(&sim, READ_ONLY).await;
    let s = read_ok(&p, "hostup_vps_backups", "vps_id", DB_A).await;
    let backups = s.get("backups").unwrap();
    assert_eq!(ids(backups), ["bkp_01dba2", "bkp_01dba3", "bkp_01dba1"]);
    let b = backups.as_elements().unwrap();
    assert_eq!(b[0].get_str("note"), Some("After data import"));
    assert_eq!(b[0].get_str("backup_type"), Some("scheduled"));
    assert_eq!(gb(&b[0]), Some(96.5));
    assert_eq!(b[2].get("note"), Some(&Value::Null));
    assert!(b[2]
        .get_str("created_at")
        .is_some_and(|c| c.starts_with("2026-04-13T02:00:00")));

    let s = read_ok(&p, "hostup_vps_backups", "vps_id", GATED).await;
    assert_eq!(s.get("backups"), Some(&Value::List(vec![])));
}

#[tokio::test]
async fn a_foreign_or_missing_vps_is_an_error_at_the_id_attribute() {
    let sim = start_sim(&[]);
    let p = configured_provider(&sim, FULL).await;
    for (name, attr) in [
        ("hostup_vps", "id"),
        ("hostup_vps_restore_sources", "target_vps_id"),
        ("hostup_vps_backups", "vps_id"),
    ] {
        for id in [FOREIGN, MISSING] {
            let r = read(&p, name, attr, id).await;
            let d = only_error(&r);
            assert_eq!(d.attribute, Some(AttributePath::attribute(attr)), "{name}");
            assert!(d.detail.contains("does not exist"), "{}", d.detail);
            assert!(d.detail.contains("not owned"), "{}", d.detail);
            assert!(d.detail.contains(id), "{}", d.detail);
            assert!(r.new_state.is_null());
        }
    }
}

#[tokio::test]
async fn other_api_errors_carry_the_request_id() {
    let sim = start_sim(&[]);
    sim.fail_next(json!({"count": 1, "status": 500, "code": "internal_error",
                         "pathPrefix": "/api/v2/vps/"}));

    let p = configured_provider(&sim, FULL).await;
    let r = read(&p, "hostup_vps_backups", "vps_id", DB_A).await;
    let d = only_error(&r);
    assert_eq!(d.summary, "HostUp API error");
    assert!(d.detail.contains("HTTP 500"), "{}", d.detail);
    assert!(d.detail.contains("request id req_"), "{}", d.detail);
    // The injection was used up: the next read succeeds.
    read_ok(&p, "hostup_vps_backups", "vps_id", DB_A).await;
}

#[tokio::test]
async fn validate_checks_ids_at_the_attribute_without_the_api() {
    // Never configured: validation must not need a client.
    let p = HostupProvider::with_env(|_| None);
    for (name, attr) in [
        ("hostup_vps", "id"),
        ("hostup_vps_restore_sources", "target_vps_id"),
        ("hostup_vps_backups", "vps_id"),
    ] {
        let ds = data_source_named(&p, name);
        let ctx = Context::default();
        for bad in ["", "vps 01", "../vps_01", &"x".repeat(65)] {
            let cfg = Value::object([(attr, Value::from(bad))]);
            let diags = ds.validate(&ctx, &cfg).await;
            let d = diags.iter().next().expect("an error");
            assert!(d.is_error());
            assert_eq!(d.attribute, Some(AttributePath::attribute(attr)), "{bad:?}");
        }
        for fine in [Value::Unknown, Value::from(TARGET)] {
            let cfg = Value::object([(attr, fine)]);
            assert!(ds.validate(&ctx, &cfg).await.is_empty());
        }
    }
}

#[tokio::test]
async fn reading_before_configure_is_an_error_not_a_panic() {
    let p = HostupProvider::with_env(|_| None);
    let r = read(&p, "hostup_vps", "id", TARGET).await;
    assert!(only_error(&r).summary.contains("not configured"));
}
