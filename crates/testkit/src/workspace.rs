//! Throw-away Terraform working directories wired to locally built providers through
//! `dev_overrides`, and the commands run in them.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::cli::*;
use crate::process::*;
use crate::{env_flag, hcl_string};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);

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

    /// The identity Terraform recorded for instance 0 of the managed resource `address` (1.12+),
    /// or `None` when it recorded none.
    pub fn state_resource_identity(&self, address: &str) -> Option<serde_json::Value> {
        self.state_instance(address)?
            .get("identity")
            .filter(|i| !i.is_null())
            .cloned()
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
