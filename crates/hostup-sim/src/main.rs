//! hostup-sim: a local HostUp API simulator for the examples, the demo and the tests.
//!
//! It serves the slice of the HostUp v2 API the provider uses (hostup-api.md §15) from a JSON
//! fixture, runs restore and backup jobs on its own clock, and can misbehave on purpose (rate
//! limits, 5xx bursts, latency, requests held without an answer, failing restores, foreign poll
//! URLs, expiring job records). Its JSON
//! shapes are written here from the API notes, independently of the provider's client, so that a
//! disagreement between the two shows up in a test. The first stdout line is the base URL.

mod admin;
mod api;
mod fixture;
mod middleware;
mod problem;
mod render;
mod settings;
mod world;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Parser;

use crate::fixture::Fixture;
use crate::middleware::{Faults, RequestLog};
use crate::settings::Settings;
use crate::world::World;

/// Local HostUp API simulator (test tool; the /_sim/ admin endpoints have no authentication).
///
/// Loads clients, API keys, VPSes, backups and retained sources from a JSON fixture and serves
/// /api/v2/vps..., /api/jobs/{id} and the test-only /_sim/ endpoints. Prints the base URL
/// (http://127.0.0.1:PORT) as the first line on stdout. Flags given here override the fixture's
/// `settings` object.
#[derive(Parser, Debug)]
#[command(name = "hostup-sim", version)]
pub struct Args {
    /// JSON fixture with clients, apiKeys, vps, retained and optional settings
    /// (see examples/sim/fixture.json).
    #[arg(long, value_name = "FILE")]
    pub fixture: PathBuf,

    /// Address to listen on; must be a loopback address. Port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,

    /// How long a restore or backup job runs from queued to its end, e.g. 300ms, 5s
    /// [default: 5s].
    #[arg(long, value_name = "DURATION")]
    pub job_duration: Option<String>,

    /// How long a finished job record stays readable before GET /api/jobs/{id} answers 404
    /// [default: 24h].
    #[arg(long, value_name = "DURATION")]
    pub job_retention: Option<String>,

    /// Rate limit per API key as N/WINDOW, e.g. 100/60s. Beyond it: 429 with Retry-After and
    /// X-RateLimit-*; X-RateLimit-* also appear on every other /api answer [default: off].
    #[arg(long, value_name = "N/WINDOW")]
    pub rate_limit: Option<String>,

    /// Share of /api requests (0.0-1.0) answered 503 upstream_unavailable, drawn from a
    /// generator seeded with --seed [default: 0].
    #[arg(long, value_name = "SHARE")]
    pub fail_rate: Option<f64>,

    /// Limit --fail-rate to one HTTP method, e.g. GET.
    #[arg(long, value_name = "METHOD")]
    pub fail_method: Option<String>,

    /// Limit --fail-rate to paths starting with this prefix, e.g. /api/jobs.
    #[arg(long, value_name = "PREFIX")]
    pub fail_path: Option<String>,

    /// Answer the first N /api requests with --burst-status (deterministic failures for retry
    /// tests). POST /_sim/fail-next injects more at run time.
    #[arg(long = "burst-503", value_name = "N", default_value_t = 0)]
    pub burst_503: u32,

    /// Status used by --burst-503.
    #[arg(long, value_name = "STATUS", default_value_t = 503)]
    pub burst_status: u16,

    /// Delay added to every /api answer, e.g. 50ms [default: 0].
    #[arg(long, value_name = "DURATION")]
    pub latency: Option<String>,

    /// Shape of operation.pollUrl: relative (/api/jobs/..), absolute (this simulator's origin) or
    /// foreign:<origin> (another origin; a client must refuse to follow it) [default: relative].
    #[arg(long, value_name = "MODE")]
    pub poll_url_mode: Option<String>,

    /// Envelope of GET /api/jobs/{id}: legacy ({success, data:{...}}) or v2 ({operation:{...}})
    /// [default: legacy].
    #[arg(long, value_name = "ENVELOPE")]
    pub job_envelope: Option<String>,

    /// Where actions.canRestoreFromAnotherVps appears: both (GET /vps/{id} and /details), vps,
    /// details (exercises the client's /details fallback) or none [default: both].
    #[arg(long, value_name = "WHERE")]
    pub gate_location: Option<String>,

    /// How DELETE /api/v2/vps/{id}/backups/{backupId} answers: sync (204 No Content, the backup
    /// is gone at once) or job (202 with an operation; the backup is gone when the job ends)
    /// [default: sync].
    #[arg(long, value_name = "MODE")]
    pub backup_delete: Option<String>,

    /// Append one JSON line per /api request (time, method, path, status, authPresent; never the
    /// key) to this file.
    #[arg(long, value_name = "FILE")]
    pub request_log: Option<PathBuf>,

    /// Seed for the only random choice (--fail-rate).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
}

/// Shared by every handler: the world, the faults to inject, and the request log, each behind
/// its own lock.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) world: std::sync::Mutex<World>,
    pub(crate) faults: std::sync::Mutex<Faults>,
    pub(crate) log: std::sync::Mutex<RequestLog>,
}

/// The state as every handler holds it.
pub(crate) type Shared = Arc<AppState>;

fn main() {
    if let Err(err) = run() {
        eprintln!("hostup-sim: {err:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.listen.ip().is_loopback() {
        bail!(
            "--listen {} is not a loopback address; the simulator's admin endpoints are unauthenticated",
            args.listen
        );
    }
    let fixture = Fixture::load(&args.fixture)?;
    let settings = Settings::resolve(&args, &fixture.settings)?;
    let world = World::from_fixture(&fixture, settings.clone())?;
    let log = RequestLog::open(args.request_log.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(serve(args.listen, world, Faults::new(&settings), log))
}

async fn serve(
    listen: SocketAddr,
    mut world: World,
    faults: Faults,
    log: RequestLog,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let base = format!("http://{addr}");
    world.base_url = base.clone();
    let state: Shared = Arc::new(AppState {
        world: std::sync::Mutex::new(world),
        faults: std::sync::Mutex::new(faults),
        log: std::sync::Mutex::new(log),
    });
    let app = api::router(state.clone()).merge(admin::router(state.clone()));
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{base}").context("writing the base URL")?;
        out.flush().context("flushing stdout")?;
    }
    eprintln!("hostup-sim: serving {base} (admin: {base}/_sim/state)");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving HTTP")
}
