//! Processes and signals: a command run under a deadline in its own process group, its output
//! collected as it arrives, and the signals a terminal or a CI runner sends.

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::squash_whitespace;

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
    pub(crate) command: String,
    shared: Shared,
    pumps: Vec<JoinHandle<()>>,
    started: Instant,
    pub(crate) deadline: Instant,
}

impl Running {
    pub(crate) fn spawn(
        mut cmd: Command,
        label: String,
        timeout: Duration,
    ) -> Result<Running, RunError> {
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

pub(crate) fn run_to_end(cmd: Command, timeout: Duration) -> Result<TfOutput, RunError> {
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
