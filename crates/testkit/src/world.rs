//! The HostUp accounts the tests start `hostup-sim` with (its fixture format: clients, API keys,
//! VPSes with their backups and gates, retained backup holders), built in one place.
//!
//! [`World::new`] is an empty account pair; [`World::restore`] is the account most restore tests
//! share, whose ids are the constants below. A test adds its own keys, VPSes and variations with
//! the builder methods and hands [`World::build`] to [`crate::sim::Sim::start`].

use serde_json::{json, Value};

/// The client the tests' keys belong to.
pub const CLIENT: &str = "cl_a";
/// Another client, whose VPSes the first one must never see.
pub const OTHER_CLIENT: &str = "cl_b";
/// The scopes a key needs for everything the provider does.
pub const FULL_SCOPES: &[&str] = &["read:vm", "backup:vm", "power:vm"];
/// The scopes of a key that restores but may not power VPSes on or off.
pub const RESTORE_SCOPES: &[&str] = &["read:vm", "backup:vm"];

/// web-01, 20 GB, no backups: the restore target.
pub const TARGET: &str = "vps_01target";
/// db-01, 100 GB: the restore source, with four backups.
pub const SOURCE: &str = "vps_01source";
/// db-01's 5 GB backup, the oldest.
pub const SMALL: &str = "bkp_01small";
/// db-01's newest backup, 12.4 GB, manual, noted "Before upgrade".
pub const NEWEST: &str = "bkp_01newest";
/// db-01's 50 GB backup: too large for web-01's disk.
pub const HUGE: &str = "bkp_01huge";
/// db-01's backup whose restore fails with [`BROKEN_REASON`].
pub const BROKEN: &str = "bkp_01broken";
/// Why restoring [`BROKEN`] fails.
pub const BROKEN_REASON: &str = "archive checksum mismatch";
/// cache-01, 10 GB, no backups.
pub const EMPTY: &str = "vps_01nobackups";
/// mail-01, 40 GB, whose restore gate is closed for [`GATE_REASON`].
pub const GATED: &str = "vps_01gated";
/// Why mail-01's gate is closed (code `pending_order`).
pub const GATE_REASON: &str = "An unpaid order blocks changes.";
/// other-01 of [`OTHER_CLIENT`], with one backup.
pub const FOREIGN: &str = "vps_01foreign";
/// other-01's backup.
pub const FOREIGN_BACKUP: &str = "bkp_01foreign";
/// shop-old: a terminated VPS whose backup HostUp retains.
pub const RETAINED: &str = "vps_01retained";
/// shop-old's retained backup, 8 GB.
pub const OLD_SHOP: &str = "bkp_01oldshop";

/// A fixture for `hostup-sim`, built up from an empty account pair.
#[derive(Clone, Debug)]
pub struct World {
    clients: Vec<Value>,
    keys: Vec<Value>,
    vps: Vec<Value>,
    retained: Vec<Value>,
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

impl World {
    /// [`CLIENT`] and [`OTHER_CLIENT`], with no keys and no VPSes.
    pub fn new() -> World {
        World {
            clients: vec![json!({"id": CLIENT}), json!({"id": OTHER_CLIENT})],
            keys: Vec::new(),
            vps: Vec::new(),
            retained: Vec::new(),
        }
    }

    /// web-01 (the target), db-01 (the source, four backups: one too large for web-01, one whose
    /// restore fails), cache-01 (no backups), mail-01 (restore gate closed), shop-old (retained)
    /// and other-01 of the other client. No keys: the test adds its own.
    pub fn restore() -> World {
        World::new()
            .vps(json!({"id": TARGET, "client": CLIENT, "name": "web-01", "storageGb": 20}))
            .vps(
                json!({"id": SOURCE, "client": CLIENT, "name": "db-01", "storageGb": 100,
                "backups": [
                    {"id": SMALL, "createdAt": "2026-04-01T02:00:00Z", "sizeGb": 5},
                    {"id": NEWEST, "createdAt": "2026-04-27T10:00:00Z", "sizeGb": 12.4,
                     "backupType": "manual", "note": "Before upgrade"},
                    {"id": HUGE, "createdAt": "2026-04-10T02:00:00Z", "sizeGb": 50},
                    {"id": BROKEN, "createdAt": "2026-03-01T02:00:00Z", "sizeGb": 6,
                     "failRestore": BROKEN_REASON}
                ]}),
            )
            .vps(json!({"id": EMPTY, "client": CLIENT, "name": "cache-01", "storageGb": 10}))
            .vps(
                json!({"id": GATED, "client": CLIENT, "name": "mail-01", "storageGb": 40,
                "gates": {"canRestoreFromAnotherVps": {"allowed": false, "reason": GATE_REASON,
                          "code": "pending_order"}}}),
            )
            .vps(
                json!({"id": FOREIGN, "client": OTHER_CLIENT, "name": "other-01",
                "storageGb": 80, "backups": [
                    {"id": FOREIGN_BACKUP, "createdAt": "2026-04-02T02:00:00Z", "sizeGb": 3}]}),
            )
            .retained(
                json!({"id": RETAINED, "client": CLIENT, "name": "shop-old", "backups": [
                {"id": OLD_SHOP, "createdAt": "2026-02-01T02:00:00Z", "sizeGb": 8}]}),
            )
    }

