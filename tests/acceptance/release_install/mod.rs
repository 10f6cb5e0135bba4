//! Releases install the way users install providers (issues 14 and 21): `scripts/release.sh` (what
//! `make release` runs) builds every platform we ship (`testkit::release`) and writes the registry
//! release files and the mirrors, signed with a throwaway GPG key. Then:
//!
//! - linux_amd64, a static binary: every CLI flavour found, newest and oldest of each, installs
//!   `hostup/hostup` in a clean workspace with no `dev_overrides` and no plugin cache, from the
//!   network mirror over HTTPS on 127.0.0.1 with a test CA (`SSL_CERT_FILE`), with
//!   `providers lock -net-mirror=…`, and from the packed filesystem mirror; each time the lock file
//!   holds the `h1:` hash the release script computed (Terraform works it out itself from the
//!   package, so this proves our dirhash equal to Terraform's), and the quickstart applies against
//!   hostup-sim with the installed binary. It also starts in an empty chroot.
//! - `providers lock` for all five platforms writes the hashes the mirror publishes.
//! - the other platforms, where this machine can run them (`platforms.rs`): linux_arm64 under
//!   qemu-user, windows_amd64 under wine, darwin checked by format (`macho.rs`).

mod macho;
mod platforms;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::Value;
use terraform_provider_hostup::plugin::env::{MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE};
use testkit::release::{get as release, gpg, run_checked, stop_gpg_agent, NAME, OS_ARCHES};
use testkit::sim::{restore_posts, Sim};
use testkit::{newest_clis, repo_root, terraform_clis, Flavor, TerraformCli, TfOutput, Workspace};

const OS_ARCH: &str = "linux_amd64";
const EXAMPLE_KEY: &str = "hu_sim_acme_full_0001";

fn python(code: &str, args: &[&std::ffi::OsStr]) -> String {
    run_checked(Command::new("python3").arg("-c").arg(code).args(args))
}

// ----- the release files --------------------------------------------------------------------------

