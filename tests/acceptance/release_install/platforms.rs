//! The platforms besides linux_amd64, each run as far as this machine can run it:
//!
//! - linux_arm64: OpenTofu cross-built for arm64 (scripts/install-tofu.sh) runs under qemu-user
//!   through binfmt_misc (scripts/install-release-tools.sh qemu), so the CLI and the provider it
//!   starts are both arm64 programs. It installs from the filesystem mirror, picking the
//!   linux_arm64 package by itself, and applies the quickstart against hostup-sim.
//! - windows_amd64: OpenTofu built for Windows runs under wine (scripts/install-release-tools.sh
//!   wine) and does the same with the windows_amd64 package; the provider then takes go-plugin's
//!   Windows path (TCP on 127.0.0.1, no unix socket).
//! - darwin_amd64 and darwin_arm64 cannot run here: `macho.rs` checks their format, signature and
//!   libraries instead.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

use testkit::release::{get as release, run_checked};
use testkit::{repo_root, Flavor, TerraformCli};

use super::{apply_quickstart, assert_installed_binary, filesystem_mirror, quickstart_workspace};

/// The OpenTofu build for `os_arch` under `.tools/cross/`, with its version. The first call runs
/// `scripts/install-tofu.sh --cross`, which builds the newest pinned release there, or waits for
/// `make test`'s background build of it and finds it done.
fn cross_tofu(os_arch: &str) -> (PathBuf, String) {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        run_checked(Command::new(repo_root().join("scripts/install-tofu.sh")).arg("--cross"));
    });
    let dir = repo_root().join(".tools/cross").join(os_arch);
    let found = std::fs::read_dir(&dir)
        .ok()
        .and_then(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .find(|name| name.starts_with("tofu-") && !name.ends_with(".tmp"))
        })
        .unwrap_or_else(|| {
            panic!(
                "no OpenTofu build for {os_arch} in {}: run scripts/install-tofu.sh",
                dir.display()
            )
        });
    let version = found
        .trim_start_matches("tofu-")
        .trim_end_matches(".exe")
        .to_owned();
    (dir.join(found), version)
}

/// Installs from the packed filesystem mirror with `cli`, checks that the `os_arch` package was
/// picked, and applies the quickstart.
fn install_and_apply(cli: &TerraformCli, os_arch: &str, mirror_path: &str) {
    let home = tempfile::tempdir().unwrap();
    let mut ws = quickstart_workspace(cli, &filesystem_mirror(mirror_path), home.path());
    let init = ws.init();
    assert_installed_binary(&ws, cli, &init, os_arch);
    apply_quickstart(&mut ws, cli);
}

#[test]
fn arm64_opentofu_installs_the_linux_arm64_package_and_applies_under_qemu() {
    let r = release();
    let (tofu, version) = cross_tofu("linux_arm64");
    let header = run_checked(Command::new("readelf").arg("--file-header").arg(&tofu));
    assert!(header.contains("AArch64"), "{}: {header}", tofu.display());
    // Through binfmt_misc the arm64 CLI runs as any program does, and so does every provider it
    // starts; without it, the exec fails here.
    let out = run_checked(Command::new(&tofu).arg("version"));
    assert!(
        out.contains(&format!("OpenTofu v{version}")) && out.contains("linux_arm64"),
        "{out}"
    );
    let cli = TerraformCli {
        path: tofu,
        flavor: Flavor::OpenTofu,
        version,
    };
    eprintln!("--- linux_arm64 under qemu-user: {cli}");
    let mirror = r.dist().join("mirrors/filesystem");
    install_and_apply(&cli, "linux_arm64", &mirror.to_string_lossy());
}

/// `WINEPREFIX` made by `scripts/install-release-tools.sh wine`.
fn wine_prefix() -> PathBuf {
    let prefix = repo_root().join(".tools/wine-prefix");
    assert!(
        prefix
            .join("drive_c/windows/system32/bcryptprimitives.dll")
            .is_file(),
        "no wine prefix with the ProcessPrng shim at {}: run scripts/install-release-tools.sh wine",
        prefix.display()
    );
    prefix
}

/// A two-line script that runs `exe` under wine in our prefix, so the harness can start it like
/// any CLI (the workspace sets its own HOME, where wine would otherwise look for a prefix).
fn wine_wrapper(exe: &Path, dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("tofu-under-wine");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nWINEPREFIX={} WINEDEBUG=-all exec wine {} \"$@\"\n",
            shell_quote(&wine_prefix().to_string_lossy()),
            shell_quote(&exe.to_string_lossy())
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn windows_opentofu_installs_the_windows_amd64_package_and_applies_under_wine() {
    let r = release();
    let (exe, version) = cross_tofu("windows_amd64");
    let dir = tempfile::tempdir().unwrap();
    let cli = TerraformCli {
        path: wine_wrapper(&exe, dir.path()),
        flavor: Flavor::OpenTofu,
        version: version.clone(),
    };
    let out = run_checked(Command::new(&cli.path).arg("version"));
    assert!(
        out.contains(&format!("OpenTofu v{version}")) && out.contains("windows_amd64"),
        "{out}"
    );
    eprintln!("--- windows_amd64 under wine: {cli}");
    // Wine maps the Linux root to drive Z:.
    let mirror = format!("Z:{}", r.dist().join("mirrors/filesystem").display());
    install_and_apply(&cli, "windows_amd64", &mirror);
}
