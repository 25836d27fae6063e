//! The HTTP client to the replicas: hyper's pooled client with keep-alive connections,
//! one request at a time over HTTP/1.1.
//!
//! Request bodies are buffered by the proxy before they get here (bounded by the body
//! limit, as nginx and APISIX buffer them by default), so a request can be sent a second
//! time to another replica; answers stream back as they arrive.

use std::time::Duration;

use axum::body::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, uri::PathAndQuery};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::{
    client::legacy::{Client, Error, connect::HttpConnector},
    rt::{TokioExecutor, TokioTimer},
};

use crate::pool::Replica;

/// A pooled HTTP/1.1 client.
#[derive(Debug, Clone)]
pub struct UpstreamClient {
    client: Client<HttpConnector, Full<Bytes>>,
}

/// How an attempt failed before an answer arrived.
#[derive(Debug)]
pub struct SendError {
    /// Whether no connection could be opened, so nothing was sent.
    pub connect: bool,
    /// What happened, for the log.
    pub detail: String,
}

impl UpstreamClient {
    /// A client whose connections open within `connect_timeout`; `max_idle_per_host`
    /// idle connections are kept per replica (0: a fresh connection every time).
    pub fn new(connect_timeout: Duration, max_idle_per_host: usize) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(max_idle_per_host)
            .build(connector);
        Self { client }
    }

    /// Sends one request to `replica`; the path and query go unchanged.
    pub async fn send(
        &self,
        replica: &Replica,
        method: &Method,
        path: Option<&PathAndQuery>,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Response<Incoming>, SendError> {
        let uri = Uri::builder()
            .scheme("http")
            .authority(replica.authority().clone())
            .path_and_query(
                path.cloned()
                    .unwrap_or_else(|| PathAndQuery::from_static("/")),
            )
            .build()
            .map_err(|err| SendError {
                connect: true,
                detail: format!("bad upstream URI: {err}"),
            })?;
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = headers.clone();
        self.client.request(request).await.map_err(|err| SendError {
            connect: err.is_connect(),
            detail: describe(&err),
        })
    }

    /// GETs `path` on `replica`: `Ok` for a 200 within `timeout`.
    pub async fn check(
        &self,
        replica: &Replica,
        path: &str,
        timeout: Duration,
    ) -> Result<(), String> {
        let path = PathAndQuery::try_from(path).map_err(|err| err.to_string())?;
        let headers = HeaderMap::new();
        let attempt = self.send(replica, &Method::GET, Some(&path), &headers, Bytes::new());
        match tokio::time::timeout(timeout, attempt).await {
            Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
            Ok(Err(err)) => Err(err.detail),
            Ok(Ok(response)) if response.status() == StatusCode::OK => Ok(()),
            Ok(Ok(response)) => Err(format!("answered {}", response.status())),
        }
    }
}

/// The error with its causes: hyper's top-level messages alone ("client error
/// (Connect)") do not say what went wrong.
fn describe(err: &Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
