//! A HostUp that accepts requests and never answers (`hostup-sim`'s `/_sim/hang`), met with the
//! production bounds (`ClientConfig::new`'s defaults, and the provider as Terraform configures
//! it): a read gives up within its answer budget with an error naming the endpoint and the time
//! waited, the plan of a restore shows that error, and a restore or backup POST whose answer never
//! comes is sent exactly once and says it may have reached HostUp.
//!
//! These tests wait out the real bounds (about 46 s for a read, 20 s for a POST) on purpose:
//! shortened bounds would test the arithmetic, not the promise. They assert upper bounds on the
//! time taken (behaviour, not benchmarks) with a margin for a loaded machine.

use std::time::{Duration, Instant};

use crate::provider::{configured_resource, plan, the_error};
use serde_json::Value as Json;
use terraform_provider_hostup::api::{
    ApiError, ApiKey, Client, ClientConfig, DEFAULT_MAX_ANSWER_WAIT, DEFAULT_REQUEST_TIMEOUT,
};
use testkit::sim::{backup_posts, matching, restore_posts, Sim, SimRequest, RESTORE_PATH};
use testkit::world::World;
use url::Url;

const KEY: &str = "k_silent_api_secret_91c2";
const TARGET: &str = "vps_01silenttarget";
const SOURCE: &str = "vps_01silentsource";
const BACKUP: &str = "bkp_01silent";

/// What the docs promise for a read of a silent API: under 50 s (45 s of answer budget, under
/// 1.5 s of backoffs, and room for a busy machine).
const READ_BOUND: Duration = Duration::from_secs(50);

fn fixture() -> Json {
    World::one_restore(KEY, TARGET, SOURCE, BACKUP).build()
}

/// A client with the production bounds, as the provider builds it.
fn production_client(sim: &Sim) -> Client {
    let cfg = ClientConfig::new(Url::parse(sim.base_url()).unwrap(), ApiKey::new(KEY));
    assert_eq!(cfg.request_timeout, DEFAULT_REQUEST_TIMEOUT);
    assert_eq!(cfg.retry.max_answer_wait, DEFAULT_MAX_ANSWER_WAIT);
    Client::new(cfg).unwrap()
}

fn held<'a>(log: &'a [SimRequest], method: &'a str, path: &'a str) -> Vec<&'a SimRequest> {
    matching(log, method, path)
        .filter(|r| r.fault.as_deref() == Some("hang"))
        .collect()
}

#[tokio::test]
async fn a_read_that_never_answers_fails_within_its_budget_naming_the_endpoint() {
    let sim = Sim::start(&fixture(), &[]);
    let path = format!("/api/v2/vps/{TARGET}");
    sim.hang("GET", &path, 100);
    let client = production_client(&sim);

    let started = Instant::now();
    let err = client.get_vps(TARGET).await.unwrap_err();
    let took = started.elapsed();

    assert!(took < READ_BOUND, "the read took {took:?}: {err}");
    let ApiError::Timeout {
        method,
        path: err_path,
        waited,
        attempts,
        ..
    } = &err
    else {
        panic!("expected a timeout, got {err:?}");
    };
    assert_eq!((method.as_str(), err_path.as_str()), ("GET", path.as_str()));
    // The whole budget was used (it retried instead of giving up after one attempt) and no more.
    assert!(
        *waited >= DEFAULT_MAX_ANSWER_WAIT - Duration::from_millis(500)
            && *waited <= DEFAULT_MAX_ANSWER_WAIT + Duration::from_millis(500),
        "waited {waited:?} for answers"
    );
    let msg = err.to_string();
    let want = format!(
        "GET {path} got no answer from HostUp in {} s ({attempts} attempts",
        DEFAULT_MAX_ANSWER_WAIT.as_secs()
    );
    assert!(msg.contains(&want), "{msg:?} lacks {want:?}");
    assert!(msg.contains("nothing changed"), "{msg}");
    assert!(!msg.contains(KEY) && !format!("{err:?}").contains(KEY));
    let log = sim.requests();
    assert_eq!(
        held(&log, "GET", &path).len(),
        *attempts as usize,
        "every attempt reached the simulator"
    );
    assert_eq!(client.request_counts().get, u64::from(*attempts));
}

#[tokio::test]
async fn a_plan_whose_target_read_never_answers_names_the_endpoint_and_the_wait() {
    let sim = Sim::start(&fixture(), &[]);
    let path = format!("/api/v2/vps/{TARGET}");
    sim.hang("GET", &path, 100);
    // The provider configured as Terraform configures it: production bounds.
    let res = configured_resource(&sim, KEY, "hostup_vps_restore").await;
    let mut cfg = res.schema().block.empty_value();
    cfg.set("target_vps_id", TARGET.into());
    cfg.set("source_vps_id", SOURCE.into());
    cfg.set("backup_id", BACKUP.into());

    let started = Instant::now();
    let p = plan(&*res, &cfg).await;
    let took = started.elapsed();

    assert!(took < READ_BOUND, "the plan took {took:?}");
    let d = the_error(p.diagnostics);
    assert_eq!(d.summary, "HostUp API error");
    let want = format!(
        "Could not read the VPS \"{TARGET}\". GET {path} got no answer from HostUp in {} s (",
        DEFAULT_MAX_ANSWER_WAIT.as_secs()
    );
    assert!(d.detail.contains(&want), "{:?} lacks {want:?}", d.detail);
    assert!(!d.detail.contains(KEY));
    let log = sim.requests();
    assert!(restore_posts(&log).is_empty(), "a plan never POSTs");
    // The read failed before any other: nothing after the target's GET was asked.
    assert!(log.iter().all(|r| r.path == path), "{log:?}");
}

#[tokio::test]
async fn a_restore_or_backup_post_whose_answer_never_comes_is_sent_once() {
    let sim = Sim::start(&fixture(), &[]);
    sim.hang("POST", RESTORE_PATH, 100);
    sim.hang("POST", &format!("/vps/{SOURCE}/backups"), 100);
    let client = production_client(&sim);

    let started = Instant::now();
    let (restore, backup) = tokio::join!(
        client.restore_from_vps(TARGET, SOURCE, BACKUP),
        client.create_backup(SOURCE, Some("silent")),
    );
    let took = started.elapsed();
    // One attempt each, run side by side.
    assert!(
        took < DEFAULT_REQUEST_TIMEOUT + Duration::from_secs(5),
        "took {took:?}"
    );
    for err in [restore.unwrap_err(), backup.unwrap_err()] {
        assert!(
            matches!(err, ApiError::Timeout { attempts: 1, .. }),
            "{err:?}"
        );
        assert!(err.may_have_reached_hostup(), "{err:?}");
        let msg = err.to_string();
        for needle in [
            "got no answer from HostUp in 20 s (1 attempt of at most 20 s).",
            "may have reached HostUp",
            "check the VPS and its jobs",
        ] {
            assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
        }
        assert!(!msg.contains(KEY));
    }
    // Nothing is sent again later either: wait past a retry's backoff and look again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let log = sim.requests();
    assert_eq!(
        restore_posts(&log),
        vec![0],
        "exactly one restore POST, held"
    );
    assert_eq!(backup_posts(&log), vec![0], "exactly one backup POST, held");
    assert_eq!(client.request_counts().post, 2);
    assert_eq!(client.request_counts().total(), 2);
}
