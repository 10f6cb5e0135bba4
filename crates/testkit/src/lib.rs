//! Acceptance-test harness: finds the Terraform / OpenTofu CLIs to test against and runs them in
//! throw-away workspaces wired to a locally built provider through `dev_overrides`.
//!
//! It knows nothing about any one provider. A test picks its CLIs with [`for_each_cli`] (or
//! [`terraform_clis`]), puts its provider binary into a [`ProviderDir`], opens a [`Workspace`] and
//! drives `terraform` through it. Every command runs with colour and input off, stdin closed, inherited
//! `TF_*` settings removed, in its own process group, and under a deadline, so a hung Terraform or
//! provider fails the test instead of stalling CI.
//!
//! Environment knobs:
//! - `HOSTUP_TF_VERSIONS=1.15.5,1.0.3`: run only these versions (a `major.minor` prefix matches too,
//!   `tofu` / `terraform` select a flavour). A filter that matches nothing is an error.
//! - `HOSTUP_TF_TIMEOUT_SECS`: per-command deadline (default 180).
//! - `HOSTUP_TF_KEEP=1`: keep the workspace directories of failed tests and print where they are.
//! - `CI`: with no CLI found, fail instead of skipping; with no filter, fail unless both a Terraform
//!   and an OpenTofu were found.
//!
//! The CLIs: the pinned `.tools/bin/terraform-X.Y.Z` (scripts/install-terraform.sh) and
//! `.tools/bin/tofu-X.Y.Z` (scripts/install-tofu.sh), plus any `terraform` / `tofu` on `PATH`.

pub mod release;
pub mod sim;

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);

/// Which CLI family a binary belongs to; they differ in their default registry host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flavor {
    /// HashiCorp Terraform (`terraform version` says `Terraform vX.Y.Z`).
    Terraform,
    /// OpenTofu (`tofu version` says `OpenTofu vX.Y.Z`).
    OpenTofu,
}

impl Flavor {
    /// The host a bare `namespace/type` provider source resolves to.
    pub fn registry_host(self) -> &'static str {
        match self {
            Flavor::Terraform => "registry.terraform.io",
            Flavor::OpenTofu => "registry.opentofu.org",
        }
    }

    /// `terraform` or `tofu`: the command name, and the prefix of a pinned build in `.tools/bin`.
    pub fn short(self) -> &'static str {
        match self {
            Flavor::Terraform => "terraform",
            Flavor::OpenTofu => "tofu",
        }
    }
}

/// One runnable CLI, identified by what its `version` command says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TerraformCli {
    /// The executable (a pinned build under `.tools/bin/` or one found on `PATH`).
    pub path: PathBuf,
    /// Terraform or OpenTofu, as its version line says.
    pub flavor: Flavor,
    /// As printed after the `v`, e.g. `1.15.5` or `1.10.0-beta1`.
    pub version: String,
}

impl TerraformCli {
    /// `terraform 1.15.5`, used in test output and failure messages.
    pub fn label(&self) -> String {
        format!("{} {}", self.flavor.short(), self.version)
    }

    /// Numeric `(major, minor, patch)`; pre-release suffixes are ignored.
    pub fn version_triple(&self) -> (u64, u64, u64) {
        version_triple(&self.version)
    }

    /// Whether this CLI is version `major.minor.patch` or newer (pre-release suffixes ignored).
    pub fn at_least(&self, major: u64, minor: u64, patch: u64) -> bool {
        self.version_triple() >= (major, minor, patch)
    }

    /// `terraform_data` is built into Terraform since 1.4 and into every OpenTofu.
    pub fn has_terraform_data(&self) -> bool {
        self.flavor == Flavor::OpenTofu || self.at_least(1, 4, 0)
    }
}

impl fmt::Display for TerraformCli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.label(), self.path.display())
    }
}

/// Parses the first line of `terraform version` / `tofu version` output.
pub fn parse_version_output(stdout: &str) -> Option<(Flavor, String)> {
    let line = stdout.lines().next()?.trim();
    let (name, version) = line.split_once(' ')?;
    let flavor = match name {
        "Terraform" => Flavor::Terraform,
        "OpenTofu" => Flavor::OpenTofu,
        _ => return None,
    };
    let version = version.trim().strip_prefix('v')?;
    let valid = !version.is_empty()
        && version.starts_with(|c: char| c.is_ascii_digit())
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'));
    valid.then(|| (flavor, version.to_string()))
}

