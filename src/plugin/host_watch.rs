//! The provider never outlives the CLI that started it.
//!
//! Terraform (or OpenTofu) stops its providers through the Stop and Shutdown RPCs, so the
//! provider ignores the signals a terminal or a CI runner sends to the whole process group (see
//! `watch_interrupts` in the parent module). When the CLI is killed outright, though (SIGKILL after
//! a CI cancel's grace period, the OOM killer, a crash), nobody calls Shutdown, and a provider
//! that ignores signals would wait on HostUp forever, holding the job's runner.
//!
//! So the provider watches the process that started it, once a second:
//! - unix: the parent's pid. When the parent dies the kernel hands the provider to init (or a
//!   subreaper), so `getppid()` changes. Unlike Linux's parent-death signal, this works on macOS
//!   too, and it is not fooled by a Go host whose spawning OS thread exits while the host lives.
//! - Windows: a handle on the parent process, opened at start, which becomes signalled when the
//!   parent exits (the handle also keeps the pid from being reused under us).
//!
//! The gRPC connection is not a usable sign: grpc-go closes an idle channel after 30 minutes and
//! reconnects on the next call, so a closed connection does not mean the host is gone.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How often the parent is checked: the provider exits within about this long (plus the
/// graceful-stop bound) after its host is gone.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Cancels `shutdown` once the process that started this one has exited. Does nothing when the
/// parent cannot be watched (unix: started by init itself, e.g. Terraform as a container's pid 1,
/// whose death ends the container anyway; Windows: the parent already gone or not accessible).
pub(super) fn watch_host(shutdown: CancellationToken) {
    let Some(parent) = Parent::current() else {
        tracing::debug!("not watching the parent process: none to watch");
        return;
    };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECK_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if !parent.alive() {
                tracing::warn!(
                    parent = parent.pid(),
                    "the process that started this provider (Terraform or OpenTofu) has exited \
                     without stopping it; stopping"
                );
                shutdown.cancel();
                return;
            }
        }
    });
}

#[cfg(unix)]
struct Parent(u32);

#[cfg(unix)]
impl Parent {
    fn current() -> Option<Parent> {
        match std::os::unix::process::parent_id() {
            0 | 1 => None,
            pid => Some(Parent(pid)),
        }
    }

    fn pid(&self) -> u32 {
        self.0
    }

    fn alive(&self) -> bool {
        std::os::unix::process::parent_id() == self.0
    }
}

#[cfg(windows)]
struct Parent {
    pid: u32,
    handle: windows_sys::Win32::Foundation::HANDLE,
}

// The handle is only waited on; the process handle is usable from any thread.
#[cfg(windows)]
unsafe impl Send for Parent {}

#[cfg(windows)]
impl Parent {
    fn current() -> Option<Parent> {
        use windows_sys::Win32::Foundation::{CloseHandle, INVALID_HANDLE_VALUE};
        use windows_sys::Win32::System::Diagnostics::ToolHelp::{
            CreateToolhelp32Snapshot, Process32FirstW, Process32NextW, PROCESSENTRY32W,
            TH32CS_SNAPPROCESS,
        };
        use windows_sys::Win32::System::Threading::{GetCurrentProcessId, OpenProcess};

        const SYNCHRONIZE: u32 = 0x0010_0000;
        // SAFETY: plain Win32 calls; the snapshot handle is closed before returning, and the
        // entry's dwSize is set as Process32FirstW requires.
        unsafe {
            let me = GetCurrentProcessId();
            let snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
            if snapshot == INVALID_HANDLE_VALUE {
                return None;
            }
            let mut entry: PROCESSENTRY32W = std::mem::zeroed();
            entry.dwSize = std::mem::size_of::<PROCESSENTRY32W>() as u32;
            let mut parent = None;
            let mut more = Process32FirstW(snapshot, &mut entry) != 0;
            while more {
                if entry.th32ProcessID == me {
                    parent = Some(entry.th32ParentProcessID);
                    break;
                }
                more = Process32NextW(snapshot, &mut entry) != 0;
            }
            CloseHandle(snapshot);
            let pid = parent.filter(|&p| p != 0)?;
            let handle = OpenProcess(SYNCHRONIZE, 0, pid);
            (!handle.is_null()).then_some(Parent { pid, handle })
        }
    }

    fn pid(&self) -> u32 {
        self.pid
    }

    fn alive(&self) -> bool {
        use windows_sys::Win32::Foundation::WAIT_TIMEOUT;
        use windows_sys::Win32::System::Threading::WaitForSingleObject;
        // SAFETY: the handle was opened with SYNCHRONIZE and stays open while `self` lives.
        unsafe { WaitForSingleObject(self.handle, 0) == WAIT_TIMEOUT }
    }
}

#[cfg(windows)]
impl Drop for Parent {
    fn drop(&mut self) {
        // SAFETY: the handle is ours and closed once.
        unsafe { windows_sys::Win32::Foundation::CloseHandle(self.handle) };
    }
}