#[test]
fn release_has_the_registry_files_signed_and_summed() {
    let r = release();
    let v = r.version();
    let zips: Vec<String> = OS_ARCHES
        .iter()
        .map(|os_arch| format!("{NAME}_{v}_{os_arch}.zip"))
        .collect();
    let mut top: Vec<String> = std::fs::read_dir(r.dist())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    let mut want: Vec<String> = zips.clone();
    want.extend([
        "mirrors".to_owned(),
        format!("{NAME}_{v}_SHA256SUMS"),
        format!("{NAME}_{v}_SHA256SUMS.sig"),
        format!("{NAME}_{v}_manifest.json"),
    ]);
    want.sort();
    assert_eq!(top, want);

    for os_arch in OS_ARCHES {
        let entries = python(
            "import sys, zipfile\nfor i in zipfile.ZipFile(sys.argv[1]).infolist(): print(i.filename, oct(i.external_attr >> 16))",
            &[r.zip(os_arch).as_os_str()],
        );
        assert_eq!(
            entries.trim(),
            format!("{} 0o100755", r.binary_name(os_arch)),
            "{os_arch}"
        );
    }

    assert_eq!(
        std::fs::read_to_string(r.file("manifest.json")).unwrap(),
        "{\"version\":1,\"metadata\":{\"protocol_versions\":[\"5.0\"]}}\n"
    );

    let sums = std::fs::read_to_string(r.file("SHA256SUMS")).unwrap();
    let named: BTreeSet<&str> = sums
        .lines()
        .map(|l| l.split_once("  ").expect("`HASH  NAME` lines").1)
        .collect();
    let manifest = format!("{NAME}_{v}_manifest.json");
    let mut want: BTreeSet<&str> = zips.iter().map(String::as_str).collect();
    want.insert(&manifest);
    assert_eq!(named, want);
    run_checked(
        Command::new("sha256sum")
            .arg("--check")
            .arg("--strict")
            .arg(r.file("SHA256SUMS"))
            .current_dir(r.dist()),
    );

    // The detached signature is binary OpenPGP (not armoured) and verifies against the sums.
    let sig = std::fs::read(r.file("SHA256SUMS.sig")).unwrap();
    assert!(
        !sig.starts_with(b"-----BEGIN"),
        "the signature must be binary"
    );
    run_checked(
        gpg(r.gnupghome())
            .arg("--verify")
            .arg(r.file("SHA256SUMS.sig"))
            .arg(r.file("SHA256SUMS")),
    );
    stop_gpg_agent(r.gnupghome());

    for host in [Flavor::Terraform, Flavor::OpenTofu].map(Flavor::registry_host) {
        let index: Value = serde_json::from_str(
            &std::fs::read_to_string(
                r.dist()
                    .join("mirrors/network")
                    .join(host)
                    .join("hostup/hostup/index.json"),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(index, serde_json::json!({"versions": {v: {}}}));
        let published = r.version_json(host);
        let archives = published["archives"].as_object().unwrap();
        assert_eq!(
            archives.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            BTreeSet::from(OS_ARCHES),
            "{host}: {published}"
        );
        for os_arch in OS_ARCHES {
            // The zh: hash in the mirrors is the zip's sha256, the one in SHA256SUMS.
            let zip = format!("{NAME}_{v}_{os_arch}.zip");
            let zip_sum = sums
                .lines()
                .find_map(|l| l.strip_suffix(&format!("  {zip}")))
                .unwrap();
            assert_eq!(archives[os_arch]["url"], zip.as_str(), "{published}");
            let hashes = r.hashes(host, os_arch);
            assert!(hashes.contains(&format!("zh:{zip_sum}")), "{hashes:?}");
            r.h1(host, os_arch);
            let packed = r
                .dist()
                .join("mirrors/filesystem")
                .join(host)
                .join("hostup/hostup")
                .join(&zip);
            assert!(
                std::fs::read(&packed).unwrap() == std::fs::read(r.zip(os_arch)).unwrap(),
                "{} differs from the release zip",
                packed.display()
            );
        }
    }
}

#[test]
fn release_binary_reports_its_version() {
    let r = release();
    let out = run_checked(Command::new(r.binary(OS_ARCH)).arg("--version"));
    assert_eq!(out, format!("{NAME}_v{0} {0}\n", r.version()));
}

/// Both Linux binaries are static: no program interpreter and no shared library, so one binary
/// serves glibc distributions and Alpine (musl) images alike.
#[test]
fn linux_binaries_need_no_libc() {
    let r = release();
    for os_arch in ["linux_amd64", "linux_arm64"] {
        let bin = r.binary(os_arch);
        let headers = run_checked(
            Command::new("readelf")
                .args(["--program-headers", "--dynamic", "--wide"])
                .arg(&bin),
        );
        assert!(
            !headers.contains("INTERP") && !headers.contains("(NEEDED)"),
            "{}: not a static binary:\n{headers}",
            bin.display()
        );
    }
}

/// The linux_amd64 binary, alone in an otherwise empty root (no libc, no /tmp, no /etc), answers
/// Terraform's plugin launch with its handshake line.
#[test]
fn linux_amd64_binary_starts_in_an_empty_chroot() {
    let r = release();
    let root = tempfile::tempdir().unwrap();
    std::fs::copy(r.binary(OS_ARCH), root.path().join("provider")).unwrap();
    let mut child = Command::new("/usr/sbin/chroot")
        .arg(root.path())
        .arg("/provider")
        .env_clear()
        .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chroot (the tests run as root)");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(
        line.starts_with("1|5|tcp|127.0.0.1:") && line.trim_end().ends_with("|grpc|"),
        "handshake {line:?}; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("release_install: in an empty chroot: {}", line.trim_end());
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

/// The `provider_installation` block that installs from the packed filesystem mirror at `path`.
fn filesystem_mirror(path: &str) -> String {
    format!(
        "  filesystem_mirror {{\n    path = {}\n  }}\n",
        testkit::hcl_string(path)
    )
}

fn lock_file(ws: &Workspace) -> String {
    std::fs::read_to_string(ws.dir().join(".terraform.lock.hcl")).unwrap_or_default()
}

/// The lock file pins our version and holds the hash the release published.
fn assert_locked(ws: &Workspace, cli: &TerraformCli, h1: &str, how: &str) {
    let lock = lock_file(ws);
    let version = release().version();
    let address = format!("provider \"{}/hostup/hostup\"", cli.flavor.registry_host());
    assert!(
        lock.contains(&address) && lock.contains(&format!("version = \"{version}\"")),
        "{cli} ({how}): lock file does not pin {address} {version}:\n{lock}"
    );
    assert!(
        lock.contains(&format!("\"{h1}\"")),
        "{cli} ({how}): the lock file lacks the published {h1}:\n{lock}"
    );
    eprintln!("release_install: {cli} ({how}) locked {h1}");
}

/// The provider Terraform installed into .terraform/providers is the release binary.
fn assert_installed_binary(ws: &Workspace, cli: &TerraformCli, init: &TfOutput, os_arch: &str) {
    let r = release();
    init.assert_success()
        .assert_output_contains(&format!("Installing hostup/hostup v{}", r.version()))
        .assert_output_lacks("development overrides");
    let bin = ws
        .dir()
        .join(".terraform/providers")
        .join(cli.flavor.registry_host())
        .join("hostup/hostup")
        .join(r.version())
        .join(os_arch)
        .join(r.binary_name(os_arch));
    let installed = std::fs::read(&bin).unwrap_or_else(|e| panic!("{cli}: {}: {e}", bin.display()));
    assert!(
        installed == std::fs::read(r.binary(os_arch)).unwrap(),
        "{cli}: {} is not the release binary",
        bin.display()
    );
}

/// Applies the quickstart against a fresh hostup-sim with the installed provider: one restore
/// POST, and nothing left to do in the plan after it.
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
    ws.assert_plan_empty();
    assert_eq!(restore_posts(&sim.requests()), [202], "{cli}: one restore");
}

#[test]
fn clis_install_the_release_from_a_network_mirror_over_https() {
    let r = release();
    let server = MirrorServer::start(&r.dist().join("mirrors/network"));
    for cli in install_matrix() {
        eprintln!("--- network mirror: {cli}");
        let home = tempfile::tempdir().unwrap();
        let h1 = r.h1(cli.flavor.registry_host(), OS_ARCH);
        let mut ws = quickstart_workspace(
            cli,
            &format!("  network_mirror {{\n    url = \"{}\"\n  }}\n", server.url),
            home.path(),
        );
        ws.set_env("SSL_CERT_FILE", &server.ca_file);
        let before = server.requests().len();
        let init = ws.init();
        assert_installed_binary(&ws, cli, &init, OS_ARCH);
        assert_locked(&ws, cli, &h1, "network mirror");
        let seen = server.requests()[before..].to_vec();
        let host = cli.flavor.registry_host();
        for want in [
            format!("GET /{host}/hostup/hostup/index.json"),
            format!("GET /{host}/hostup/hostup/{}.json", r.version()),
            format!(
                "GET /{host}/hostup/hostup/{NAME}_{}_{OS_ARCH}.zip",
                r.version()
            ),
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
    let mirror = r.dist().join("mirrors/filesystem");
    for cli in install_matrix() {
        eprintln!("--- filesystem mirror: {cli}");
        let home = tempfile::tempdir().unwrap();
        let h1 = r.h1(cli.flavor.registry_host(), OS_ARCH);
        let mut ws = quickstart_workspace(
            cli,
            &filesystem_mirror(&mirror.to_string_lossy()),
            home.path(),
        );
        let init = ws.init();
        assert_installed_binary(&ws, cli, &init, OS_ARCH);
        // Terraform hashes the package from the filesystem mirror itself: our h1 is its h1.
        assert_locked(&ws, cli, &h1, "filesystem mirror");
        apply_quickstart(&mut ws, cli);
    }
}

/// `providers lock` for every platform we ship, against the network mirror, records the hashes
/// `V.json` publishes and no other: every platform's `h1:` (Terraform downloads each package and
/// hashes it itself), and with OpenTofu also the mirror's `zh:` hashes, which Terraform records
/// only from a registry's signed SHA256SUMS.
#[test]
fn providers_lock_for_every_platform_writes_the_published_hashes() {
    let r = release();
    let server = MirrorServer::start(&r.dist().join("mirrors/network"));
    for cli in newest_clis() {
        eprintln!("--- providers lock, every platform: {cli}");
        let home = tempfile::tempdir().unwrap();
        let host = cli.flavor.registry_host();
        let ws = quickstart_workspace(cli, "  direct {}\n", home.path());
        let mut args = vec![
            "providers".to_owned(),
            "lock".to_owned(),
            format!("-net-mirror={}", server.url),
        ];
        args.extend(OS_ARCHES.iter().map(|p| format!("-platform={p}")));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ws.run_with_env(
            &args,
            &[("SSL_CERT_FILE", &server.ca_file.to_string_lossy())],
        )
        .assert_success();
        let lock = lock_file(&ws);
        let locked: BTreeSet<&str> = lock
            .split('"')
            .filter(|s| s.starts_with("h1:") || s.starts_with("zh:"))
            .collect();
        let published: BTreeSet<String> = OS_ARCHES
            .iter()
            .flat_map(|os_arch| r.hashes(host, os_arch))
            .collect();
        for os_arch in OS_ARCHES {
            let h1 = r.h1(host, os_arch);
            assert!(
                locked.contains(h1.as_str()),
                "{cli}: no {os_arch} {h1}:\n{lock}"
            );
        }
        assert!(
            locked.iter().all(|h| published.contains(*h)),
            "{cli}: a hash the mirror did not publish:\n{lock}"
        );
        eprintln!(
            "release_install: {cli}: providers lock recorded {} hashes for 5 platforms",
            locked.len()
        );
    }
}
