//! The release under test: what `scripts/release.sh` (`make release`) writes, built once per test
//! process for every platform we ship, and the switch that makes the acceptance tests drive its
//! static linux_amd64 binary instead of the debug build.
//!
//! The build runs the real release script with its real packaging and a throwaway GPG key, into
//! `target/tmp/release-test/dist`. Only the cargo profile differs: `dist-test` (set in Cargo.toml)
//! keeps the release profile's panic strategy and stripping but drops LTO and optimisation, which
//! only cost build time; `HOSTUP_RELEASE_PROFILE=release` in the environment tests the shipping
//! profile instead. The cross builds share one cargo target dir, so a warm run rebuilds nothing.
//!
//! Environment knob: `HOSTUP_TEST_PROVIDER=release` makes [`provider_binary`] answer the unpacked
//! linux_amd64 release binary (what `make test` runs); unset or `debug`, the test's own build.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

use crate::repo_root;

/// The provider's binary name, also the prefix of every release file.
pub const NAME: &str = "terraform-provider-hostup";

/// Every platform `make release` ships, as Terraform names them.
pub const OS_ARCHES: [&str; 5] = [
    "linux_amd64",
    "linux_arm64",
    "darwin_amd64",
    "darwin_arm64",
    "windows_amd64",
];

/// What `scripts/release.sh` wrote, with each zip unpacked.
#[derive(Debug)]
pub struct Release {
    dir: PathBuf,
    dist: PathBuf,
    gnupghome: PathBuf,
    version: String,
}

impl Release {
    /// The release's version (Cargo.toml's, as `make release` defaults to).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The `dist/` folder: registry files and `mirrors/`.
    pub fn dist(&self) -> &Path {
        &self.dist
    }

    /// The GNUPGHOME holding the key SHA256SUMS was signed with.
    pub fn gnupghome(&self) -> &Path {
        &self.gnupghome
    }

    /// `dist/terraform-provider-hostup_V_SUFFIX`.
    pub fn file(&self, suffix: &str) -> PathBuf {
        self.dist.join(format!("{NAME}_{}_{suffix}", self.version))
    }

    /// The zip of one platform.
    pub fn zip(&self, os_arch: &str) -> PathBuf {
        self.file(&format!("{os_arch}.zip"))
    }

    /// The file name inside a platform's zip: `terraform-provider-hostup_vV` (+ `.exe`).
    pub fn binary_name(&self, os_arch: &str) -> String {
        let exe = if os_arch.starts_with("windows_") {
            ".exe"
        } else {
            ""
        };
        format!("{NAME}_v{}{exe}", self.version)
    }

    /// A platform's provider binary, unpacked from its zip.
    pub fn binary(&self, os_arch: &str) -> PathBuf {
        self.dir
            .join("unpacked")
            .join(os_arch)
            .join(self.binary_name(os_arch))
    }

    /// `mirrors/network/HOST/hostup/hostup/V.json`, as published.
    pub fn version_json(&self, host: &str) -> Value {
        let path = self
            .dist
            .join("mirrors/network")
            .join(host)
            .join("hostup/hostup")
            .join(format!("{}.json", self.version));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    /// The hashes `V.json` publishes for one platform (`h1:` and `zh:`).
    pub fn hashes(&self, host: &str, os_arch: &str) -> Vec<String> {
        let v = self.version_json(host);
        v["archives"][os_arch]["hashes"]
            .as_array()
            .unwrap_or_else(|| panic!("no hashes for {os_arch} in {v}"))
            .iter()
            .map(|h| h.as_str().unwrap().to_owned())
            .collect()
    }

    /// The one `h1:` hash `V.json` publishes for one platform.
    pub fn h1(&self, host: &str, os_arch: &str) -> String {
        let h1: Vec<String> = self
            .hashes(host, os_arch)
            .into_iter()
            .filter(|h| h.starts_with("h1:"))
            .collect();
        assert_eq!(h1.len(), 1, "one h1: hash for {os_arch}: {h1:?}");
        h1.into_iter().next().unwrap()
    }
}

/// Runs `cmd` with stdin closed; panics with its output unless it succeeds. Returns stdout.
pub fn run_checked(cmd: &mut Command) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `gpg --batch` with `GNUPGHOME=home`.
pub fn gpg(home: &Path) -> Command {
    let mut cmd = Command::new("gpg");
    cmd.env("GNUPGHOME", home).arg("--batch");
    cmd
}

/// Ends the gpg-agent (and any other daemon) gpg started for `home`.
pub fn stop_gpg_agent(home: &Path) {
    let _ = Command::new("gpgconf")
        .env("GNUPGHOME", home)
        .args(["--kill", "all"])
        .stdin(Stdio::null())
        .status();
}

/// Makes a throwaway signing key and runs scripts/release.sh with it, once per process. Panics
/// on any failure: every release test needs it.
pub fn get() -> &'static Release {
    static RELEASE: OnceLock<Release> = OnceLock::new();
    RELEASE.get_or_init(build)
}

