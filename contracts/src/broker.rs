//! Publishing pacts to a Pact Broker (`contracts publish --broker <url>`), for teams
//! that run one: `PUT /pacts/provider/{provider}/consumer/{consumer}/version/{version}`,
//! the Broker's own API, with an optional bearer token (`PACT_BROKER_TOKEN`) or basic
//! auth (`PACT_BROKER_USERNAME`, `PACT_BROKER_PASSWORD`).

use anyhow::{Context, bail};

use crate::pact::Pact;

/// Credentials for the broker.
#[derive(Debug, Clone, Default)]
pub enum Credentials {
    /// None.
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Token(String),
    /// Basic auth.
    Basic(String, String),
}

impl Credentials {
    /// From `PACT_BROKER_TOKEN`, or `PACT_BROKER_USERNAME` and `PACT_BROKER_PASSWORD`.
    pub fn from_env() -> Self {
        if let Ok(token) = std::env::var("PACT_BROKER_TOKEN") {
            return Self::Token(token);
        }
        match (
            std::env::var("PACT_BROKER_USERNAME"),
            std::env::var("PACT_BROKER_PASSWORD"),
        ) {
            (Ok(user), Ok(password)) => Self::Basic(user, password),
            _ => Self::None,
        }
    }
}

/// Publishes `pact` as consumer version `version`; returns the URL it was put at.
pub async fn publish(
    client: &reqwest::Client,
    broker: &str,
    pact: &Pact,
    version: &str,
    credentials: &Credentials,
) -> anyhow::Result<String> {
    let url = format!(
        "{}/pacts/provider/{}/consumer/{}/version/{}",
        broker.trim_end_matches('/'),
        pact.provider,
        pact.consumer,
        version
    );
    let mut request = client
        .put(&url)
        .header("content-type", "application/json")
        .body(pact.to_text());
    request = match credentials {
        Credentials::None => request,
        Credentials::Token(token) => request.bearer_auth(token),
        Credentials::Basic(user, password) => request.basic_auth(user, Some(password)),
    };
    let response = request.send().await.with_context(|| format!("PUT {url}"))?;
    let status = response.status();
    if !status.is_success() {
        let body: String = response
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        bail!("the broker answered {status} to PUT {url}: {body}");
    }
    Ok(url)
}
