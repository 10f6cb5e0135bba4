//! The HostUp REST client. It knows nothing about Terraform: it speaks HostUp's v2 API (VPS reads
//! and status, restore sources, cross-VPS restore, power actions, backups) and the job endpoint,
//! returns typed models, turns RFC 7807 problem documents into [`ApiError`], retries only what is
//! safe to repeat, paces itself against HostUp's rate limit, and waits for jobs with a deadline,
//! cancellation and progress.
//!
//! ```no_run
//! # async fn demo() -> Result<(), terraform_provider_hostup::api::ApiError> {
//! use terraform_provider_hostup::api::{ApiKey, Client, ClientConfig, WaitOptions};
//! let endpoint = url::Url::parse("https://cloud.hostup.se").unwrap();
//! let client = Client::new(ClientConfig::new(endpoint, ApiKey::new("key")))?;
//! let op = client.restore_from_vps("vps_target", "vps_source", "bkp_1").await?;
//! let outcome = client
//!     .wait_for_job(&op, WaitOptions::new(std::time::Duration::from_secs(1800)))
//!     .await?;
//! println!("{outcome}");
//! # Ok(()) }
//! ```

mod client;
mod config;
mod endpoint;
mod error;
mod models;
mod ratelimit;
mod wait;

pub use client::{Client, RequestCounts, DEFAULT_MAX_PAGES};
pub use config::{
    ApiKey, ClientConfig, RetryPolicy, DEFAULT_ENDPOINT, DEFAULT_MAX_ANSWER_WAIT,
    DEFAULT_REQUEST_TIMEOUT,
};
pub use endpoint::validate_id;
pub use error::{ApiError, Delivery, FieldError, HttpError, Problem};
pub use models::{
    job_poll_path, poll_url_for, Backup, BackupActions, BackupList, Bandwidth, Billing,
    DeleteOutcome, Gate, GateLookup, GateOrigin, Job, JobStatus, OperatingSystem, Operation, Page,
    PowerAction, QuotaInfo, RestoreSource, SourceBackup, SourceType, Vps, VpsActions, VpsDetails,
    VpsStatus,
};
pub use wait::{JobProgress, PollSchedule, ProgressFn, WaitOptions, WaitOutcome};
