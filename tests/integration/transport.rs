//! The go-plugin transport as Terraform sees it: the real binary is launched with Terraform's
//! environment and a Terraform-shaped client certificate (ECDSA P-521, CA:true), and driven
//! over mTLS gRPC: handshake line, health, Shutdown, refusal of strangers, SIGINT, debug mode.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint, Uri};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Terraform SIGKILLs a plugin that has not exited 2 s after Shutdown.
const EXIT_DEADLINE: Duration = Duration::from_secs(2);

/// A client identity minted the way Terraform (go-plugin's mtls.go) mints it.
struct ClientIdentity {
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
    pem: String,
}

fn terraform_like_client_cert() -> ClientIdentity {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P521_SHA512,
    };
    let key = KeyPair::generate_for(&PKCS_ECDSA_P521_SHA512).unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "localhost");
    dn.push(DnType::OrganizationName, "HashiCorp");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyAgreement,
        KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::ServerAuth,
    ];
    let now = SystemTime::now();
    params.not_before = (now - Duration::from_secs(30)).into();
    params.not_after = (now + Duration::from_secs(30 * 365 * 86400)).into();
    let cert = params.self_signed(&key).unwrap();
    ClientIdentity {
        cert: cert.der().clone(),
        key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        pem: cert.pem(),
    }
}

fn plugin_command(args: &[&str], envs: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_terraform-provider-hostup"));
    cmd.args(args);
    for key in [
        "TF_PLUGIN_MAGIC_COOKIE",
        "PLUGIN_PROTOCOL_VERSIONS",
        "PLUGIN_MIN_PORT",
        "PLUGIN_MAX_PORT",
        "PLUGIN_CLIENT_CERT",
        "PLUGIN_UNIX_SOCKET_DIR",
        "TF_LOG",
        "TF_LOG_PROVIDER",
    ] {
        cmd.env_remove(key);
    }
    cmd.envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Launches the plugin the way Terraform does, with `extra` variables on top.
fn launch(client: &ClientIdentity, extra: &[(&str, &str)]) -> Child {
    let mut envs = vec![
        ("TF_PLUGIN_MAGIC_COOKIE", COOKIE),
        ("PLUGIN_PROTOCOL_VERSIONS", "5,6"),
        ("PLUGIN_MIN_PORT", "10000"),
        ("PLUGIN_MAX_PORT", "25000"),
        ("PLUGIN_CLIENT_CERT", client.pem.as_str()),
    ];
    envs.extend_from_slice(extra);
    plugin_command(&[], &envs).spawn().expect("plugin starts")
}

async fn read_line(stdout: &mut BufReader<ChildStdout>) -> String {
    let mut line = String::new();
    tokio::time::timeout(STARTUP_TIMEOUT, stdout.read_line(&mut line))
        .await
        .expect("plugin printed a line in time")
        .expect("stdout readable");
    line
}

/// The six handshake fields and the server certificate they announce.
struct Handshake {
    fields: Vec<String>,
    server_cert: CertificateDer<'static>,
}

async fn read_handshake(stdout: &mut BufReader<ChildStdout>) -> Handshake {
    let line = read_line(stdout).await;
    let line = line
        .strip_suffix('\n')
        .expect("handshake line ends with a newline");
    let fields: Vec<String> = line.split('|').map(str::to_owned).collect();
    assert_eq!(fields.len(), 6, "six fields: {line}");
    assert_eq!(fields[0], "1", "core protocol");
    assert_eq!(fields[1], "5", "app protocol");
    assert_eq!(fields[4], "grpc");
    assert!(!fields[5].contains('='), "cert must be unpadded base64");
    let der = STANDARD_NO_PAD
        .decode(&fields[5])
        .expect("cert is standard base64 without padding");
    assert!(
        fields[5].len() > 50,
        "go-plugin ignores certs of 50 chars or less"
    );
    Handshake {
        fields,
        server_cert: CertificateDer::from(der),
    }
}

/// Trusts exactly the handshake certificate, as go-plugin's client does (a pool holding only
/// it), and checks it names `localhost`, the server name Go dials.
#[derive(Debug)]
struct PinnedServer {
    cert: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() != self.cert.as_ref() {
            return Err(rustls::Error::General(
                "not the handshake certificate".into(),
            ));
        }
        let parsed = webpki::EndEntityCert::try_from(end_entity)
            .map_err(|e| rustls::Error::General(format!("unparseable server cert: {e}")))?;
        parsed
            .verify_is_valid_for_subject_name(server_name)
            .map_err(|e| rustls::Error::General(format!("server cert not for localhost: {e}")))?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn client_tls(
    server_cert: &CertificateDer<'static>,
    client: Option<&ClientIdentity>,
) -> ClientConfig {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(PinnedServer {
        cert: server_cert.clone(),
        algorithms: provider.signature_verification_algorithms,
    });
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match client {
        Some(id) => builder
            .with_client_auth_cert(
                vec![id.cert.clone()],
                PrivateKeyDer::Pkcs8(id.key.clone_key()),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    config
}

/// Where the handshake says to dial.
#[derive(Clone, Debug)]
enum Dial {
    Tcp(SocketAddr),
    #[cfg(unix)]
    Unix(std::path::PathBuf),
}

impl Dial {
    fn from_handshake(hs: &Handshake) -> Dial {
        match hs.fields[2].as_str() {
            "tcp" => Dial::Tcp(hs.fields[3].parse().expect("tcp address")),
            #[cfg(unix)]
            "unix" => Dial::Unix(hs.fields[3].clone().into()),
            other => panic!("unexpected network {other}"),
        }
    }
}

/// A gRPC channel over mTLS that insists on ALPN h2, like grpc-go ≥ 1.67.
async fn connect_tls(dial: Dial, config: ClientConfig) -> Result<Channel, tonic::transport::Error> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    Endpoint::from_static("http://localhost")
        .connect_timeout(Duration::from_secs(5))
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let connector = connector.clone();
            let dial = dial.clone();
            async move {
                let name = ServerName::try_from("localhost").unwrap();
                let io: Box<dyn IoStream> = match dial {
                    Dial::Tcp(addr) => Box::new(tokio::net::TcpStream::connect(addr).await?),
                    #[cfg(unix)]
                    Dial::Unix(path) => Box::new(tokio::net::UnixStream::connect(path).await?),
                };
                let tls = connector.connect(name, io).await?;
                if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
                    return Err(std::io::Error::other("server did not negotiate ALPN h2"));
                }
                Ok::<_, std::io::Error>(TokioIo::new(tls))
            }
        }))
        .await
}

