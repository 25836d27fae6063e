//! The baseline the perf report compares against: a bare axum handler returning a fixed
//! product JSON, on the same machine and through the same load client. It also answers
//! the token endpoint, so the catalogue journey runs against it unchanged.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use axum::{
    Json, Router,
    extract::Path,
    routing::{get, post},
    serve::ListenerExt,
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

/// Serves the baseline on `addr` until the process ends; prints the bound address.
pub async fn serve(addr: SocketAddr) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("could not bind {addr}"))?;
    println!("baseline listening on http://{}", listener.local_addr()?);
    // As the shop's services do (platform::http::server::serve).
    let listener = listener.tap_io(|stream| {
        let _ = stream.set_nodelay(true);
    });
    axum::serve(listener, router()).await?;
    Ok(())
}
