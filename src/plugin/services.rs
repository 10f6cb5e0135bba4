//! The go-plugin auxiliary gRPC services every plugin registers next to its own:
//! `plugin.GRPCController` (the host's "please exit") and `plugin.GRPCStdio` (forwarded
//! output, which we never use: our stderr already reaches the host's log directly).

use futures::StreamExt as _;
use tokio_util::sync::CancellationToken;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use crate::proto::plugin::grpc_controller_server::GrpcController;
use crate::proto::plugin::grpc_stdio_server::GrpcStdio;
use crate::proto::plugin::{Empty, StdioData};

/// Answers `Shutdown` by firing the server's shutdown token; the serve loop then stops
/// gracefully (bounded) and the process exits 0, well inside the host's 2 s patience.
#[derive(Debug, Clone)]
pub(crate) struct Controller {
    pub(crate) shutdown: CancellationToken,
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        tracing::debug!("host asked the plugin to shut down");
        self.shutdown.cancel();
        Ok(Response::new(Empty {}))
    }
}

/// Holds the host's stdio stream open without sending anything, and ends it at shutdown so the
/// graceful stop does not wait on it.
#[derive(Debug, Clone)]
pub(crate) struct Stdio {
    pub(crate) shutdown: CancellationToken,
}

#[tonic::async_trait]
impl GrpcStdio for Stdio {
    async fn stream_stdio(
        &self,
        _request: Request<()>,
    ) -> Result<Response<BoxStream<StdioData>>, Status> {
        let shutdown = self.shutdown.clone();
        let stream = futures::stream::once(async move { shutdown.cancelled_owned().await })
            .filter_map(|()| async { None });
        Ok(Response::new(Box::pin(stream)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shutdown_fires_the_token() {
        let token = CancellationToken::new();
        let controller = Controller {
            shutdown: token.clone(),
        };
        controller
            .shutdown(Request::new(Empty {}))
            .await
            .expect("Shutdown answers OK");
        assert!(token.is_cancelled());
    }

    #[tokio::test]
    async fn stdio_stream_ends_at_shutdown_without_data() {
        let token = CancellationToken::new();
        let stdio = Stdio {
            shutdown: token.clone(),
        };
        let mut stream = stdio
            .stream_stdio(Request::new(()))
            .await
            .unwrap()
            .into_inner();
        let pending =
            tokio::time::timeout(std::time::Duration::from_millis(20), stream.next()).await;
        assert!(pending.is_err(), "stream must stay open while serving");
        token.cancel();
        assert!(stream.next().await.is_none());
    }
}