trait IoStream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> IoStream for T {}

async fn health(channel: Channel) -> Result<i32, tonic::Status> {
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: "plugin".into(),
        })
        .await?;
    Ok(response.into_inner().status)
}

/// Calls `/plugin.GRPCController/Shutdown` by its wire name, independent of our generated code.
async fn shutdown(channel: Channel) -> Result<(), tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    grpc.unary(
        tonic::Request::new(()),
        PathAndQuery::from_static("/plugin.GRPCController/Shutdown"),
        tonic_prost::ProstCodec::<(), ()>::default(),
    )
    .await
    .map(|_| ())
}

/// Shuts the plugin down and asserts it exits 0 within Terraform's 2 s patience.
async fn shutdown_and_expect_clean_exit(channel: Channel, child: &mut Child) {
    let started = Instant::now();
    shutdown(channel).await.expect("Shutdown answers OK");
    let status = tokio::time::timeout(EXIT_DEADLINE, child.wait())
        .await
        .expect("plugin exits within 2 s of Shutdown")
        .unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(started.elapsed() < EXIT_DEADLINE);
}

#[cfg(unix)]
fn send_sigint(child: &Child) {
    let pid = child.id().expect("child still running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[tokio::test]
async fn terraform_launch_serves_mtls_health_and_exits_on_shutdown() {
    let client = terraform_like_client_cert();
    let mut child = launch(&client, &[("TF_LOG", "debug")]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let hs = read_handshake(&mut stdout).await;
    assert_eq!(hs.fields[2], "tcp");
    let addr: SocketAddr = hs.fields[3].parse().unwrap();
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    assert!(
        (10000..=25000).contains(&addr.port()),
        "port {}",
        addr.port()
    );

    let channel = connect_tls(Dial::Tcp(addr), client_tls(&hs.server_cert, Some(&client)))
        .await
        .expect("mTLS connection with Terraform's certificate");
    assert_eq!(
        health(channel.clone()).await.unwrap(),
        ServingStatus::Serving as i32
    );
    shutdown_and_expect_clean_exit(channel, &mut child).await;

    let mut rest = String::new();
    stdout.read_to_string(&mut rest).await.unwrap();
    assert_eq!(rest, "", "nothing but the handshake goes to stdout");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert!(!stderr.is_empty(), "TF_LOG=debug produces log lines");
    for line in stderr.lines() {
        let json: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not hclog JSON ({e}): {line}"));
        assert!(
            json["@level"].is_string() && json["@message"].is_string(),
            "{line}"
        );
    }
}

#[tokio::test]
async fn a_stranger_certificate_is_refused_and_the_server_keeps_serving() {
    let client = terraform_like_client_cert();
    let stranger = terraform_like_client_cert();
    let mut child = launch(&client, &[]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let hs = read_handshake(&mut stdout).await;
    let dial = Dial::from_handshake(&hs);

    // With TLS 1.3 the client learns of the rejection only when it uses the connection.
    let refused =
        match connect_tls(dial.clone(), client_tls(&hs.server_cert, Some(&stranger))).await {
            Err(_) => true,
            Ok(channel) => health(channel).await.is_err(),
        };
    assert!(
        refused,
        "a certificate other than PLUGIN_CLIENT_CERT must be refused"
    );
    let anonymous = match connect_tls(dial.clone(), client_tls(&hs.server_cert, None)).await {
        Err(_) => true,
        Ok(channel) => health(channel).await.is_err(),
    };
    assert!(anonymous, "a client without a certificate must be refused");

    let channel = connect_tls(dial, client_tls(&hs.server_cert, Some(&client)))
        .await
        .expect("the real client still connects after failed handshakes");
    assert_eq!(
        health(channel.clone()).await.unwrap(),
        ServingStatus::Serving as i32
    );
    shutdown_and_expect_clean_exit(channel, &mut child).await;
}

#[tokio::test]
async fn without_the_cookie_it_explains_itself_and_exits_1() {
    let output = plugin_command(&[], &[]).output().await.unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "stdout stays clean");
    let stderr = String::from_utf8(output.stderr).unwrap();
    for needle in [
        "plugin for Terraform",
        "not meant to be run directly",
        "terraform init",
        "hostup/hostup",
        "make install",
        "dev_overrides",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
}

#[tokio::test]
async fn a_host_offering_only_protocol_6_gets_a_clear_error() {
    let output = plugin_command(
        &[],
        &[
            ("TF_PLUGIN_MAGIC_COOKIE", COOKIE),
            ("PLUGIN_PROTOCOL_VERSIONS", "6"),
        ],
    )
    .output()
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        output.stdout.is_empty(),
        "no handshake without a common protocol"
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("PLUGIN_PROTOCOL_VERSIONS"), "{stderr}");
    assert!(stderr.contains("\"6\""), "names what was offered: {stderr}");
    assert!(stderr.contains("only protocol 5"), "{stderr}");
}

#[cfg(unix)]
#[tokio::test]
async fn sigint_does_not_kill_the_plugin() {
    let client = terraform_like_client_cert();
    let mut child = launch(&client, &[]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let hs = read_handshake(&mut stdout).await;
    let channel = connect_tls(
        Dial::from_handshake(&hs),
        client_tls(&hs.server_cert, Some(&client)),
    )
    .await
    .unwrap();

    send_sigint(&child);
    send_sigint(&child);
    // The signal is pending once kill(2) returns; a round trip proves the process survived it.
    assert_eq!(
        health(channel.clone()).await.unwrap(),
        ServingStatus::Serving as i32
    );
    assert!(child.try_wait().unwrap().is_none(), "plugin still running");
    shutdown_and_expect_clean_exit(channel, &mut child).await;
}

#[cfg(unix)]
#[tokio::test]
async fn unix_socket_dir_serves_mtls_over_a_socket_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let client = terraform_like_client_cert();
    let mut child = launch(
        &client,
        &[("PLUGIN_UNIX_SOCKET_DIR", dir.path().to_str().unwrap())],
    );
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let hs = read_handshake(&mut stdout).await;
    assert_eq!(hs.fields[2], "unix");
    let socket = std::path::PathBuf::from(&hs.fields[3]);
    assert!(
        socket.is_absolute() && socket.starts_with(dir.path()),
        "{socket:?}"
    );

    let channel = connect_tls(
        Dial::from_handshake(&hs),
        client_tls(&hs.server_cert, Some(&client)),
    )
    .await
    .unwrap();
    assert_eq!(
        health(channel.clone()).await.unwrap(),
        ServingStatus::Serving as i32
    );
    shutdown_and_expect_clean_exit(channel, &mut child).await;
    assert!(!socket.exists(), "socket file removed at exit");
}

#[tokio::test]
async fn debug_mode_prints_a_usable_reattach_line() {
    let mut child = plugin_command(&["--debug"], &[]).spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let json = loop {
        let line = read_line(&mut stdout).await;
        assert!(
            !line.is_empty(),
            "stdout ended before the TF_REATTACH_PROVIDERS line"
        );
        if let Some(rest) = line.trim().strip_prefix("TF_REATTACH_PROVIDERS='") {
            break rest.strip_suffix('\'').expect("closing quote").to_owned();
        }
    };
    let value: serde_json::Value = serde_json::from_str(&json).expect("reattach value is JSON");
    let entry = &value["registry.terraform.io/hostup/hostup"];
    assert_eq!(entry["Protocol"], "grpc");
    assert_eq!(entry["ProtocolVersion"], 5);
    assert_eq!(entry["Test"], true);
    assert_eq!(entry["Pid"], u64::from(child.id().unwrap()));
    assert_eq!(entry["Addr"]["Network"], "tcp");
    let addr = entry["Addr"]["String"].as_str().unwrap();

    // Debug mode is plaintext: Terraform attaches without TLS.
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("plaintext gRPC in debug mode");
    assert_eq!(
        health(channel).await.unwrap(),
        ServingStatus::Serving as i32
    );

    #[cfg(unix)]
    {
        send_sigint(&child);
        let status = tokio::time::timeout(EXIT_DEADLINE, child.wait())
            .await
            .expect("Ctrl-C ends debug mode")
            .unwrap();
        assert!(status.success(), "exit status {status}");
    }
}
