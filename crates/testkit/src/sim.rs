//! `hostup-sim` as a child process of a test: started with a fixture (a JSON value or a file) and
//! any command-line flags, stopped when dropped, and inspected through its unauthenticated
//! `/_sim/` admin endpoints (request log, fault injection, world changes).
//!
//! It is synchronous and std-only (a tiny HTTP/1.0 client on a `TcpStream`), so Terraform-driving
//! tests, which are synchronous too, need no async runtime to ask the simulator what it saw. Async
//! tests call it as it is: the simulator is another process, so a blocking loopback exchange of a
//! few milliseconds never waits on the test's own runtime. Only a poll such as
//! [`Sim::wait_for_requests`] must not wait for a task spawned on that same runtime to act.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// One line of the simulator's request log (`GET /_sim/requests`); admin calls are not logged.
#[derive(Clone, Debug)]
pub struct SimRequest {
    /// `GET`, `POST`, `DELETE`.
    pub method: String,
    /// The request path, without the query.
    pub path: String,
    /// The status the simulator answered with; 0 for a request held without an answer
    /// ([`Sim::hang`]).
    pub status: u16,
    /// `rate_limit` or `injected` when the simulator answered with a fault instead of the API,
    /// `hang` when it held the request without an answer.
    pub fault: Option<String>,
    /// The whole entry as logged.
    pub raw: Value,
}

impl SimRequest {
    fn from_json(v: &Value) -> SimRequest {
        SimRequest {
            method: v["method"].as_str().unwrap_or_default().to_owned(),
            path: v["path"].as_str().unwrap_or_default().to_owned(),
            status: v["status"].as_u64().unwrap_or(0) as u16,
            fault: v["fault"].as_str().map(str::to_owned),
            raw: v.clone(),
        }
    }

    /// Anything but a read: POST, PUT, PATCH, DELETE.
    pub fn is_write(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS")
    }

    /// Whether this is a `method` request whose path ends with `path_suffix`.
    pub fn is(&self, method: &str, path_suffix: &str) -> bool {
        self.method.eq_ignore_ascii_case(method) && self.path.ends_with(path_suffix)
    }
}

/// Requests of `method` whose path ends with `path_suffix`.
pub fn matching<'a>(
    log: &'a [SimRequest],
    method: &'a str,
    path_suffix: &'a str,
) -> impl Iterator<Item = &'a SimRequest> + 'a {
    log.iter().filter(move |r| r.is(method, path_suffix))
}

/// Statuses of the requests of `method` whose path ends with `path_suffix`, oldest first.
pub fn statuses(log: &[SimRequest], method: &str, path_suffix: &str) -> Vec<u16> {
    matching(log, method, path_suffix)
        .map(|r| r.status)
        .collect()
}

/// The path suffix of a restore POST.
pub const RESTORE_PATH: &str = "/backups/actions/restore-from-vps";

/// Statuses of the restore POSTs (`POST …/backups/actions/restore-from-vps`) in `log`.
pub fn restore_posts(log: &[SimRequest]) -> Vec<u16> {
    statuses(log, "POST", RESTORE_PATH)
}

/// Statuses of the start POSTs (`POST …/actions/start`) in `log`.
pub fn start_posts(log: &[SimRequest]) -> Vec<u16> {
    statuses(log, "POST", "/actions/start")
}

/// Statuses of the backup-create POSTs (`POST …/backups`) in `log`.
pub fn backup_posts(log: &[SimRequest]) -> Vec<u16> {
    statuses(log, "POST", "/backups")
}

/// Every write request in `log`, as `METHOD path -> status` lines (for assertion messages).
pub fn writes(log: &[SimRequest]) -> Vec<String> {
    log.iter()
        .filter(|r| r.is_write())
        .map(|r| format!("{} {} -> {}", r.method, r.path, r.status))
        .collect()
}

/// `args` led by `--job-duration default`, unless they set a job duration themselves (the simulator
/// takes the flag once).
pub fn with_job_duration<'a>(default: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = Vec::with_capacity(args.len() + 2);
    if !args.contains(&"--job-duration") {
        all.extend(["--job-duration", default]);
    }
    all.extend_from_slice(args);
    all
}

fn scratch_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("hostup-sim-")
        .tempdir()
        .expect("create simulator dir")
}

/// A scratch directory holding `fixture` as `fixture.json`, and that file's path.
fn fixture_dir(fixture: &Value) -> (tempfile::TempDir, PathBuf) {
    let dir = scratch_dir();
    let path = dir.path().join("fixture.json");
    std::fs::write(&path, fixture.to_string()).expect("write fixture");
    (dir, path)
}

/// The `hostup-sim` binary of this build, `target/<profile>/hostup-sim`. The simulator is a
/// package of its own in the workspace, so cargo sets no `CARGO_BIN_EXE_hostup-sim` for the
/// provider's tests; it is a default member, so `cargo build` / `cargo test` at the root build it
/// (`cargo test -p terraform-provider-hostup` alone does not, and may find a stale one).
pub fn binary() -> PathBuf {
    let name = format!("hostup-sim{}", std::env::consts::EXE_SUFFIX);
    let path = super::target_profile_dir().join(name);
    assert!(
        path.is_file(),
        "{} does not exist: build it with `cargo build -p hostup-sim` (a plain `cargo build` or \
         `cargo test` at the workspace root does)",
        path.display()
    );
    path
}

