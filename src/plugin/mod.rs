//! The go-plugin transport: everything between "Terraform started this process" and "a gRPC
//! request reaches the provider service". It checks the environment (magic cookie, protocol
//! version, port range, client certificate), listens on 127.0.0.1 (or a unix socket), sets up
//! auto-mTLS pinned to the host's certificate, registers the health, controller and stdio
//! services next to the provider service, prints the handshake line on stdout, ignores SIGINT
//! and SIGTERM, and serves until the host calls `GRPCController/Shutdown` or exits.
//!
//! It knows nothing about tfplugin5: the provider service comes in as any tonic service.

pub mod env;
pub mod handshake;
mod host_watch;
mod listener;
mod routes;
mod services;
pub mod tls;

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;
use tonic::body::Body;
use tonic::server::NamedService;

use crate::proto::plugin::grpc_controller_server::GrpcControllerServer;
use crate::proto::plugin::grpc_stdio_server::GrpcStdioServer;
use handshake::ListenAddr;
use listener::Listener;

pub use env::{EnvError, PluginEnv};
pub use routes::GrpcRoutes;

/// The health-check service name go-plugin's `Ping` asks about.
pub const HEALTH_SERVICE_NAME: &str = "plugin";

/// After Shutdown, in-flight calls get this long to finish before the server is dropped; the
/// host kills a plugin that has not exited 2 s after Shutdown.
const GRACEFUL_STOP_BOUND: Duration = Duration::from_millis(500);

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The provider's source address, e.g. `registry.terraform.io/hostup/hostup`; used as the
    /// key of `TF_REATTACH_PROVIDERS` in debug mode.
    pub provider_address: String,
    /// Debug (reattach) mode: no cookie check, plaintext on 127.0.0.1:0, a human
    /// `TF_REATTACH_PROVIDERS` banner on stdout, serve until Ctrl-C.
    pub debug: bool,
}

/// Serves `provider_service` (the `tfplugin5.Provider` gRPC server) as a go-plugin plugin, with
/// the process environment and stdout, until the host calls Shutdown (or Ctrl-C in debug mode).
///
/// The caller configures the service itself, in particular its message size limits: Terraform
/// sends messages far above tonic's 4 MiB default, so pass e.g.
/// `ProviderServer::new(p).max_decoding_message_size(256 << 20).max_encoding_message_size(256 << 20)`.
pub async fn serve<S>(provider_service: S, options: ServeOptions) -> anyhow::Result<()>
where
    // The request and response types every tonic-generated server has.
    S: tonic::codegen::Service<
            tonic::codegen::http::Request<Body>,
            Response = tonic::codegen::http::Response<Body>,
            Error = Infallible,
        > + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    serve_routes(GrpcRoutes::new().add_service(provider_service), options).await
}

/// [`serve`] for services already gathered in [`GrpcRoutes`] (possibly none, which serves only
/// the go-plugin services).
pub async fn serve_routes(
    provider_routes: GrpcRoutes,
    options: ServeOptions,
) -> anyhow::Result<()> {
    let vars = process_env();
    serve_with_env(provider_routes, &options, &vars, std::io::stdout()).await
}

/// The environment of this process as a map; variables that are not UTF-8 cannot be ours and
/// are left out.
pub fn process_env() -> HashMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// The core of [`serve`], for tests: reads the plugin variables from `vars` and writes the
/// handshake line (or the debug banner) to `handshake_out`, then serves until shut down.
/// Returns `Ok(())` after a Shutdown call (or Ctrl-C in debug mode).
pub async fn serve_with_env<W: Write + Send>(
    provider_routes: GrpcRoutes,
    options: &ServeOptions,
    vars: &HashMap<String, String>,
    mut handshake_out: W,
) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();

    let (listener, addr, tls) = if options.debug {
        let (listener, addr) = Listener::bind_tcp(env::PortRange { min: 0, max: 0 })?;
        (listener, addr, None)
    } else {
        let plugin_env = env::parse(vars)?;
        tracing::debug!(env = ?plugin_env, "plugin environment");
        let (listener, addr) = match &plugin_env.unix_socket_dir {
            Some(dir) => Listener::bind_unix(dir)?,
            None => Listener::bind_tcp(plugin_env.ports)?,
        };
        let tls = match plugin_env.client_certs {
            Some(client_certs) => {
                let identity = tls::generate_server_identity()?;
                let config = tls::server_config(&identity, client_certs)?;
                let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
                Some((identity.cert_der, acceptor))
            }
            None => None,
        };
        (listener, addr, tls)
    };

    // Installed before the handshake: from then on a terminal Ctrl-C reaches us too.
    watch_interrupts(options.debug, shutdown.clone())?;
    if !options.debug {
        host_watch::watch_host(shutdown.clone());
    }

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_service_status(HEALTH_SERVICE_NAME, tonic_health::ServingStatus::Serving)
        .await;
    let routes = provider_routes
        .add_service(health_service)
        .add_service(GrpcControllerServer::new(services::Controller {
            shutdown: shutdown.clone(),
        }))
        .add_service(GrpcStdioServer::new(services::Stdio {
            shutdown: shutdown.clone(),
        }));

    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let (cert_der, acceptor) = match tls {
        Some((cert, acceptor)) => (Some(cert), Some(acceptor)),
        None => (None, None),
    };
    tokio::spawn(listener::accept_loop(
        listener,
        acceptor,
        tx,
        shutdown.clone(),
    ));

    announce(&mut handshake_out, options, &addr, cert_der.as_deref())
        .context("writing the handshake to stdout")?;
    drop(handshake_out);
    tracing::info!(address = %addr.address(), tls = cert_der.is_some(), debug = options.debug, "plugin serving");

    let server = tonic::transport::Server::builder().serve_with_incoming_shutdown(
        routes,
        tokio_stream::wrappers::ReceiverStream::new(rx),
        shutdown.clone().cancelled_owned(),
    );
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result.context("gRPC server failed")?,
        () = shutdown.cancelled() => {
            match tokio::time::timeout(GRACEFUL_STOP_BOUND, &mut server).await {
                Ok(result) => result.context("gRPC server failed while stopping")?,
                Err(_) => tracing::warn!("in-flight calls did not finish in time; stopping anyway"),
            }
        }
    }
    tracing::info!("plugin stopped");
    Ok(())
}