/// `1.10.0-beta1` → `(1, 10, 0)`; missing or non-numeric parts count as 0.
pub fn version_triple(version: &str) -> (u64, u64, u64) {
    let core = version.split(['-', '+']).next().unwrap_or("");
    let mut parts = core.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

/// Whether one `HOSTUP_TF_VERSIONS` entry selects `cli`: an exact version, a dotted prefix such as
/// `1.15`, a flavour name, or `tofu-1.8.0` / `terraform-1.15.5`.
pub fn filter_entry_matches(entry: &str, cli: &TerraformCli) -> bool {
    let entry = entry.trim();
    if entry.is_empty() {
        return false;
    }
    if entry == cli.flavor.short() {
        return true;
    }
    let (flavor_ok, version) = match entry.split_once('-') {
        Some((f @ ("terraform" | "tofu"), v)) => (f == cli.flavor.short(), v),
        _ => (true, entry),
    };
    flavor_ok
        && (cli.version == version
            || cli
                .version
                .strip_prefix(version)
                .is_some_and(|rest| rest.starts_with('.')))
}

/// Applies a comma-separated filter; `None` or a blank filter keeps everything.
pub fn apply_filter(clis: Vec<TerraformCli>, filter: Option<&str>) -> Vec<TerraformCli> {
    let Some(filter) = filter.filter(|f| !f.trim().is_empty()) else {
        return clis;
    };
    clis.into_iter()
        .filter(|cli| filter.split(',').any(|e| filter_entry_matches(e, cli)))
        .collect()
}

/// Keeps the first CLI of each (flavour, version), so a PATH `terraform` that is one of the pinned
/// versions runs once; the result is ordered newest first.
pub fn dedupe(clis: Vec<TerraformCli>) -> Vec<TerraformCli> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<TerraformCli> = clis
        .into_iter()
        .filter(|c| seen.insert((c.flavor, c.version.clone())))
        .collect();
    out.sort_by(|a, b| {
        (
            b.flavor == Flavor::Terraform,
            b.version_triple(),
            &b.version,
        )
            .cmp(&(
                a.flavor == Flavor::Terraform,
                a.version_triple(),
                &a.version,
            ))
    });
    out
}

/// The repository root (where `.tools/` lives): two levels above this crate.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/testkit sits two levels below the repository root")
        .to_path_buf()
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| {
        let v = v.trim();
        !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false")
    })
}

fn probe(path: &Path) -> Result<TerraformCli, String> {
    let mut cmd = Command::new(path);
    cmd.arg("version")
        .env("CHECKPOINT_DISABLE", "1")
        // OpenTofu prints a warning before the version line when this names a missing file.
        .env_remove("TF_CLI_CONFIG_FILE")
        .env_remove("TF_CLI_ARGS")
        .env_remove("TF_CLI_ARGS_version");
    let out =
        run_to_end(cmd, Duration::from_secs(60)).map_err(|e| format!("{}: {e}", path.display()))?;
    if !out.success() {
        return Err(format!("{}: `version` failed:\n{out}", path.display()));
    }
    let (flavor, version) = parse_version_output(&out.stdout).ok_or_else(|| {
        format!(
            "{}: unrecognised `version` output {:?}",
            path.display(),
            out.stdout.lines().next().unwrap_or("")
        )
    })?;
    Ok(TerraformCli {
        path: path.to_path_buf(),
        flavor,
        version,
    })
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The pinned builds in `.tools/bin`: `terraform-X.Y.Z` (scripts/install-terraform.sh) and
/// `tofu-X.Y.Z` (scripts/install-tofu.sh), each checked to be the flavour and version it is named.
fn discover() -> Vec<TerraformCli> {
    let mut found = Vec::new();
    let bin = repo_root().join(".tools").join("bin");
    let mut pinned: Vec<(PathBuf, Flavor, String)> = std::fs::read_dir(&bin)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter_map(|p| {
                    let name = p.file_name()?.to_str()?.to_string();
                    let named = pinned_name(&name)?;
                    Some((p, named.0, named.1))
                })
                .collect()
        })
        .unwrap_or_default();
    pinned.sort();
    for (path, flavor, named) in pinned {
        let script = match flavor {
            Flavor::Terraform => "scripts/install-terraform.sh",
            Flavor::OpenTofu => "scripts/install-tofu.sh",
        };
        // A pinned install that does not run is broken, not absent: say so loudly.
        let cli = probe(&path).unwrap_or_else(|e| {
            panic!("pinned {} is broken ({e}); rerun {script}", flavor.short())
        });
        assert_eq!(
            (cli.flavor, cli.version.as_str()),
            (flavor, named.as_str()),
            "{} reports {}; rerun {script}",
            path.display(),
            cli.label()
        );
        found.push(cli);
    }
    for name in ["terraform", "tofu"] {
        if let Some(path) = find_on_path(name) {
            match probe(&path) {
                Ok(cli) => found.push(cli),
                Err(e) => eprintln!("hostup tests: ignoring {name} on PATH: {e}"),
            }
        }
    }
    dedupe(found)
}

/// `terraform-1.15.5` / `tofu-1.12.6` → the flavour and version a pinned build's file name
/// promises; anything else in `.tools/bin` (a `.tmp` left by an interrupted install) is not one.
pub fn pinned_name(name: &str) -> Option<(Flavor, String)> {
    if name.ends_with(".tmp") {
        return None;
    }
    let (flavor, version) = if let Some(v) = name.strip_prefix("terraform-") {
        (Flavor::Terraform, v)
    } else {
        (Flavor::OpenTofu, name.strip_prefix("tofu-")?)
    };
    version
        .starts_with(|c: char| c.is_ascii_digit())
        .then(|| (flavor, version.to_string()))
}