/// The `terraform` block that requires `hostup/hostup`, and its provider block with no settings:
/// the workspaces of [`Sim::workspace`] configure it through the environment.
pub const HOSTUP_HEADER: &str = r#"terraform {
  required_providers {
    hostup = {
      source = "hostup/hostup"
    }
  }
}

provider "hostup" {}
"#;

/// A running `hostup-sim`; killed on drop.
#[derive(Debug)]
pub struct Sim {
    child: Child,
    base: String,
    addr: String,
    dir: tempfile::TempDir,
    request_log: Option<PathBuf>,
    _stdout: BufReader<ChildStdout>,
}

impl Sim {
    /// A workspace whose hostup provider (one of `providers`) talks to this simulator with
    /// `key`, configured through the environment as the docs recommend, and polls jobs every
    /// 100 ms.
    pub fn workspace(
        &self,
        cli: &crate::TerraformCli,
        providers: &[&crate::ProviderDir],
        key: &str,
    ) -> crate::Workspace {
        let mut ws = crate::Workspace::with_providers(cli, providers);
        ws.set_env("HOSTUP_ENDPOINT", self.base_url())
            .set_env("HOSTUP_API_KEY", key)
            .set_env("HOSTUP_POLL_INTERVAL_MS", "100");
        ws
    }

    /// Starts the simulator on a free loopback port with `fixture` written to a temp file.
    #[track_caller]
    pub fn start(fixture: &Value, args: &[&str]) -> Sim {
        let (dir, path) = fixture_dir(fixture);
        Sim::spawn(dir, &path, args, false)
    }

    /// As [`Sim::start`], and the simulator also appends its request log to a file
    /// (`--request-log`), found at [`Sim::request_log_file`].
    #[track_caller]
    pub fn start_with_request_log(fixture: &Value, args: &[&str]) -> Sim {
        let (dir, path) = fixture_dir(fixture);
        Sim::spawn(dir, &path, args, true)
    }

    /// Starts the simulator with a fixture file as it is (for example `examples/sim/fixture.json`).
    #[track_caller]
    pub fn start_with_file(fixture: &Path, args: &[&str]) -> Sim {
        Sim::spawn(scratch_dir(), fixture, args, false)
    }

