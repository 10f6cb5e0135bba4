//! Releases install the way pipelines install providers (issue 14): `scripts/release.sh` (what
//! `make release` runs) builds the glibc-2.17 binary with cargo-zigbuild and writes the registry
//! release files and the mirrors into `target/tmp/release-test/dist`, signed with a throwaway GPG
//! key; then every CLI flavour found (Terraform, and OpenTofu once its CLIs are discovered), newest
//! and oldest of each, installs `hostup/hostup` in a clean workspace with no `dev_overrides` and no
//! plugin cache:
//!
//! - from the network mirror, served over HTTPS on 127.0.0.1 with a test CA (`SSL_CERT_FILE`);
//! - with `providers lock -net-mirror=…`;
//! - from the packed filesystem mirror;
//!
//! and each time the lock file holds the `h1:` hash the release script computed (Terraform works
//! it out itself from the package, so this proves our dirhash equal to Terraform's), and the
//! quickstart applies against hostup-sim with the installed binary.
//!
//! The release build uses its own cargo target dir (target/release-dist), so running it from
//! inside `cargo test` does not wait on the lock of target/. Cold it takes a few minutes (zig
//! compiles glibc 2.17 stubs and the release profile is LTO); warm it is seconds.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::Duration;

use serde_json::Value;
use testkit::sim::Sim;
use testkit::{repo_root, terraform_clis, Flavor, TerraformCli, TfOutput, Workspace};

const NAME: &str = "terraform-provider-hostup";
const VERSION: &str = env!("CARGO_PKG_VERSION");
const OS_ARCH: &str = "linux_amd64";
const GLIBC_LIMIT: (u32, u32) = (2, 17);
const EXAMPLE_KEY: &str = "hu_sim_acme_full_0001";

/// What `scripts/release.sh` wrote, once per test binary.
struct Release {
    dir: PathBuf,
    dist: PathBuf,
    gnupghome: PathBuf,
}

impl Release {
    fn file(&self, suffix: &str) -> PathBuf {
        self.dist.join(format!("{NAME}_{VERSION}_{suffix}"))
    }

    fn zip(&self) -> PathBuf {
        self.file(&format!("{OS_ARCH}.zip"))
    }

    /// The provider binary, unpacked from the release zip.
    fn binary(&self) -> PathBuf {
        self.dir.join("unpacked").join(format!("{NAME}_v{VERSION}"))
    }