/// Every CLI the acceptance tests run against, after `HOSTUP_TF_VERSIONS`.
///
/// With none found this panics when `CI` is set (a missing Terraform is a CI failure) and otherwise
/// prints a SKIP line and returns an empty slice, so `for cli in terraform_clis()` runs nothing.
pub fn terraform_clis() -> &'static [TerraformCli] {
    static ALL: OnceLock<Vec<TerraformCli>> = OnceLock::new();
    let all = ALL.get_or_init(discover);
    static SELECTED: OnceLock<Vec<TerraformCli>> = OnceLock::new();
    let filter = std::env::var("HOSTUP_TF_VERSIONS").ok();
    let selected = SELECTED.get_or_init(|| apply_filter(all.clone(), filter.as_deref()));
    if selected.is_empty() {
        let test = thread::current().name().unwrap_or("?").to_string();
        if let Some(f) = filter.as_deref().filter(|f| !f.trim().is_empty()) {
            let avail: Vec<String> = all.iter().map(TerraformCli::label).collect();
            panic!("HOSTUP_TF_VERSIONS={f:?} matches none of the CLIs found: {avail:?}");
        }
        if env_flag("CI") {
            panic!(
                "no Terraform found for {test}: run scripts/install-terraform.sh and \
                 scripts/install-tofu.sh (CI must test against real Terraform and OpenTofu)"
            );
        }
        // Straight to fd 2: libtest captures eprintln! of passing tests, and a skip must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIP {test}: no Terraform/OpenTofu found (.tools/bin is empty and none on PATH); \
             run scripts/install-terraform.sh and scripts/install-tofu.sh ***\n"
        );
    }
    if env_flag("CI") && filter.as_deref().is_none_or(|f| f.trim().is_empty()) {
        // Both clients are first-class: in CI, a run with one of them missing is a failure.
        for flavor in [Flavor::Terraform, Flavor::OpenTofu] {
            assert!(
                selected.iter().any(|c| c.flavor == flavor),
                "no {} found (CI must test against both Terraform and OpenTofu): run \
                 scripts/install-terraform.sh and scripts/install-tofu.sh; found {:?}",
                flavor.short(),
                selected.iter().map(TerraformCli::label).collect::<Vec<_>>()
            );
        }
    }
    selected
}

/// Runs `body` once per selected CLI, announcing each on stderr; panics name the CLI.
pub fn for_each_cli(mut body: impl FnMut(&TerraformCli)) {
    for cli in terraform_clis() {
        eprintln!("--- {}: {cli}", thread::current().name().unwrap_or("test"));
        body(cli);
    }
}

/// Like [`for_each_cli`], but every CLI at once, each on its own thread: for tests that mostly
/// wait (on jobs, timeouts, signals), so the matrix costs one run's wall time, not eight. A
/// panic on any thread fails the test, naming its CLI.
pub fn for_each_cli_concurrently(body: impl Fn(&TerraformCli) + Sync) {
    let name = thread::current().name().unwrap_or("test").to_owned();
    let failed: Vec<String> = thread::scope(|scope| {
        let runs: Vec<_> = terraform_clis()
            .iter()
            .map(|cli| {
                let body = &body;
                let name = &name;
                let run = thread::Builder::new()
                    .name(format!("{name} [{}]", cli.label()))
                    .spawn_scoped(scope, move || {
                        eprintln!("--- {name}: {cli}");
                        body(cli)
                    })
                    .expect("spawn a test thread");
                (cli, run)
            })
            .collect();
        runs.into_iter()
            .filter_map(|(cli, run)| run.join().is_err().then(|| cli.label()))
            .collect()
    });
    assert!(
        failed.is_empty(),
        "failed on {failed:?} (see the panics above)"
    );
}

/// The newest and the oldest selected CLI of each flavour, Terraform first, newest first (one
/// entry per flavour when they are the same, none when no CLI is found). With the pinned set this
/// is Terraform 1.15.5 and 1.0.3, the two ends of the supported range, and both OpenTofu builds:
/// the subset for tests too slow to run on every Terraform.
pub fn newest_and_oldest_clis() -> Vec<&'static TerraformCli> {
    pick_newest_and_oldest(terraform_clis())
}

/// [`newest_and_oldest_clis`] over any list ordered as [`dedupe`] orders it.
pub fn pick_newest_and_oldest(clis: &[TerraformCli]) -> Vec<&TerraformCli> {
    let mut out = Vec::new();
    for flavor in [Flavor::Terraform, Flavor::OpenTofu] {
        let mut of_flavor = clis.iter().filter(|c| c.flavor == flavor);
        let Some(newest) = of_flavor.next() else {
            continue;
        };
        out.push(newest);
        if let Some(oldest) = of_flavor.min_by_key(|c| c.version_triple()) {
            if oldest.version_triple() != newest.version_triple() {
                out.push(oldest);
            }
        }
    }
    out
}

/// The newest selected Terraform and every selected OpenTofu (the pinned OpenTofu set is just the
/// two ends of its range, and every acceptance test runs on each OpenTofu build).
pub fn newest_clis() -> Vec<&'static TerraformCli> {
    pick_newest(terraform_clis())
}

