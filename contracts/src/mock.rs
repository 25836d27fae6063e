//! The consumer side of an HTTP pact: a mock provider that answers each request the
//! pact describes with the pact's example response, so the consumer's real client code
//! runs against exactly what the contract promises.
//!
//! A request matches an interaction when its method, path and query are the same, every
//! header the interaction names is there and fits its rule, and its body (if the
//! interaction has one) fits. A request that matches nothing gets a 500 and is recorded;
//! [`MockProvider::assert_satisfied`] fails the test on it, and on any interaction the
//! consumer never exercised (a contract must not promise calls the consumer does not make).

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    body::{Body as AxumBody, Bytes},
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::{
    matching::{compare, compare_text},
    pact::{HttpInteraction, Pact},
};

#[derive(Debug, Default)]
struct Log {
    hits: BTreeMap<String, usize>,
    unmatched: Vec<String>,
}

#[derive(Debug)]
struct Shared {
    interactions: Vec<HttpInteraction>,
    log: Mutex<Log>,
}

/// A running mock provider; stops when dropped.
#[derive(Debug)]
pub struct MockProvider {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl MockProvider {
    /// Serves the HTTP interactions of `pact` on a free local port.
    pub async fn start(pact: &Pact) -> anyhow::Result<Self> {
        let shared = Arc::new(Shared {
            interactions: pact.http().cloned().collect(),
            log: Mutex::new(Log::default()),
        });
        let app = Router::new().fallback(answer).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            shared,
            server,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Panics unless every interaction was requested and no request went unmatched.
    pub fn assert_satisfied(&self) {
        let log = self
            .shared
            .log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let missing: Vec<&str> = self
            .shared
            .interactions
            .iter()
            .filter(|i| !log.hits.contains_key(&i.description))
            .map(|i| i.description.as_str())
            .collect();
        assert!(
            log.unmatched.is_empty() && missing.is_empty(),
            "the consumer did not keep to its contract:\n  unexpected requests: {:#?}\n  interactions never requested: {missing:#?}",
            log.unmatched
        );
    }
}

fn request_mismatches(
    interaction: &HttpInteraction,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Vec<String> {
    let expected = &interaction.request;
    let mut problems = Vec::new();
    if method.as_str() != expected.method {
        problems.push(format!("method {method} is not {}", expected.method));
    }
    if uri.path() != expected.path {
        problems.push(format!("path {} is not {}", uri.path(), expected.path));
    }
    let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        query
            .entry(k.into_owned())
            .or_default()
            .push(v.into_owned());
    }
    if query != expected.query {
        problems.push(format!("query {query:?} is not {:?}", expected.query));
    }
    for (name, value) in &expected.headers {
        let actual = headers.get(name.as_str()).and_then(|v| v.to_str().ok());
        if let Some(m) = compare_text(
            &format!("header {name}"),
            value,
            actual,
            expected.header_rules.get(name),
        ) {
            problems.push(m.to_string());
        }
    }
    if let Some(content) = &expected.body.content {
        let form = expected
            .body
            .content_type
            .as_deref()
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
        if form {
            let parse = |bytes: &[u8]| -> BTreeMap<String, String> {
                url::form_urlencoded::parse(bytes).into_owned().collect()
            };
            let wanted = parse(content.as_str().unwrap_or_default().as_bytes());
            let got = parse(body);
            if wanted != got {
                problems.push(format!("form body {got:?} is not {wanted:?}"));
            }
        } else {
            match serde_json::from_slice::<Value>(body) {
                Ok(actual) => {
                    problems.extend(
                        compare(content, &actual, &expected.body.rules)
                            .into_iter()
                            .map(|m| format!("body {m}")),
                    );
                }
                Err(err) => problems.push(format!("body is not JSON: {err}")),
            }
        }
    }
    problems
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut reasons = Vec::new();
    for interaction in &shared.interactions {
        let problems = request_mismatches(interaction, &method, &uri, &headers, &body);
        if problems.is_empty() {
            shared
                .log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .hits
                .entry(interaction.description.clone())
                .and_modify(|n| *n += 1)
                .or_insert(1);
            let response = &interaction.response;
            let mut builder = Response::builder().status(response.status);
            for (name, value) in &response.headers {
                builder = builder.header(name.as_str(), value.as_str());
            }
            let body = match &response.body.content {
                Some(Value::String(text))
                    if !response
                        .body
                        .content_type
                        .as_deref()
                        .unwrap_or("application/json")
                        .contains("json") =>
                {
                    text.clone().into_bytes()
                }
                Some(content) => serde_json::to_vec(content).unwrap_or_default(),
                None => Vec::new(),
            };
            return builder
                .body(AxumBody::from(body))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
        }
        reasons.push(format!(
            "{:?}: {}",
            interaction.description,
            problems.join("; ")
        ));
    }
    let report = format!(
        "{method} {uri} matched no interaction: {}",
        reasons.join(" | ")
    );
    shared
        .log
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .unmatched
        .push(report.clone());
    (StatusCode::INTERNAL_SERVER_ERROR, report).into_response()
}
