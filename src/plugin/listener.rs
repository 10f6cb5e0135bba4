//! Where connections come from: binding a TCP port inside the host's range (or a unix socket),
//! and the accept loop that turns raw connections, TLS-wrapped when mTLS is on, into the stream
//! tonic serves. One client failing its TLS handshake is logged and forgotten; the server keeps
//! accepting.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::env::PortRange;
use super::handshake::ListenAddr;

/// A client that has not finished its TLS handshake by then is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed accept (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Any byte stream the server can speak HTTP/2 over.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// One accepted connection, plaintext or TLS, over TCP or a unix socket.
pub(crate) struct Conn(Box<dyn Io>);

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

impl tonic::transport::server::Connected for Conn {
    // Handlers never ask who called: the only peer is the host that launched us.
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

/// A bound listening socket. A unix socket file is removed when this is dropped.
pub(crate) enum Listener {
    Tcp(tokio::net::TcpListener),
    #[cfg(unix)]
    Unix {
        listener: tokio::net::UnixListener,
        path: std::path::PathBuf,
    },
}

impl Listener {
    /// Binds 127.0.0.1 on a free port in `ports` (the OS picks when the range starts at 0).
    /// The search starts at a random port so plugins launched together rarely collide.
    pub(crate) fn bind_tcp(ports: PortRange) -> anyhow::Result<(Listener, ListenAddr)> {
        let std_listener = if ports.is_any() {
            std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding 127.0.0.1:0")?
        } else {
            bind_in_range(ports)?
        };
        std_listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        let addr = listener.local_addr()?;
        Ok((Listener::Tcp(listener), ListenAddr::Tcp(addr)))
    }

    /// Creates a fresh socket `plugin<random>` in `dir`, as go-plugin servers do.
    #[cfg(unix)]
    pub(crate) fn bind_unix(dir: &std::path::Path) -> anyhow::Result<(Listener, ListenAddr)> {
        let dir = std::path::absolute(dir)
            .with_context(|| format!("resolving socket directory {}", dir.display()))?;
        let mut last_err = None;
        for _ in 0..8 {
            let path = dir.join(format!("plugin{:016x}", fastrand::u64(..)));
            match tokio::net::UnixListener::bind(&path) {
                Ok(listener) => {
                    let addr = ListenAddr::Unix(path.clone());
                    return Ok((Listener::Unix { listener, path }, addr));
                }
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => last_err = Some(e),
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("creating a unix socket in {}", dir.display()))
                }
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrInUse)))
            .with_context(|| format!("creating a unix socket in {}", dir.display()))
    }

    #[cfg(not(unix))]
    pub(crate) fn bind_unix(dir: &std::path::Path) -> anyhow::Result<(Listener, ListenAddr)> {
        anyhow::bail!(
            "PLUGIN_UNIX_SOCKET_DIR={} asks for a unix socket, which this platform lacks",
            dir.display()
        )
    }

    async fn accept(&self) -> io::Result<Box<dyn Io>> {
        match self {
            Listener::Tcp(listener) => {
                let (stream, _) = listener.accept().await?;
                // gRPC messages are small and latency-bound; Nagle only adds delay.
                let _ = stream.set_nodelay(true);
                Ok(Box::new(stream))
            }
            #[cfg(unix)]
            Listener::Unix { listener, .. } => {
                let (stream, _) = listener.accept().await?;
                Ok(Box::new(stream))
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Listener::Unix { path, .. } = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn bind_in_range(ports: PortRange) -> anyhow::Result<std::net::TcpListener> {
    let span = u32::from(ports.max) - u32::from(ports.min) + 1;
    let start = fastrand::u32(0..span);
    for i in 0..span {
        // The offset stays below `span`, so the sum stays within min..=max and fits a u16.
        let port = (u32::from(ports.min) + (start + i) % span) as u16;
        if let Ok(listener) =
            std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        {
            return Ok(listener);
        }
    }
    anyhow::bail!(
        "no free TCP port on 127.0.0.1 between {} and {} (PLUGIN_MIN_PORT..PLUGIN_MAX_PORT)",
        ports.min,
        ports.max
    )
}

/// Accepts until `shutdown` fires or tonic stops listening, handing each connection (after its
/// TLS handshake, run on its own task so a slow client cannot stall others) to `tx`.
pub(crate) async fn accept_loop(
    listener: Listener,
    tls: Option<TlsAcceptor>,
    tx: mpsc::Sender<io::Result<Conn>>,
    shutdown: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            () = tx.closed() => break,
            accepted = listener.accept() => accepted,
        };
        let io = match accepted {
            Ok(io) => io,
            Err(err) => {
                tracing::warn!(error = %err, "accepting a connection failed");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        match &tls {
            None => {
                if tx.send(Ok(Conn(io))).await.is_err() {
                    break;
                }
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(io)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send(Ok(Conn(Box::new(stream)))).await;
                        }
                        Ok(Err(err)) => {
                            tracing::warn!(error = %err, "TLS handshake with a client failed");
                        }
                        Err(_) => tracing::warn!("TLS handshake with a client timed out"),
                    }
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn binds_inside_the_requested_range() {
        let ports = PortRange {
            min: 20000,
            max: 20999,
        };
        let (_listener, addr) = Listener::bind_tcp(ports).unwrap();
        let ListenAddr::Tcp(addr) = addr else {
            panic!("expected tcp")
        };
        assert!(addr.ip().is_loopback());
        assert!((20000..=20999).contains(&addr.port()), "{addr}");
    }

    #[tokio::test]
    async fn full_range_is_an_error_not_a_hang() {
        let taken = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = Listener::bind_tcp(PortRange {
            min: port,
            max: port,
        })
        .err()
        .expect("the only port is taken");
        assert!(err.to_string().contains("no free TCP port"), "{err}");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn unix_socket_is_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let (listener, addr) = Listener::bind_unix(dir.path()).unwrap();
        let ListenAddr::Unix(path) = addr else {
            panic!("expected unix")
        };
        assert!(path.starts_with(dir.path()) && path.exists());
        drop(listener);
        assert!(!path.exists());
    }
}
