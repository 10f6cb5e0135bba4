//! `hostup_vps_backup`: an offsite backup of one VPS, taken by create and deleted by destroy.
//! `resource` holds the CRUD logic, `checks` the gate and quota checks before a backup is taken,
//! `model` the mapping between Terraform state and HostUp's answers.

pub mod checks;
pub mod model;
pub mod resource;

pub use resource::{
    schema, VpsBackupResource, DEFAULT_CREATE_TIMEOUT, DEFAULT_DELETE_TIMEOUT, TYPE_NAME,
};