/// [`newest_clis`] over any list ordered as [`dedupe`] orders it.
pub fn pick_newest(clis: &[TerraformCli]) -> Vec<&TerraformCli> {
    let newest_terraform = clis.iter().find(|c| c.flavor == Flavor::Terraform);
    newest_terraform
        .into_iter()
        .chain(clis.iter().filter(|c| c.flavor == Flavor::OpenTofu))
        .collect()
}

/// Like [`for_each_cli`], over [`newest_and_oldest_clis`] only.
pub fn for_newest_and_oldest_cli(mut body: impl FnMut(&TerraformCli)) {
    for cli in newest_and_oldest_clis() {
        eprintln!("--- {}: {cli}", thread::current().name().unwrap_or("test"));
        body(cli);
    }
}

/// Like [`for_each_cli`], over [`newest_clis`]: the newest Terraform and each OpenTofu.
pub fn for_newest_cli(mut body: impl FnMut(&TerraformCli)) {
    for cli in newest_clis() {
        eprintln!("--- {}: {cli}", thread::current().name().unwrap_or("test"));
        body(cli);
    }
}

/// `target/<profile>/`, where cargo puts the binaries of this workspace build.
pub fn target_profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // Integration tests live in target/<profile>/deps/.
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary outside target/<profile>/deps")
        .to_path_buf()
}

/// Path of a cargo example built next to this test binary (`target/<profile>/examples/<name>`).
/// `cargo build --all-targets` (or `cargo build --examples`) builds it; this panics if it is missing.
pub fn cargo_example(name: &str) -> PathBuf {
    let path = target_profile_dir().join("examples").join(name);
    assert!(
        path.is_file(),
        "{} does not exist: build it with `cargo build --examples` (make test does)",
        path.display()
    );
    path
}

/// A directory holding one provider binary as `terraform-provider-<type>`, the layout a
/// `dev_overrides` entry points at.
#[derive(Debug)]
pub struct ProviderDir {
    dir: tempfile::TempDir,
    namespace: String,
    type_name: String,
}

impl ProviderDir {
    /// Links (or, where linking fails, copies) `binary` into a fresh directory for the provider
    /// source `namespace/type_name`, e.g. `ProviderDir::new(path, "hostup", "echo")`.
    pub fn new(binary: &Path, namespace: &str, type_name: &str) -> ProviderDir {
        let binary = binary
            .canonicalize()
            .unwrap_or_else(|e| panic!("provider binary {}: {e}", binary.display()));
        let dir = tempfile::Builder::new()
            .prefix("tf-provider-")
            .tempdir()
            .expect("create provider dir");
        let target = dir.path().join(format!("terraform-provider-{type_name}"));
        if std::os::unix::fs::symlink(&binary, &target).is_err() {
            std::fs::copy(&binary, &target).expect("copy provider binary");
        }
        ProviderDir {
            dir,
            namespace: namespace.to_string(),
            type_name: type_name.to_string(),
        }
    }

    /// The directory holding the binary (what `dev_overrides` names).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `namespace/type`, as written in `required_providers`.
    pub fn source(&self) -> String {
        format!("{}/{}", self.namespace, self.type_name)
    }

    /// The provider's type name (`hostup`, `echo`).
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// The fully qualified address `flavor` resolves [`Self::source`] to.
    pub fn address(&self, flavor: Flavor) -> String {
        format!("{}/{}", flavor.registry_host(), self.source())
    }
}

/// Renders the CLI configuration: each `(address, dir)` as a dev override, everything else direct.
pub fn cli_config_text(overrides: &[(String, PathBuf)]) -> String {
    let mut text = String::from("provider_installation {\n");
    if !overrides.is_empty() {
        text.push_str("  dev_overrides {\n");
        for (address, dir) in overrides {
            text.push_str(&format!(
                "    {} = {}\n",
                hcl_string(address),
                hcl_string(&dir.to_string_lossy())
            ));
        }
        text.push_str("  }\n");
    }
    text.push_str("  direct {}\n}\n");
    text
}

/// An HCL quoted string; JSON's escaping is a valid subset, plus `${`/`%{` must not interpolate.
pub fn hcl_string(s: &str) -> String {
    serde_json::Value::String(s.to_string())
        .to_string()
        .replace("${", "$${")
        .replace("%{", "%%{")
}

/// Collapses every run of whitespace to one space and trims the ends.
pub fn squash_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What a finished command produced.
#[derive(Clone, Debug)]
pub struct TfOutput {
    /// `terraform 1.15.5 plan -no-color`, for messages.
    pub command: String,
    /// `None` when the process was ended by a signal.
    pub code: Option<i32>,
    /// Everything the command wrote to stdout.
    pub stdout: String,
    /// Everything the command wrote to stderr.
    pub stderr: String,
    /// How long it ran.
    pub duration: Duration,
}