fn build() -> Release {
    let root = repo_root();
    let dir = root.join("target/tmp/release-test");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // A short path in the temp dir: gpg-agent's socket lives in GNUPGHOME, and a socket path over
    // ~100 bytes (a deep CI checkout) fails.
    let gnupghome = tempfile::Builder::new()
        .prefix("hu-gpg-")
        .tempdir_in("/tmp")
        .expect("GNUPGHOME")
        .keep();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&gnupghome, std::fs::Permissions::from_mode(0o700)).unwrap();

    run_checked(Command::new(root.join("scripts/install-release-tools.sh")).arg("gpg"));
    run_checked(gpg(&gnupghome).args([
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
        "--quick-gen-key",
        "HostUp release test <release-test@hostup.invalid>",
        "default",
        "sign",
        "never",
    ]));
    let listing = run_checked(gpg(&gnupghome).args(["--with-colons", "--list-secret-keys"]));
    let fingerprint = listing
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .and_then(|l| l.split(':').find(|f| !f.is_empty()))
        .expect("fingerprint of the test key")
        .to_owned();

    let dist = dir.join("dist");
    let profile = std::env::var("HOSTUP_RELEASE_PROFILE").unwrap_or_else(|_| "dist-test".into());
    let started = std::time::Instant::now();
    // Build output goes straight to the test's stderr: a cold build takes minutes.
    let status = Command::new(root.join("scripts/release.sh"))
        .env("DIST", &dist)
        .env("GNUPGHOME", &gnupghome)
        .env("HOSTUP_RELEASE_GPG_KEY", &fingerprint)
        .env("HOSTUP_RELEASE_PROFILE", &profile)
        .env_remove("VERSION")
        .env_remove("TARGETS")
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .expect("run scripts/release.sh");
    stop_gpg_agent(&gnupghome);
    assert!(status.success(), "scripts/release.sh failed: {status}");
    eprintln!(
        "release: scripts/release.sh ({profile} profile) took {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let version = cargo_version(&root);
    let release = Release {
        dir,
        dist,
        gnupghome,
        version,
    };
    for os_arch in OS_ARCHES {
        let out = release.dir.join("unpacked").join(os_arch);
        run_checked(
            Command::new("python3")
                .arg("-c")
                .arg("import sys, zipfile\nzipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])")
                .arg(release.zip(os_arch))
                .arg(&out),
        );
        std::fs::set_permissions(
            release.binary(os_arch),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    release
}

/// `version` in the root Cargo.toml's `[package]`: the default release version.
fn cargo_version(root: &Path) -> String {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    manifest
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("version in Cargo.toml")
        .to_owned()
}

/// The provider binary the acceptance tests drive, by `HOSTUP_TEST_PROVIDER`:
/// - `debug` or unset: `debug`, the test's own build (passed in as `env!("CARGO_BIN_EXE_…")`);
/// - `release`: the static linux_amd64 binary of [`get`]'s release;
/// - an absolute path: that binary, as `make test` passes the linux_amd64 release binary it built
///   first, so the tests need not wait for the other platforms (scripts/test.sh).
pub fn provider_binary(debug: &str) -> PathBuf {
    match std::env::var("HOSTUP_TEST_PROVIDER").as_deref() {
        Ok("release") => get().binary("linux_amd64"),
        Ok("debug") | Err(_) => PathBuf::from(debug),
        Ok(path) if Path::new(path).is_absolute() => {
            assert!(
                Path::new(path).is_file(),
                "HOSTUP_TEST_PROVIDER={path}: no such file"
            );
            PathBuf::from(path)
        }
        Ok(other) => {
            panic!("HOSTUP_TEST_PROVIDER={other}: expected `release`, `debug` or an absolute path")
        }
    }
}
