//! Which Terraform and OpenTofu CLIs the tests run: the pinned builds in `.tools/bin` and any on
//! `PATH`, narrowed by `HOSTUP_TF_VERSIONS`, and the helpers that run a test body once per CLI.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

use crate::process::run_to_end;
use crate::{env_flag, repo_root};

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