impl TfOutput {
    /// Whether the command exited with code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Fails the test, showing the output, unless the command succeeded.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(self.success(), "expected success:\n{self}");
        self
    }

    /// Fails the test, showing the output, unless the command failed.
    #[track_caller]
    pub fn assert_failure(&self) -> &Self {
        assert!(!self.success(), "expected failure:\n{self}");
        self
    }

    /// Fails the test, showing the output, unless the command exited with `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "unexpected exit code:\n{self}");
        self
    }

    /// Whether stdout or stderr contains `needle`, comparing runs of whitespace as one space:
    /// Terraform wraps diagnostics to the terminal width, so a message may span lines.
    pub fn output_contains(&self, needle: &str) -> bool {
        let needle = squash_whitespace(needle);
        squash_whitespace(&self.stdout).contains(&needle)
            || squash_whitespace(&self.stderr).contains(&needle)
    }

    /// Asserts [`Self::output_contains`].
    #[track_caller]
    pub fn assert_output_contains(&self, needle: &str) -> &Self {
        assert!(
            self.output_contains(needle),
            "expected output to contain {needle:?}:\n{self}"
        );
        self
    }

    /// Asserts that neither stdout nor stderr contains `needle` (whitespace-insensitive).
    #[track_caller]
    pub fn assert_output_lacks(&self, needle: &str) -> &Self {
        assert!(
            !self.output_contains(needle),
            "expected output without {needle:?}:\n{self}"
        );
        self
    }

    /// Stdout, then stderr, as one text.
    pub fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Parses stdout as JSON (for `-json` commands).
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self}"))
    }
}

impl fmt::Display for TfOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self
            .code
            .map_or_else(|| "killed by a signal".to_string(), |c| c.to_string());
        writeln!(
            f,
            "$ {}  (exit {code}, {:.1?})",
            self.command, self.duration
        )?;
        writeln!(f, "--- stdout ---\n{}", self.stdout.trim_end())?;
        write!(f, "--- stderr ---\n{}", self.stderr.trim_end())
    }
}

/// Why a command produced no [`TfOutput`].
#[derive(Debug)]
pub enum RunError {
    /// The command could not be started; says why.
    Spawn(String),
    /// The deadline passed; the process group was killed. Carries what it printed so far.
    Timeout(TfOutput),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Spawn(e) => write!(f, "could not start: {e}"),
            RunError::Timeout(out) => write!(f, "timed out and was killed:\n{out}"),
        }
    }
}

#[derive(Debug, Default)]
struct Captured {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    open_streams: usize,
}

type Shared = Arc<(Mutex<Captured>, Condvar)>;

fn pump(mut from: impl Read + Send + 'static, shared: Shared, is_stdout: bool) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            let n = from.read(&mut buf).unwrap_or(0);
            let (lock, cvar) = &*shared;
            let mut cap = lock.lock().unwrap();
            if n == 0 {
                cap.open_streams -= 1;
                cvar.notify_all();
                return;
            }
            if is_stdout {
                cap.stdout.extend_from_slice(&buf[..n]);
            } else {
                cap.stderr.extend_from_slice(&buf[..n]);
            }
            cvar.notify_all();
        }
    })
}

/// Sends `signal` (a name such as `INT`) to a pid or, with a negative id, a process group. Uses the
/// shell's `kill` so the harness needs no libc binding.
fn send_signal(signal: &str, target: i64) -> bool {
    Command::new("sh")
        .args([
            "-c",
            "kill -s \"$0\" -- \"$1\" 2>/dev/null",
            signal,
            &target.to_string(),
        ])
        .status()
        .is_ok_and(|s| s.success())
}

/// SIGKILL to one process, as the OOM killer or a crash ends it: nothing gets to clean up.
pub fn kill_process(pid: u32) {
    send_signal("KILL", i64::from(pid));
}

/// A live process, as `/proc` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Its pid.
    pub pid: u32,
    /// Its parent's pid.
    pub parent: u32,
    /// Its first argument (the program as started).
    pub command: String,
}

/// Whether `pid` names a process that has not exited (a zombie has).
pub fn process_alive(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|(state, _, _)| state != 'Z')
}

/// The live processes whose process group is `group` (Linux `/proc`).
pub fn processes_in_group(group: u32) -> Vec<ProcessInfo> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let (state, parent, pgrp) = proc_stat(pid)?;
            if state == 'Z' || pgrp != group {
                return None;
            }
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
            Some(ProcessInfo {
                pid,
                parent,
                command: String::from_utf8_lossy(argv0).into_owned(),
            })
        })
        .collect()
}

/// State, parent pid and process group from `/proc/PID/stat` (the fields after the command name,
/// which may itself hold spaces and parentheses).
fn proc_stat(pid: u32) -> Option<(char, u32, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut rest = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let parent = rest.next()?.parse().ok()?;
    let pgrp = rest.next()?.parse().ok()?;
    Some((state, parent, pgrp))
}

/// A command running in the background, with its output collected as it arrives.
#[derive(Debug)]
pub struct Running {
    child: Child,
    command: String,
    shared: Shared,
    pumps: Vec<JoinHandle<()>>,
    started: Instant,
    deadline: Instant,
}