    /// The least a restore needs: the key `key` with full scopes, web-01 `target` (20 GB) and
    /// db-01 `source` (100 GB) with one 5 GB backup, `backup`.
    pub fn one_restore(key: &str, target: &str, source: &str, backup: &str) -> World {
        World::new()
            .key(key, CLIENT, FULL_SCOPES)
            .vps(json!({"id": target, "client": CLIENT, "name": "web-01", "storageGb": 20}))
            .vps(
                json!({"id": source, "client": CLIENT, "name": "db-01", "storageGb": 100,
                "backups": [{"id": backup, "createdAt": "2026-04-27T10:00:00Z", "sizeGb": 5}]}),
            )
    }

    /// Adds an API key of `client` with `scopes`.
    pub fn key(mut self, key: &str, client: &str, scopes: &[&str]) -> World {
        self.keys
            .push(json!({"key": key, "client": client, "scopes": scopes}));
        self
    }

    /// Adds a VPS, in the simulator's fixture form.
    pub fn vps(mut self, vps: Value) -> World {
        self.vps.push(vps);
        self
    }

    /// Adds each VPS of the JSON array `list`, in order.
    pub fn vps_list(mut self, list: Value) -> World {
        let Value::Array(list) = list else {
            panic!("vps_list takes a JSON array");
        };
        self.vps.extend(list);
        self
    }

    /// Adds a retained backup holder, in the simulator's fixture form.
    pub fn retained(mut self, holder: Value) -> World {
        self.retained.push(holder);
        self
    }

    /// Sets `fields` on the client, VPS or retained holder `id` (replacing fields it had).
    /// Panics when there is none, so a renamed id cannot leave a test on the default world.
    pub fn set(mut self, id: &str, fields: Value) -> World {
        let entry = self
            .clients
            .iter_mut()
            .chain(self.vps.iter_mut())
            .chain(self.retained.iter_mut())
            .find(|e| e["id"] == id)
            .unwrap_or_else(|| panic!("no client, VPS or retained holder {id} in the world"));
        for (name, value) in fields.as_object().expect("fields is a JSON object") {
            entry[name] = value.clone();
        }
        self
    }

    /// The fixture `hostup-sim` reads.
    pub fn build(self) -> Value {
        json!({
            "clients": self.clients,
            "apiKeys": self.keys,
            "vps": self.vps,
            "retained": self.retained,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variations_land_on_the_named_entry_and_keys_on_their_client() {
        let world = World::restore()
            .key("k_a", CLIENT, FULL_SCOPES)
            .set(TARGET, json!({"backupQuota": 2, "backups": []}))
            .set(CLIENT, json!({"name": "Acme"}))
            .build();
        assert_eq!(world["apiKeys"][0]["client"], CLIENT);
        assert_eq!(world["apiKeys"][0]["scopes"][1], "backup:vm");
        let target = &world["vps"][0];
        assert_eq!(target["id"], TARGET);
        assert_eq!(target["backupQuota"], 2);
        assert_eq!(target["storageGb"], 20, "the rest of the entry stays");
        assert_eq!(world["clients"][0]["name"], "Acme");
        assert_eq!(world["retained"][0]["backups"][0]["id"], OLD_SHOP);
    }

    #[test]
    #[should_panic(expected = "no client, VPS or retained holder vps_01nothere")]
    fn a_variation_of_a_missing_entry_fails_the_test() {
        let _ = World::restore().set("vps_01nothere", json!({"name": "x"}));
    }
}
