//! The gRPC services one plugin process serves, dispatched by the service name at the head of
//! each request path (`/tfplugin5.Provider/PlanResourceChange`). tonic's own router would do the
//! same, but it brings axum into the provider binary; this one needs only tower's boxed service.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::codegen::http::{Request, Response};
use tonic::server::NamedService;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};

type Boxed = BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>;

/// A set of gRPC services, each reached under `/{its service name}/`. A path no service claims
/// is answered with the gRPC status `UNIMPLEMENTED`, as Go's gRPC server does.
#[derive(Clone, Default)]
pub struct GrpcRoutes {
    /// `("/tfplugin5.Provider/", service)`; a handful of entries, so a scan beats a map.
    routes: Vec<(String, Boxed)>,
}

impl std::fmt::Debug for GrpcRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.routes.iter().map(|(prefix, _)| prefix))
            .finish()
    }
}

impl GrpcRoutes {
    /// No services yet.
    pub fn new() -> GrpcRoutes {
        GrpcRoutes::default()
    }

    /// Adds a tonic-generated server (or any service named like one).
    pub fn add_service<S>(mut self, service: S) -> GrpcRoutes
    where
        S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.routes
            .push((format!("/{}/", S::NAME), BoxCloneSyncService::new(service)));
        self
    }

    /// The service a request path belongs to.
    fn route(&self, path: &str) -> Option<&Boxed> {
        self.routes
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix.as_str()))
            .map(|(_, service)| service)
    }
}

impl Service<Request<Body>> for GrpcRoutes {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Each call clones its service and waits for that clone to be ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        match self.route(request.uri().path()) {
            Some(service) => Box::pin(service.clone().oneshot(request)),
            None => {
                let path = request.uri().path().to_owned();
                Box::pin(async move {
                    Ok(
                        tonic::Status::unimplemented(format!("no service serves {path}"))
                            .into_http(),
                    )
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers every call with an empty body and a header naming itself.
    #[derive(Clone)]
    struct Named(&'static str);

    impl NamedService for Named {
        const NAME: &'static str = "test.Named";
    }

    impl Service<Request<Body>> for Named {
        type Response = Response<Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<Body>, Infallible>>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _request: Request<Body>) -> Self::Future {
            let mut response = Response::new(Body::default());
            response
                .headers_mut()
                .insert("x-served-by", self.0.parse().expect("header value"));
            std::future::ready(Ok(response))
        }
    }

    fn request(path: &str) -> Request<Body> {
        Request::builder()
            .uri(path)
            .body(Body::default())
            .expect("request")
    }

    #[tokio::test]
    async fn a_request_reaches_the_service_its_path_names_or_is_unimplemented() {
        let mut routes = GrpcRoutes::new().add_service(Named("named"));
        let served = routes.call(request("/test.Named/Call")).await.unwrap();
        assert_eq!(served.headers()["x-served-by"], "named");

        let unknown = routes.call(request("/test.Other/Call")).await.unwrap();
        assert_eq!(unknown.headers()["grpc-status"], "12", "UNIMPLEMENTED");
        // A name that only starts like a served one does not match it.
        let prefix = routes.call(request("/test.NamedX/Call")).await.unwrap();
        assert_eq!(prefix.headers()["grpc-status"], "12");
    }
}