impl Running {
    fn spawn(mut cmd: Command, label: String, timeout: Duration) -> Result<Running, RunError> {
        use std::os::unix::process::CommandExt;
        // Own process group: a timeout can kill Terraform and every provider it started, and an
        // interrupt can reach all of them the way a terminal's Ctrl-C does.
        cmd.process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| RunError::Spawn(format!("{label}: {e}")))?;
        let started = Instant::now();
        let shared: Shared = Arc::new((
            Mutex::new(Captured {
                open_streams: 2,
                ..Captured::default()
            }),
            Condvar::new(),
        ));
        let pumps = vec![
            pump(child.stdout.take().unwrap(), shared.clone(), true),
            pump(child.stderr.take().unwrap(), shared.clone(), false),
        ];
        Ok(Running {
            child,
            command: label,
            shared,
            pumps,
            started,
            deadline: started + timeout,
        })
    }

    /// The process id (also its process group's, since it leads its own group).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Output so far: (stdout, stderr).
    pub fn output_so_far(&self) -> (String, String) {
        let cap = self.shared.0.lock().unwrap();
        (
            String::from_utf8_lossy(&cap.stdout).into_owned(),
            String::from_utf8_lossy(&cap.stderr).into_owned(),
        )
    }

    /// Waits until stdout or stderr contains `needle`. Returns false if the process closed its
    /// output, or `within` passed, first.
    pub fn wait_for_output(&self, needle: &str, within: Duration) -> bool {
        let until = Instant::now() + within;
        let (lock, cvar) = &*self.shared;
        let mut cap = lock.lock().unwrap();
        let needle = needle.as_bytes();
        if needle.is_empty() {
            return true;
        }
        loop {
            let has = |hay: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
            if has(&cap.stdout) || has(&cap.stderr) {
                return true;
            }
            let now = Instant::now();
            if cap.open_streams == 0 || now >= until {
                return false;
            }
            cap = cvar.wait_timeout(cap, until - now).unwrap().0;
        }
    }

    /// SIGINT to the CLI process alone, like `kill -INT <pid>`.
    pub fn interrupt(&self) {
        send_signal("INT", i64::from(self.pid()));
    }

    /// SIGINT to the CLI and everything it started (its providers), like Ctrl-C in a terminal.
    pub fn interrupt_group(&self) {
        send_signal("INT", -i64::from(self.pid()));
    }

    /// SIGTERM to the CLI and everything it started, as GitLab, Jenkins and GitHub Actions cancel a
    /// job (SIGKILL follows after their grace period: [`Running::kill`]).
    pub fn terminate_group(&self) {
        send_signal("TERM", -i64::from(self.pid()));
    }

    /// The pids of the provider processes (`terraform-provider-*`) running in the CLI's process
    /// group, each with its parent's pid. Zombies (exited, not yet reaped) are left out.
    pub fn providers(&self) -> Vec<ProcessInfo> {
        processes_in_group(self.pid())
            .into_iter()
            .filter(|p| {
                Path::new(&p.command)
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("terraform-provider-"))
            })
            .collect()
    }

    fn kill_group(&mut self) {
        send_signal("KILL", -i64::from(self.pid()));
        let _ = self.child.kill();
    }

    /// SIGKILL to the CLI and everything it started (its providers), as a CI runner kills a
    /// cancelled job: nothing gets to clean up or write state. Returns what it printed.
    pub fn kill(mut self) -> TfOutput {
        self.kill_group();
        let _ = self.child.wait();
        self.finish(None)
    }

    /// Waits for the process to end and its output to close, within the command's deadline.
    pub fn wait(mut self) -> Result<TfOutput, RunError> {
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() >= self.deadline => break None,
                Ok(None) => thread::sleep(Duration::from_millis(10)),
                Err(_) => break None,
            }
        };
        let Some(status) = status else {
            self.kill_group();
            let _ = self.child.wait();
            return Err(RunError::Timeout(self.finish(None)));
        };
        // A provider that outlives Terraform could hold the pipes open; don't wait on it forever.
        let closed = {
            let (lock, cvar) = &*self.shared;
            let cap = lock.lock().unwrap();
            let grace = self
                .deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_secs(1));
            cvar.wait_timeout_while(cap, grace, |c| c.open_streams > 0)
                .unwrap()
                .0
                .open_streams
                == 0
        };
        if !closed {
            self.kill_group();
        }
        Ok(self.finish(Some(status)))
    }

    fn finish(&mut self, status: Option<ExitStatus>) -> TfOutput {
        for p in self.pumps.drain(..) {
            let _ = p.join();
        }
        let (stdout, stderr) = self.output_so_far();
        TfOutput {
            command: self.command.clone(),
            code: status.and_then(|s| s.code()),
            stdout,
            stderr,
            duration: self.started.elapsed(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill_group();
            let _ = self.child.wait();
        }
    }
}

fn run_to_end(cmd: Command, timeout: Duration) -> Result<TfOutput, RunError> {
    let label = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    Running::spawn(cmd, label, timeout)?.wait()
}

/// When [`Workspace::run_interrupted`] sends its SIGINT.
#[derive(Clone, Debug)]
pub enum InterruptWhen {
    /// As soon as stdout or stderr contains this text (panics if it never does).
    OutputContains(String),
    /// This long after the command started.
    After(Duration),
}

/// The inherited variables a workspace command drops: `TF_*` settings (TF_CLI_ARGS, TF_VAR_*,
/// TF_WORKSPACE, TF_DATA_DIR...) would make results depend on the developer's shell. The logging
/// knobs (`TF_LOG*`) stay, for debugging a failing test.
pub fn inherited_to_remove(keys: impl Iterator<Item = OsString>) -> Vec<OsString> {
    keys.filter(|k| {
        let k = k.to_string_lossy();
        k.starts_with("TF_") && !k.starts_with("TF_LOG")
    })
    .collect()
}

