//! `hostup_vps_backup`: an offsite backup of one VPS, taken by create and deleted by destroy.
//! `resource` holds the CRUD logic, `checks` the gate and quota checks before a backup is taken,
//! `earlier` the adoption of a tainted backup's job by its replacement, `model` the mapping
//! between Terraform state and HostUp's answers, `list` the list resource of `terraform query`.

pub mod checks;
pub mod earlier;
pub mod list;
pub mod model;
pub mod resource;

pub use resource::{
    schema, VpsBackupResource, DEFAULT_CREATE_TIMEOUT, DEFAULT_DELETE_TIMEOUT, TYPE_NAME,
};
