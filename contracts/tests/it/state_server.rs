//! Pact's provider-state protocol over HTTP, for verifiers that run in another process
//! (the `contracts` CLI, pact-python): `POST /states` with `{"state", "params",
//! "action"}` runs the fixture of that state.

use std::sync::Arc;

use axum::{Json, Router, extract::State, http::StatusCode, routing::post};
use contracts::{pact::ProviderState, verify::StateHandler};
use serde_json::Value;

type Shared = Arc<dyn StateHandler>;

async fn change(State(states): State<Shared>, Json(body): Json<Value>) -> (StatusCode, String) {
    // Teardown requests (sent by some verifiers) and the generic "" state need nothing.
    let name = body["state"].as_str().unwrap_or_default();
    if body["action"].as_str() == Some("teardown") || name.is_empty() {
        return (StatusCode::OK, String::new());
    }
    let state = ProviderState::new(name, body["params"].clone());
    match states.setup(&state).await {
        Ok(()) => (StatusCode::OK, String::new()),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{err:#}")),
    }
}

/// Serves `states`; returns the state-change URL.
pub(crate) async fn serve(states: Shared) -> String {
    let app = Router::new()
        .route("/states", post(change))
        .with_state(states);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/states")
}
