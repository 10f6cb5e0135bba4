//! `hostup_vps_restore`: restore a target VPS in place from a backup of another VPS. `resource`
//! holds the CRUD logic, `checks` the live plan-time (and pre-POST) checks and the destruction
//! warning, `model` the mapping between Terraform state and HostUp's answers, `earlier` how a
//! replacement adopts the job of a tainted restore, `conflicts` the one-restore-per-target rule.

pub mod checks;
pub mod conflicts;
pub mod decide;
pub mod earlier;
pub mod flow;
pub mod model;
pub mod resource;

pub use resource::{schema, VpsRestoreResource, DEFAULT_CREATE_TIMEOUT, TYPE_NAME};