    /// `mirrors/network/HOST/hostup/hostup/VERSION.json`, as published.
    fn version_json(&self, host: &str) -> Value {
        let path = self
            .dist
            .join("mirrors/network")
            .join(host)
            .join("hostup/hostup")
            .join(format!("{VERSION}.json"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    /// The published `h1:` hash of the linux_amd64 package (the same for both hosts).
    fn h1(&self, host: &str) -> String {
        let v = self.version_json(host);
        let hashes = v["archives"][OS_ARCH]["hashes"].as_array().unwrap();
        let h1: Vec<&str> = hashes
            .iter()
            .filter_map(Value::as_str)
            .filter(|h| h.starts_with("h1:"))
            .collect();
        assert_eq!(h1.len(), 1, "one h1: hash in {v}");
        h1[0].to_owned()
    }
}

fn run(cmd: &mut Command) -> String {
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

fn python(code: &str, args: &[&std::ffi::OsStr]) -> String {
    run(Command::new("python3").arg("-c").arg(code).args(args))
}

fn gpg(home: &Path) -> Command {
    let mut cmd = Command::new("gpg");
    cmd.env("GNUPGHOME", home).arg("--batch");
    cmd
}

/// Ends the gpg-agent (and any other daemon) gpg started for `home`.
fn stop_gpg_agent(home: &Path) {
    let _ = Command::new("gpgconf")
        .env("GNUPGHOME", home)
        .args(["--kill", "all"])
        .stdin(Stdio::null())
        .status();
}

/// Makes a throwaway signing key, then runs scripts/release.sh with it. Panics on any failure.
fn release() -> &'static Release {
    static RELEASE: OnceLock<Release> = OnceLock::new();
    RELEASE.get_or_init(|| {
        let root = repo_root();
        let dir = root.join("target/tmp/release-test");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // A short path in the temp dir: gpg-agent's socket lives in GNUPGHOME, and a socket path
        // over ~100 bytes (a deep CI checkout) fails. Kept until the signature test removes it.
        let gnupghome = tempfile::Builder::new()
            .prefix("hu-gpg-")
            .tempdir_in("/tmp")
            .expect("GNUPGHOME")
            .keep();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&gnupghome, std::fs::Permissions::from_mode(0o700)).unwrap();

        run(Command::new(root.join("scripts/install-release-tools.sh")).arg("gpg"));
        run(gpg(&gnupghome).args([
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
        let listing = run(gpg(&gnupghome).args(["--with-colons", "--list-secret-keys"]));
        let fingerprint = listing
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .and_then(|l| l.split(':').find(|f| !f.is_empty()))
            .expect("fingerprint of the test key")
            .to_owned();

        let dist = dir.join("dist");
        let started = std::time::Instant::now();
        // Build output goes straight to the test's stderr: a cold build takes minutes.
        let status = Command::new(root.join("scripts/release.sh"))
            .env("DIST", &dist)
            .env("GNUPGHOME", &gnupghome)
            .env("HOSTUP_RELEASE_GPG_KEY", &fingerprint)
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
            "release_install: scripts/release.sh took {:.1}s",
            started.elapsed().as_secs_f64()
        );
        let release = Release {
            dir,
            dist,
            gnupghome,
        };
        let out = release.dir.join("unpacked");
        python(
            "import sys, zipfile\nzipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])",
            &[release.zip().as_os_str(), out.as_os_str()],
        );
        std::fs::set_permissions(release.binary(), std::fs::Permissions::from_mode(0o755)).unwrap();
        release
    })
}

// ----- the release files --------------------------------------------------------------------------

#[test]
fn release_has_the_registry_files_signed_and_summed() {
    let r = release();
    let mut top: Vec<String> = std::fs::read_dir(&r.dist)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(
        top,
        [
            "mirrors".to_owned(),
            format!("{NAME}_{VERSION}_SHA256SUMS"),
            format!("{NAME}_{VERSION}_SHA256SUMS.sig"),
            format!("{NAME}_{VERSION}_linux_amd64.zip"),
            format!("{NAME}_{VERSION}_manifest.json"),
        ]
    );

    let entries = python(
        "import sys, zipfile\nfor i in zipfile.ZipFile(sys.argv[1]).infolist(): print(i.filename, oct(i.external_attr >> 16))",
        &[r.zip().as_os_str()],
    );
    assert_eq!(entries.trim(), format!("{NAME}_v{VERSION} 0o100755"));

    assert_eq!(
        std::fs::read_to_string(r.file("manifest.json")).unwrap(),
        "{\"version\":1,\"metadata\":{\"protocol_versions\":[\"5.0\"]}}\n"
    );

    let sums = std::fs::read_to_string(r.file("SHA256SUMS")).unwrap();
    let named: BTreeSet<&str> = sums
        .lines()
        .map(|l| l.split_once("  ").expect("`HASH  NAME` lines").1)
        .collect();
    assert_eq!(
        named,
        BTreeSet::from([
            format!("{NAME}_{VERSION}_linux_amd64.zip").as_str(),
            format!("{NAME}_{VERSION}_manifest.json").as_str(),
        ])
    );
    run(Command::new("sha256sum")
        .arg("--check")
        .arg("--strict")
        .arg(r.file("SHA256SUMS"))
        .current_dir(&r.dist));

    // The detached signature is binary OpenPGP (not armoured) and verifies against the sums.
    let sig = std::fs::read(r.file("SHA256SUMS.sig")).unwrap();
    assert!(
        !sig.starts_with(b"-----BEGIN"),
        "the signature must be binary"
    );
    run(gpg(&r.gnupghome)
        .arg("--verify")
        .arg(r.file("SHA256SUMS.sig"))
        .arg(r.file("SHA256SUMS")));
    stop_gpg_agent(&r.gnupghome);
    let _ = std::fs::remove_dir_all(&r.gnupghome);

    // The zh: hash in the mirrors is the zip's sha256, the one in SHA256SUMS.
    let zip_sum = sums
        .lines()
        .find(|l| l.ends_with("_linux_amd64.zip"))
        .and_then(|l| l.split_once("  "))
        .unwrap()
        .0;
    for host in [Flavor::Terraform, Flavor::OpenTofu].map(Flavor::registry_host) {
        let v = r.version_json(host);
        let archive = &v["archives"][OS_ARCH];
        assert_eq!(
            archive["url"],
            format!("{NAME}_{VERSION}_linux_amd64.zip"),
            "{v}"
        );
        assert!(
            archive["hashes"]
                .as_array()
                .unwrap()
                .contains(&Value::from(format!("zh:{zip_sum}"))),
            "{v}"
        );
        let index: Value = serde_json::from_str(
            &std::fs::read_to_string(
                r.dist
                    .join("mirrors/network")
                    .join(host)
                    .join("hostup/hostup/index.json"),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(index, serde_json::json!({"versions": {VERSION: {}}}));
        let packed = r
            .dist
            .join("mirrors/filesystem")
            .join(host)
            .join("hostup/hostup")
            .join(format!("{NAME}_{VERSION}_linux_amd64.zip"));
        assert!(
            std::fs::read(&packed).unwrap() == std::fs::read(r.zip()).unwrap(),
            "{} differs from the release zip",
            packed.display()
        );
    }
}

#[test]
fn release_binary_reports_its_version() {
    let out = run(Command::new(release().binary()).arg("--version"));
    assert_eq!(out, format!("{NAME}_v{VERSION} {VERSION}\n"));
}

/// The highest `GLIBC_x.y` version the release binary needs, from its version-needed section.
#[test]
fn release_binary_needs_at_most_glibc_2_17() {
    let bin = release().binary();
    let info = run(Command::new("readelf")
        .args(["--version-info", "--wide"])
        .arg(&bin));
    let needed: BTreeSet<(u32, u32)> = info
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut it = v.split('.').map(|p| p.parse::<u32>());
            match (it.next(), it.next()) {
                (Some(Ok(a)), Some(Ok(b))) => Some((a, b)),
                _ => None,
            }
        })
        .collect();
    let highest = *needed.last().expect("the binary links glibc");
    eprintln!(
        "release_install: {} needs at most GLIBC_{}.{} (limit {}.{})",
        bin.display(),
        highest.0,
        highest.1,
        GLIBC_LIMIT.0,
        GLIBC_LIMIT.1
    );
    assert!(
        highest <= GLIBC_LIMIT,
        "{} needs GLIBC_{}.{}, above {}.{}: it would not run on Debian 11, Ubuntu 20.04, \
         Amazon Linux 2 or RHEL 8 runners",
        bin.display(),
        highest.0,
        highest.1,
        GLIBC_LIMIT.0,
        GLIBC_LIMIT.1
    );
}

// ----- an HTTPS static file server for the network mirror ------------------------------------------

struct MirrorServer {
    url: String,
    ca_file: PathBuf,
    requests: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl MirrorServer {
    /// Serves `root` over HTTPS on 127.0.0.1 with a certificate from a fresh test CA, whose PEM
    /// is at `ca_file` (for `SSL_CERT_FILE`).
    fn start(root: &Path) -> MirrorServer {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        };
        let dir = tempfile::Builder::new()
            .prefix("hostup-mirror-ca-")
            .tempdir()
            .unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "hostup release test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let mut leaf_params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca_cert.pem()).unwrap();

        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                rustls_pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
            )
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}/", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (root, log) = (root.to_path_buf(), requests.clone());
        // Lives as long as the test process; each connection gets a thread and a deadline.
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (config, root, log) = (config.clone(), root.clone(), log.clone());
                thread::spawn(move || {
                    let _ = serve_one(stream, config, &root, &log);
                });
            }
        });
        MirrorServer {
            url,
            ca_file,
            requests,
            _dir: dir,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve_one(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
    root: &Path,
    log: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, stream);
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tls.read(&mut buf)?;
        if n == 0 || head.len() > 64 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut parts = head.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let path = target.split('?').next().unwrap_or("/");
    log.lock().unwrap().push(format!("{method} {path}"));
    let file = (!path.split('/').any(|seg| seg == ".."))
        .then(|| root.join(path.trim_start_matches('/')))
        .filter(|f| f.is_file());
    let (status, body, kind) = match (method, file) {
        ("GET", Some(f)) => {
            let kind = if f.extension().is_some_and(|e| e == "json") {
                "application/json"
            } else {
                "application/zip"
            };
            ("200 OK", std::fs::read(f)?, kind)
        }
        _ => ("404 Not Found", b"not found\n".to_vec(), "text/plain"),
    };
    write!(
        tls,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    tls.write_all(&body)?;
    tls.flush()?;
    tls.conn.send_close_notify();
    tls.flush()
}

// ----- installing with the real CLIs ---------------------------------------------------------------

/// The newest and the oldest CLI of each flavour found (Terraform 1.15.5 and 1.0.3 with the pinned
/// set; OpenTofu's newest and oldest once they are discovered).
fn install_matrix() -> Vec<&'static TerraformCli> {
    let mut picked: Vec<&TerraformCli> = Vec::new();
    for flavor in [Flavor::Terraform, Flavor::OpenTofu] {
        let of: Vec<&TerraformCli> = terraform_clis()
            .iter()
            .filter(|c| c.flavor == flavor)
            .collect();
        let newest = of.iter().max_by_key(|c| c.version_triple());
        let oldest = of.iter().min_by_key(|c| c.version_triple());
        for cli in newest.into_iter().chain(oldest) {
            if !picked.contains(cli) {
                picked.push(cli);
            }
        }
    }
    picked
}

/// A clean workspace holding examples/quickstart, whose CLI config installs only from `installation`
/// (no dev_overrides, no plugin cache: the harness drops inherited TF_* settings, HOME is empty).
fn quickstart_workspace(cli: &TerraformCli, installation: &str, home: &Path) -> Workspace {
    let mut ws = Workspace::new(cli);
    std::fs::write(
        ws.cli_config_path(),
        format!("provider_installation {{\n{installation}}}\n"),
    )
    .unwrap();
    ws.set_env("HOME", home)
        .remove_env("TF_PLUGIN_CACHE_DIR")
        .remove_env("SSL_CERT_DIR");
    let quickstart = repo_root().join("examples/quickstart");
    for file in ["main.tf", "terraform.tfvars"] {
        ws.write(
            file,
            &std::fs::read_to_string(quickstart.join(file)).unwrap(),
        );
    }
    ws
}

fn lock_file(ws: &Workspace) -> String {
    std::fs::read_to_string(ws.dir().join(".terraform.lock.hcl")).unwrap_or_default()
}

/// The lock file pins our version and holds the hash the release published.
fn assert_locked(ws: &Workspace, cli: &TerraformCli, h1: &str, how: &str) {
    let lock = lock_file(ws);
    let address = format!("provider \"{}/hostup/hostup\"", cli.flavor.registry_host());
    assert!(
        lock.contains(&address) && lock.contains(&format!("version = \"{VERSION}\"")),
        "{cli} ({how}): lock file does not pin {address} {VERSION}:\n{lock}"
    );
    assert!(
        lock.contains(&format!("\"{h1}\"")),
        "{cli} ({how}): the lock file lacks the published {h1}:\n{lock}"
    );
    eprintln!("release_install: {cli} ({how}) locked {h1}");
}

/// The provider Terraform installed into .terraform/providers is the release binary.
fn assert_installed_binary(ws: &Workspace, cli: &TerraformCli, init: &TfOutput) {
    init.assert_success()
        .assert_output_contains(&format!("Installing hostup/hostup v{VERSION}"))
        .assert_output_lacks("development overrides");
    let bin = ws
        .dir()
        .join(".terraform/providers")
        .join(cli.flavor.registry_host())
        .join("hostup/hostup")
        .join(VERSION)
        .join(OS_ARCH)
        .join(format!("{NAME}_v{VERSION}"));
    let installed = std::fs::read(&bin).unwrap_or_else(|e| panic!("{cli}: {}: {e}", bin.display()));
    assert!(
        installed == std::fs::read(release().binary()).unwrap(),
        "{cli}: {} is not the release binary",
        bin.display()
    );
}

/// Applies the quickstart against a fresh hostup-sim with the installed provider.
fn apply_quickstart(ws: &mut Workspace, cli: &TerraformCli) {
    let sim = Sim::start_with_file(
        &repo_root().join("examples/sim/fixture.json"),
        &["--job-duration", "1s"],
    );
    ws.set_env("HOSTUP_ENDPOINT", sim.base_url())
        .set_env("HOSTUP_API_KEY", EXAMPLE_KEY);
    let apply = ws.apply();
    apply
        .assert_success()
        .assert_output_contains("Apply complete! Resources: 1 added")
        .assert_output_lacks("development overrides");
    let outputs = ws.outputs_json();
    assert_eq!(
        outputs["restore"]["value"]["status"], "completed",
        "{cli}: {outputs}"
    );
    assert_eq!(
        outputs["restore"]["value"]["target"], "web-01 (vps_01j9k2web00000000000000001)",
        "{cli}: {outputs}"
    );
}

#[test]
fn clis_install_the_release_from_a_network_mirror_over_https() {
    let r = release();
    let server = MirrorServer::start(&r.dist.join("mirrors/network"));
    for cli in install_matrix() {
        eprintln!("--- network mirror: {cli}");
        let home = tempfile::tempdir().unwrap();
        let h1 = r.h1(cli.flavor.registry_host());
        let mut ws = quickstart_workspace(
            cli,
            &format!("  network_mirror {{\n    url = \"{}\"\n  }}\n", server.url),
            home.path(),
        );
        ws.set_env("SSL_CERT_FILE", &server.ca_file);
        let before = server.requests().len();
        let init = ws.init();
        assert_installed_binary(&ws, cli, &init);
        assert_locked(&ws, cli, &h1, "network mirror");
        let seen = server.requests()[before..].to_vec();
        let host = cli.flavor.registry_host();
        for want in [
            format!("GET /{host}/hostup/hostup/index.json"),
            format!("GET /{host}/hostup/hostup/{VERSION}.json"),
            format!("GET /{host}/hostup/hostup/{NAME}_{VERSION}_{OS_ARCH}.zip"),
        ] {
            assert!(
                seen.contains(&want),
                "{cli}: the mirror never saw {want}: {seen:?}"
            );
        }

        // `providers lock -net-mirror=…` writes the same hash into a fresh lock file.
        ws.remove(".terraform.lock.hcl");
        let net_mirror = format!("-net-mirror={}", server.url);
        let lock = ws.run(&["providers", "lock", &net_mirror, "-platform=linux_amd64"]);
        lock.assert_success();
        assert_locked(&ws, cli, &h1, "providers lock -net-mirror");

        apply_quickstart(&mut ws, cli);
    }
}

#[test]
fn clis_install_the_release_from_a_filesystem_mirror() {
    let r = release();
    let mirror = r.dist.join("mirrors/filesystem");
    for cli in install_matrix() {
        eprintln!("--- filesystem mirror: {cli}");
        let home = tempfile::tempdir().unwrap();
        let h1 = r.h1(cli.flavor.registry_host());
        let mut ws = quickstart_workspace(
            cli,
            &format!(
                "  filesystem_mirror {{\n    path = {}\n  }}\n",
                testkit::hcl_string(&mirror.to_string_lossy())
            ),
            home.path(),
        );
        let init = ws.init();
        assert_installed_binary(&ws, cli, &init);
        // Terraform hashes the package from the filesystem mirror itself: our h1 is its h1.
        assert_locked(&ws, cli, &h1, "filesystem mirror");
        apply_quickstart(&mut ws, cli);
    }
}
