//! The identity-provider adapter: Keycloak's admin REST API behind the
//! [`CustomerDirectory`] port, for P5's customer names. It speaks only what real Keycloak
//! speaks, so the same code runs against Keycloak and against our `identity`.
//!
//! - Authentication: a client-credentials token of the service account
//!   (`POST /realms/{realm}/protocol/openid-connect/token`), cached until shortly before
//!   it expires; an admin call answered 401 gets a fresh token and is tried once more.
//! - Lookup: `GET /admin/realms/{realm}/users/{id}` (404 → no such user).
//! - Resilience: every call has a timeout and goes through the `identity` circuit
//!   breaker; transport failures and 5xx count against it and refused connections and
//!   502/503/504 are retried (a lookup is idempotent). The fallback (null names, never
//!   cached) is the use case's decision.

use std::{sync::Arc, time::Duration};

use platform::{
    config::expose,
    resilience::{Breaker, CallError},
};
use reqwest::{RequestBuilder, StatusCode};
use secrecy::SecretString;
use serde::Deserialize;
use tokio::{sync::Mutex, time::Instant};

use crate::{
    config::IdpConfig,
    ports::{CustomerDirectory, CustomerSummary, DirectoryError},
};

/// Keycloak's admin API; cheap to clone.
#[derive(Clone)]
pub struct KeycloakDirectory {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// `<url>` without a trailing slash.
    base: String,
    realm: String,
    client_id: String,
    client_secret: SecretString,
    breaker: Breaker,
    token: Mutex<Option<ServiceToken>>,
}

impl std::fmt::Debug for KeycloakDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeycloakDirectory")
            .field("base", &self.inner.base)
            .field("realm", &self.inner.realm)
            .field("client_id", &self.inner.client_id)
            .finish_non_exhaustive()
    }
}

struct ServiceToken {
    value: SecretString,
    refresh_at: Instant,
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

/// Keycloak's `UserRepresentation` (the fields we use).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserRepresentation {
    id: String,
    first_name: Option<String>,
    last_name: Option<String>,
}

/// A dependency's answer: any status below 500, and the body.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    body: String,
}

/// Why no answer came back.
#[derive(Debug, thiserror::Error)]
enum OutboundError {
    #[error("{message}")]
    Transport { message: String, connect: bool },
    #[error("answered {0}")]
    Status(StatusCode),
}

impl OutboundError {
    fn retryable(&self) -> bool {
        match self {
            Self::Transport { connect, .. } => *connect,
            Self::Status(status) => matches!(
                *status,
                StatusCode::BAD_GATEWAY
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT
            ),
        }
    }
}

async fn send(
    breaker: &Breaker,
    build: impl Fn() -> RequestBuilder,
) -> Result<Answer, DirectoryError> {
    breaker
        .call_idempotent(
            |_: &OutboundError| true,
            OutboundError::retryable,
            || {
                let mut headers = reqwest::header::HeaderMap::new();
                platform::telemetry::inject_into_headers(&mut headers);
                let request = build().headers(headers);
                async move {
                    let transport = |err: reqwest::Error| OutboundError::Transport {
                        connect: err.is_connect(),
                        message: err.to_string(),
                    };
                    let response = request.send().await.map_err(transport)?;
                    let status = response.status();
                    if status.is_server_error() {
                        return Err(OutboundError::Status(status));
                    }
                    let body = response.text().await.map_err(transport)?;
                    Ok(Answer { status, body })
                }
            },
        )
        .await
        .map_err(|err: CallError<OutboundError>| DirectoryError::Unavailable(err.to_string()))
}

/// How long before its expiry a token is replaced: a tenth of its lifetime, at most 30 s.
fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(Duration::from_secs(30))
}

impl KeycloakDirectory {
    /// A client of the provider at `config.url`; `breaker` guards every call.
    pub fn new(http: reqwest::Client, config: &IdpConfig, breaker: Breaker) -> Self {
        Self {
            inner: Arc::new(Inner {
                http,
                base: config.url.trim_end_matches('/').to_owned(),
                realm: config.realm.clone(),
                client_id: config.client_id.clone(),
                client_secret: config.client_secret.clone(),
                breaker,
                token: Mutex::new(None),
            }),
        }
    }

    /// The service token: the cached one, or a new one when it is about to expire or is
    /// the one the provider just `rejected`.
    async fn token(&self, rejected: Option<&str>) -> Result<SecretString, DirectoryError> {
        let mut cached = self.inner.token.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.refresh_at
            && rejected.is_none_or(|rejected| rejected != expose(&token.value))
        {
            return Ok(token.value.clone());
        }
        let url = format!(
            "{}/realms/{}/protocol/openid-connect/token",
            self.inner.base, self.inner.realm
        );
        let answer = send(&self.inner.breaker, || {
            self.inner.http.post(&url).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.inner.client_id.as_str()),
                ("client_secret", expose(&self.inner.client_secret)),
            ])
        })
        .await?;
        if answer.status != StatusCode::OK {
            return Err(DirectoryError::Unavailable(format!(
                "the token endpoint answered {} for client {}",
                answer.status, self.inner.client_id
            )));
        }
        let response: TokenResponse = serde_json::from_str(&answer.body)
            .map_err(|err| DirectoryError::Other(format!("unreadable token response: {err}")))?;
        let lifetime = Duration::from_secs(response.expires_in.unwrap_or(60));
        let value = SecretString::from(response.access_token);
        *cached = Some(ServiceToken {
            value: value.clone(),
            refresh_at: Instant::now() + lifetime - refresh_margin(lifetime),
        });
        Ok(value)
    }
}

impl CustomerDirectory for KeycloakDirectory {
    async fn get(&self, id: &str) -> Result<Option<CustomerSummary>, DirectoryError> {
        let url = format!(
            "{}/admin/realms/{}/users/{id}",
            self.inner.base, self.inner.realm
        );
        let token = self.token(None).await?;
        let mut answer = send(&self.inner.breaker, || {
            self.inner.http.get(&url).bearer_auth(expose(&token))
        })
        .await?;
        if answer.status == StatusCode::UNAUTHORIZED {
            let token = self.token(Some(expose(&token))).await?;
            answer = send(&self.inner.breaker, || {
                self.inner.http.get(&url).bearer_auth(expose(&token))
            })
            .await?;
        }
        match answer.status {
            StatusCode::OK => {
                let user: UserRepresentation = serde_json::from_str(&answer.body)
                    .map_err(|err| DirectoryError::Other(format!("unreadable user: {err}")))?;
                Ok(Some(CustomerSummary {
                    id: user.id,
                    first_name: user.first_name,
                    last_name: user.last_name,
                }))
            }
            StatusCode::NOT_FOUND => Ok(None),
            status => Err(DirectoryError::Other(format!(
                "the user lookup answered {status}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_replaced_shortly_before_they_expire() {
        assert_eq!(
            refresh_margin(Duration::from_secs(300)),
            Duration::from_secs(30)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(60)),
            Duration::from_secs(6)
        );
    }
}