/// A temporary Terraform working directory with its own CLI configuration.
#[derive(Debug)]
pub struct Workspace {
    cli: TerraformCli,
    root: tempfile::TempDir,
    work: PathBuf,
    cli_config: PathBuf,
    env: Vec<(OsString, Option<OsString>)>,
    timeout: Duration,
}

impl Workspace {
    /// A workspace with no provider overrides (built-in providers and `terraform_data` only).
    pub fn new(cli: &TerraformCli) -> Workspace {
        Workspace::with_providers(cli, &[])
    }

    /// A workspace whose CLI config points each provider's source at its [`ProviderDir`]. With
    /// `dev_overrides` no `terraform init` is needed (or wanted) for those providers; Terraform
    /// prints a "Provider development overrides are in effect" warning on every command.
    pub fn with_providers(cli: &TerraformCli, providers: &[&ProviderDir]) -> Workspace {
        let root = tempfile::Builder::new()
            .prefix("tf-workspace-")
            .tempdir()
            .expect("create workspace");
        let work = root.path().join("work");
        std::fs::create_dir(&work).expect("create work dir");
        let cli_config = root.path().join("cli.tfrc");
        let overrides: Vec<(String, PathBuf)> = providers
            .iter()
            .map(|p| (p.address(cli.flavor), p.dir().to_path_buf()))
            .collect();
        std::fs::write(&cli_config, cli_config_text(&overrides)).expect("write CLI config");
        let timeout = std::env::var("HOSTUP_TF_TIMEOUT_SECS")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map_or(DEFAULT_TIMEOUT, Duration::from_secs);
        Workspace {
            cli: cli.clone(),
            root,
            work,
            cli_config,
            env: Vec::new(),
            timeout,
        }
    }

    /// The CLI this workspace runs.
    pub fn cli(&self) -> &TerraformCli {
        &self.cli
    }

    /// The working directory Terraform runs in.
    pub fn dir(&self) -> &Path {
        &self.work
    }

    /// The CLI configuration file (`TF_CLI_CONFIG_FILE`) with the `dev_overrides`.
    pub fn cli_config_path(&self) -> &Path {
        &self.cli_config
    }

    /// Sets an environment variable for every later command in this workspace.
    pub fn set_env(&mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> &mut Self {
        self.env.push((key.into(), Some(value.into())));
        self
    }

    /// Removes an inherited environment variable for every later command.
    pub fn remove_env(&mut self, key: impl Into<OsString>) -> &mut Self {
        self.env.push((key.into(), None));
        self
    }

    /// Per-command deadline; a command still running then is killed and the test fails.
    pub fn set_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = timeout;
        self
    }

    /// Writes `contents` to `relative` (parents created) inside the working directory.
    pub fn write(&self, relative: &str, contents: &str) {
        let path = self.work.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent dir");
        }
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Writes `main.tf` in the working directory.
    pub fn write_main_tf(&self, contents: &str) {
        self.write("main.tf", contents);
    }

    /// Deletes a file of the working directory.
    pub fn remove(&self, relative: &str) {
        let path = self.work.join(relative);
        std::fs::remove_file(&path).unwrap_or_else(|e| panic!("remove {}: {e}", path.display()));
    }