    #[track_caller]
    fn spawn(dir: tempfile::TempDir, fixture: &Path, args: &[&str], log_to_file: bool) -> Sim {
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).expect("stderr file");
        let request_log = log_to_file.then(|| dir.path().join("requests.jsonl"));
        let mut cmd = Command::new(binary());
        cmd.arg("--fixture").arg(fixture);
        if let Some(file) = &request_log {
            cmd.arg("--request-log").arg(file);
        }
        let mut child = cmd
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start hostup-sim");
        let mut stdout = BufReader::new(child.stdout.take().expect("simulator stdout"));
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let base = line.trim().to_owned();
        let Some(addr) = base.strip_prefix("http://").map(str::to_owned) else {
            let _ = child.kill();
            let _ = child.wait();
            let err = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
            panic!("hostup-sim {args:?} did not start (first line {base:?}):\n{err}");
        };
        Sim {
            child,
            base,
            addr,
            dir,
            request_log,
            _stdout: stdout,
        }
    }

    /// The file the request log is written to; only for [`Sim::start_with_request_log`].
    #[track_caller]
    pub fn request_log_file(&self) -> &Path {
        self.request_log
            .as_deref()
            .expect("the simulator was started without --request-log")
    }

    /// `http://127.0.0.1:PORT`, the value for `HOSTUP_ENDPOINT`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// What the simulator printed on stderr so far (for failure messages).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// A scratch directory that lives as long as the simulator.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// One HTTP exchange with the simulator: `(status, body)`. `bearer` adds an Authorization
    /// header (for `/api` calls); admin endpoints need none.
    #[track_caller]
    pub fn http(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        bearer: Option<&str>,
    ) -> (u16, String) {
        let body = body.map(Value::to_string).unwrap_or_default();
        exchange(&self.addr, method, path, &body, bearer)
    }

    /// A loopback proxy in front of this simulator that carries every request out unchanged,
    /// but answers the requests whose method is `method` and whose path ends with `path_suffix`
    /// with `status` and `body` (`content_type`) instead of the simulator's answer: HostUp acted on
    /// the request, and its answer was lost or garbled on the way back.
    pub fn answer_swap(
        &self,
        method: &str,
        path_suffix: &str,
        status: u16,
        content_type: &str,
        body: &str,
    ) -> AnswerSwap {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the answer-swap proxy");
        let base = format!("http://{}", listener.local_addr().expect("proxy address"));
        let upstream = self.addr.clone();
        let swap = (
            method.to_owned(),
            path_suffix.to_owned(),
            format!(
                "HTTP/1.1 {status} Swapped\r\nContent-Type: {content_type}\r\nContent-Length: \
                 {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        );
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let Some((method, path, bearer, body)) = read_request(&mut conn) else {
                    continue;
                };
                let (status, answer) =
                    exchange(&upstream, &method, &path, &body, bearer.as_deref());
                let reply = if method == swap.0 && path.ends_with(&swap.1) {
                    swap.2.clone()
                } else {
                    format!(
                        "HTTP/1.1 {status} Forwarded\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                        answer.len()
                    )
                };
                let _ = conn.write_all(reply.as_bytes());
            }
        });
        AnswerSwap { base }
    }

    /// An admin call that must succeed; returns the body parsed as JSON (`Null` when empty).
    #[track_caller]
    pub fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, text) = self.http(method, path, body.as_ref(), None);
        assert!(
            (200..300).contains(&status),
            "{method} {path} answered {status}: {text}"
        );
        if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e})"))
        }
    }

    /// The request log so far, oldest first.
    #[track_caller]
    pub fn requests(&self) -> Vec<SimRequest> {
        match self.admin("GET", "/_sim/requests", None) {
            Value::Array(entries) => entries.iter().map(SimRequest::from_json).collect(),
            other => panic!("/_sim/requests is not an array: {other}"),
        }
    }

    /// Empties the request log.
    #[track_caller]
    pub fn reset_log(&self) {
        self.admin("POST", "/_sim/reset-log", None);
    }

    /// Makes the next matching `/api` requests fail: `body` is `{count, status?, code?, method?,
    /// pathPrefix?}` as `POST /_sim/fail-next` takes it.
    #[track_caller]
    pub fn fail_next(&self, body: Value) {
        self.admin("POST", "/_sim/fail-next", Some(body));
    }

    /// Makes the next `count` `/api` requests of `method` whose path ends with `path_suffix` go
    /// unanswered (`POST /_sim/hang`): the simulator reads each, logs it at once (status 0, fault
    /// `hang`) and holds it for ten minutes before a 504, longer than any client here waits. A
    /// silent HostUp, for tests of how long the provider waits and what it then says.
    #[track_caller]
    pub fn hang(&self, method: &str, path_suffix: &str, count: u32) {
        self.admin(
            "POST",
            "/_sim/hang",
            Some(serde_json::json!({
                "count": count, "method": method, "pathSuffix": path_suffix, "holdSeconds": 600
            })),
        );
    }

    /// The simulator's whole world (`GET /_sim/state`).
    #[track_caller]
    pub fn state(&self) -> Value {
        self.admin("GET", "/_sim/state", None)
    }

    /// The ids of the backups the simulator lists for `vps`, asked through the API with `key`.
    #[track_caller]
    pub fn backup_ids(&self, vps: &str, key: &str) -> Vec<String> {
        let (status, body) = self.http(
            "GET",
            &format!("/api/v2/vps/{vps}/backups"),
            None,
            Some(key),
        );
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).expect("backup list JSON");
        v["backups"]
            .as_array()
            .expect("backups")
            .iter()
            .map(|b| b["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Waits until `done` holds for the request log, checking every 20 ms; false after `within`.
    pub fn wait_for_requests(
        &self,
        within: Duration,
        mut done: impl FnMut(&[SimRequest]) -> bool,
    ) -> bool {
        let until = Instant::now() + within;
        loop {
            if done(&self.requests()) {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A running [`Sim::answer_swap`] proxy; it serves until the test process ends.
#[derive(Debug)]
pub struct AnswerSwap {
    base: String,
}

impl AnswerSwap {
    /// `http://127.0.0.1:PORT`, to configure as the provider's endpoint.
    pub fn base_url(&self) -> &str {
        &self.base
    }
}

/// One HTTP/1.0 exchange with the server at `addr`: `(status, body)`.
#[track_caller]
fn exchange(
    addr: &str,
    method: &str,
    path: &str,
    body: &str,
    bearer: Option<&str>,
) -> (u16, String) {
    let mut stream =
        TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to hostup-sim at {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let auth = bearer
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    // HTTP/1.0: the answer ends when the connection closes, never chunked.
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .expect("send to hostup-sim");
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .expect("read hostup-sim answer");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {head:?}"));
    (status, body.to_owned())
}

/// Reads one HTTP/1.1 request: method, path with query, the bearer token, the body.
fn read_request(conn: &mut TcpStream) -> Option<(String, String, Option<String>, String)> {
    let mut reader = BufReader::new(conn.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut words = line.split_whitespace();
    let (method, path) = (words.next()?.to_owned(), words.next()?.to_owned());
    let (mut length, mut bearer) = (0usize, None);
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().ok()?;
        } else if name.eq_ignore_ascii_case("authorization") {
            bearer = value.strip_prefix("Bearer ").map(str::to_owned);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((
        method,
        path,
        bearer,
        String::from_utf8_lossy(&body).into_owned(),
    ))
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
