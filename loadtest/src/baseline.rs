//! The baseline the perf report compares against: a bare axum handler returning a fixed
//! product JSON, on the same machine and through the same load client. It also answers
//! the token endpoint, so the catalogue journey runs against it unchanged.
//!
//! Beside it, a bare proxy ([`proxy_router`]): every request forwarded unchanged to
//! the baseline over pooled keep-alive connections, as the gateway forwards to the
//! services, with nothing else (no auth, routing table, limits, metrics or logs). The
//! baseline behind it measures what one extra hop costs on the machine, the floor
//! under any design that puts a gateway process in front of a service.

use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use axum::{
    Json, Router,
    body::Body,
    extract::{Path, Request, State},
    http::{StatusCode, Uri, uri::Authority},
    response::{IntoResponse, Response},
    routing::{get, post},
    serve::ListenerExt,
};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use serde_json::{Value, json};

/// The fixed product, shaped as inventory's answer.
fn product(id: i64) -> Value {
    json!({
        "id": id,
        "name": "Garrison Sturdy Laptop",
        "price": 2999.99,
        "category": "ELECTRONICS",
        "quantity": 120
    })
}

/// The baseline's routes.
pub fn router() -> Router {
    Router::new()
        .route(
            "/inventory/product/{id}",
            get(|Path(id): Path<i64>| async move { Json(product(id)) }),
        )
        .route(
            "/realms/{realm}/protocol/openid-connect/token",
            post(|| async { Json(json!({"access_token": "baseline", "token_type": "Bearer"})) }),
        )
}

/// Where the bare proxy forwards to, and how.
#[derive(Debug, Clone)]
struct Upstream {
    authority: Authority,
    client: Client<HttpConnector, Body>,
}

/// The bare proxy: every request, whatever its path, forwarded to `upstream` (host and
/// port) with its method, path, headers and body, over HTTP/1.1 connections kept alive
/// in hyper's pool (the gateway's client); the answer streams back as it arrives.
pub fn proxy_router(upstream: Authority) -> Router {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new()).build(connector);
    Router::new().fallback(forward).with_state(Upstream {
        authority: upstream,
        client,
    })
}

async fn forward(State(upstream): State<Upstream>, mut request: Request) -> Response {
    let mut parts = request.uri().clone().into_parts();
    parts.scheme = Some(axum::http::uri::Scheme::HTTP);
    parts.authority = Some(upstream.authority.clone());
    match Uri::from_parts(parts) {
        Ok(uri) => *request.uri_mut() = uri,
        Err(err) => return (StatusCode::BAD_REQUEST, err.to_string()).into_response(),
    }
    match upstream.client.request(request).await {
        Ok(response) => response.map(Body::new),
        Err(err) => (StatusCode::BAD_GATEWAY, err.to_string()).into_response(),
    }
}

/// Serves the baseline on `addr` until the process ends, or with `proxy_to` (an
/// `http://host:port` URL) the bare proxy in front of it; prints the bound address.
pub async fn serve(addr: SocketAddr, proxy_to: Option<&str>) -> Result<()> {
    let router = match proxy_to {
        None => router(),
        Some(url) => proxy_router(upstream_authority(url)?),
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("could not bind {addr}"))?;
    println!("baseline listening on http://{}", listener.local_addr()?);
    // As the shop's services do (platform::http::server::serve).
    let listener = listener.tap_io(|stream| {
        let _ = stream.set_nodelay(true);
    });
    axum::serve(listener, router).await?;
    Ok(())
}

/// The host and port of a plain `http://host:port` URL.
fn upstream_authority(url: &str) -> Result<Authority> {
    let uri: Uri = url
        .parse()
        .with_context(|| format!("--proxy-to {url:?}: not a URL"))?;
    if uri.scheme() != Some(&axum::http::uri::Scheme::HTTP) {
        bail!("--proxy-to {url:?}: the bare proxy speaks plain http:// only");
    }
    uri.authority()
        .cloned()
        .with_context(|| format!("--proxy-to {url:?}: no host"))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn spawn(router: Router) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        addr
    }

    #[tokio::test]
    async fn the_bare_proxy_forwards_reads_and_the_token_call_to_the_baseline() {
        let baseline = spawn(router()).await;
        let proxy = spawn(proxy_router(
            upstream_authority(&format!("http://{baseline}")).unwrap(),
        ))
        .await;
        let http = reqwest::Client::new();

        let product: Value = http
            .get(format!("http://{proxy}/inventory/product/42"))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(product, super::product(42));

        let token: Value = http
            .post(format!(
                "http://{proxy}/realms/ironvessel/protocol/openid-connect/token"
            ))
            .form(&[("grant_type", "password")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(token["access_token"], "baseline");

        let missing = http
            .get(format!("http://{proxy}/nowhere"))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), reqwest::StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn an_unreachable_upstream_is_a_bad_gateway() {
        // A port nothing listens on: bound, then released.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let proxy = spawn(proxy_router(
            upstream_authority(&format!("http://{closed}")).unwrap(),
        ))
        .await;
        let response = reqwest::get(format!("http://{proxy}/inventory/product/1"))
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::BAD_GATEWAY);
    }

    #[test]
    fn the_upstream_must_be_a_plain_http_url() {
        assert_eq!(
            upstream_authority("http://127.0.0.1:8080")
                .unwrap()
                .as_str(),
            "127.0.0.1:8080"
        );
        for bad in ["https://example.com", "127.0.0.1:8080", "http:///x"] {
            assert!(upstream_authority(bad).is_err(), "{bad} was accepted");
        }
    }
}