fn announce<W: Write>(
    out: &mut W,
    options: &ServeOptions,
    addr: &ListenAddr,
    cert_der: Option<&[u8]>,
) -> std::io::Result<()> {
    if options.debug {
        let banner = handshake::debug_banner(&options.provider_address, std::process::id(), addr);
        out.write_all(banner.as_bytes())?;
    } else {
        // One write, so a reader never sees half a line.
        let line = format!("{}\n", handshake::handshake_line(addr, cert_der));
        out.write_all(line.as_bytes())?;
    }
    out.flush()
}

/// Normal mode: SIGINT and SIGTERM are swallowed for the life of the process. The host owns them:
/// a terminal's Ctrl-C and a CI runner's cancel (GitLab, Jenkins and GitHub Actions signal the
/// job's processes, SIGINT or SIGTERM first, SIGKILL after a grace period) reach Terraform too,
/// which calls the provider's Stop RPC and then Shutdown. Dying on them instead loses the
/// in-flight apply's answer: the job id never reaches state. If the host itself is killed,
/// [`host_watch`] ends the provider.
/// Debug mode: either signal stops the server.
fn watch_interrupts(debug: bool, shutdown: CancellationToken) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        // Registering here, not inside the task, so the handlers are in place before we return.
        let mut interrupts =
            signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        let mut terminates =
            signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        tokio::spawn(async move {
            loop {
                let name = tokio::select! {
                    Some(()) = interrupts.recv() => "SIGINT",
                    Some(()) = terminates.recv() => "SIGTERM",
                    else => break,
                };
                if debug {
                    tracing::info!("{name}; stopping the debug server");
                    shutdown.cancel();
                    break;
                }
                tracing::debug!("ignoring {name}: Terraform stops providers through the Stop RPC");
            }
        });
    }
    #[cfg(not(unix))]
    {
        // Windows has no process-group signals; a console's Ctrl-C (or Ctrl-Break) is the same
        // case as SIGINT.
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                if debug {
                    shutdown.cancel();
                    break;
                }
            }
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::plugin::grpc_controller_client::GrpcControllerClient;
    use crate::proto::plugin::Empty;

    /// Forwards what the server writes as its handshake to the test.
    struct LineSink(std::sync::mpsc::Sender<Vec<u8>>);

    impl Write for LineSink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.0.send(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn serve_accepts_a_generated_tonic_service() {
        // Building the future type-checks `serve`'s bounds against a real generated server.
        let stdio = GrpcStdioServer::new(services::Stdio {
            shutdown: CancellationToken::new(),
        });
        let options = ServeOptions {
            provider_address: "registry.terraform.io/hostup/hostup".into(),
            debug: false,
        };
        drop(serve(stdio, options));
    }

    #[tokio::test]
    async fn in_process_plaintext_serve_returns_after_shutdown() {
        let vars: HashMap<String, String> = [
            (env::MAGIC_COOKIE_KEY, env::MAGIC_COOKIE_VALUE),
            (env::PROTOCOL_VERSIONS_KEY, "5"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let options = ServeOptions {
            provider_address: "registry.terraform.io/hostup/hostup".into(),
            debug: false,
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let server = tokio::spawn(async move {
            serve_with_env(GrpcRoutes::new(), &options, &vars, LineSink(tx)).await
        });
        let line = tokio::task::spawn_blocking(move || rx.recv().unwrap())
            .await
            .unwrap();
        let line = String::from_utf8(line).unwrap();
        let addr = line
            .strip_prefix("1|5|tcp|")
            .and_then(|rest| rest.strip_suffix("|grpc|\n"))
            .unwrap_or_else(|| panic!("plaintext handshake line: {line:?}"));

        let mut controller = GrpcControllerClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        controller.shutdown(Empty {}).await.unwrap();
        let finished = tokio::time::timeout(Duration::from_secs(2), server)
            .await
            .expect("serve returns promptly after Shutdown");
        finished.unwrap().unwrap();
    }
}