    /// The command line `args` would run: the CLI with `-no-color` appended (Terraform accepts it
    /// anywhere after the subcommand), in the working directory, with a scrubbed environment.
    pub fn command(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(&self.cli.path);
        cmd.args(args).arg("-no-color").current_dir(&self.work);
        for key in inherited_to_remove(std::env::vars_os().map(|(k, _)| k)) {
            cmd.env_remove(key);
        }
        cmd.env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1");
        for (key, value) in &self.env {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        for (key, value) in extra_env {
            cmd.env(key, value);
        }
        cmd
    }

    fn label(&self, args: &[&str]) -> String {
        format!("{} {} -no-color", self.cli.label(), args.join(" "))
    }

    /// Runs a command to its end; `Err` on timeout (the process group is killed) or spawn failure.
    pub fn try_run(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Result<TfOutput, RunError> {
        Running::spawn(
            self.command(args, extra_env),
            self.label(args),
            self.timeout,
        )?
        .wait()
    }

    /// Runs a command to its end, whatever its exit code; panics only on timeout or spawn failure.
    #[track_caller]
    pub fn run(&self, args: &[&str]) -> TfOutput {
        self.run_with_env(args, &[])
    }

    /// As [`Workspace::run`], with extra environment variables.
    #[track_caller]
    pub fn run_with_env(&self, args: &[&str], extra_env: &[(&str, &str)]) -> TfOutput {
        self.try_run(args, extra_env)
            .unwrap_or_else(|e| panic!("{} in {}: {e}", self.cli.label(), self.work.display()))
    }

    /// Starts a command in the background.
    #[track_caller]
    pub fn spawn(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Running {
        Running::spawn(
            self.command(args, extra_env),
            self.label(args),
            self.timeout,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs a command and presses Ctrl-C when `when` happens, then waits for it. The SIGINT goes to
    /// the command's whole process group, as a terminal sends it: Terraform 1.0 runs its real work
    /// in a child process (panicwrap) and its parent ignores a SIGINT aimed at it alone, and the
    /// providers, which share the group, must survive it.
    #[track_caller]
    pub fn run_interrupted(&self, args: &[&str], when: InterruptWhen) -> TfOutput {
        let running = self.spawn(args, &[]);
        match &when {
            InterruptWhen::OutputContains(needle) => {
                let left = running.deadline.saturating_duration_since(Instant::now());
                if !running.wait_for_output(needle, left) {
                    let (stdout, stderr) = running.output_so_far();
                    panic!(
                        "{} never printed {needle:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
                        running.command
                    );
                }
            }
            InterruptWhen::After(delay) => thread::sleep(*delay),
        }
        running.interrupt_group();
        running.wait().unwrap_or_else(|e| panic!("{e}"))
    }

    /// `init`, which must succeed.
    #[track_caller]
    pub fn init(&self) -> TfOutput {
        self.run(&["init"]).assert_success().clone()
    }

    /// `apply -auto-approve`, asserting success.
    #[track_caller]
    pub fn apply(&self) -> TfOutput {
        self.run(&["apply", "-auto-approve"])
            .assert_success()
            .clone()
    }

    /// `destroy -auto-approve`, asserting success.
    #[track_caller]
    pub fn destroy(&self) -> TfOutput {
        self.run(&["destroy", "-auto-approve"])
            .assert_success()
            .clone()
    }

    /// `plan -detailed-exitcode`: exit 0 means no changes, 2 means changes, 1 an error.
    #[track_caller]
    pub fn plan_detailed_exitcode(&self) -> TfOutput {
        self.run(&["plan", "-detailed-exitcode"])
    }

    /// Asserts that a plan proposes nothing (the usual check after an apply).
    #[track_caller]
    pub fn assert_plan_empty(&self) {
        let out = self.plan_detailed_exitcode();
        assert_eq!(out.code, Some(0), "expected an empty plan:\n{out}");
    }

    /// Asserts that a plan succeeds and proposes changes; returns it for further checks.
    #[track_caller]
    pub fn assert_plan_has_changes(&self) -> TfOutput {
        let out = self.plan_detailed_exitcode();
        assert_eq!(out.code, Some(2), "expected a plan with changes:\n{out}");
        out
    }

    /// `terraform show -json` of the current state.
    #[track_caller]
    pub fn show_json(&self) -> serde_json::Value {
        self.run(&["show", "-json"]).assert_success().json()
    }

    /// `terraform output -json`, as a map of output name to `{value, type, sensitive}`.
    #[track_caller]
    pub fn outputs_json(&self) -> serde_json::Value {
        self.run(&["output", "-json"]).assert_success().json()
    }

    /// The local state file, or `None` before the first apply (or when a killed run left it
    /// empty).
    #[track_caller]
    pub fn state(&self) -> Option<serde_json::Value> {
        let path = self.work.join("terraform.tfstate");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) if t.trim().is_empty() => return None,
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => panic!("read {}: {e}", path.display()),
        };
        Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("state is not JSON ({e})")))
    }

    /// The attributes of instance 0 of the managed resource `type.name` in the state file.
    #[track_caller]
    pub fn state_resource_attributes(&self, address: &str) -> Option<serde_json::Value> {
        self.state_instance(address)?.get("attributes").cloned()
    }

    /// The state's `status` of instance 0 of the managed resource `address` (`tainted`), or
    /// `None` when it is clean or absent.
    pub fn instance_status(&self, address: &str) -> Option<String> {
        let status = self
            .state_instance(address)?
            .get("status")?
            .as_str()?
            .to_owned();
        Some(status)
    }

    /// Instance 0 of the managed resource `address` (`TYPE.NAME`) in the state file.
    fn state_instance(&self, address: &str) -> Option<serde_json::Value> {
        let (ty, name) = address
            .split_once('.')
            .unwrap_or_else(|| panic!("{address:?} is not TYPE.NAME"));
        let state = self.state()?;
        state["resources"]
            .as_array()?
            .iter()
            .find(|r| r["mode"] == "managed" && r["type"] == ty && r["name"] == name)
            .map(|r| r["instances"][0].clone())
    }

    /// Keeps the directory after the test (printing where) instead of deleting it.
    pub fn keep(mut self) -> PathBuf {
        self.root.disable_cleanup(true);
        eprintln!(
            "hostup tests: kept workspace {}",
            self.root.path().display()
        );
        self.root.path().to_path_buf()
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if thread::panicking() && env_flag("HOSTUP_TF_KEEP") {
            self.root.disable_cleanup(true);
            eprintln!(
                "hostup tests: kept workspace {}",
                self.root.path().display()
            );
        }
    }
}

/// Collects the environment a [`Workspace::command`] would pass, for tests of the harness itself.
pub fn command_env(cmd: &Command) -> HashMap<String, Option<String>> {
    cmd.get_envs()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.map(|v| v.to_string_lossy().into_owned()),
            )
        })
        .collect()
}
