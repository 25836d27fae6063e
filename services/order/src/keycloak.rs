//! The identity-provider adapter: the one call of Keycloak's admin REST API the order
//! detail needs (get a user by id), behind the [`CustomerDirectory`] port. It speaks only
//! what real Keycloak speaks, so the same code runs against Keycloak in Kubernetes and
//! against our `identity` in development. (A trimmed copy of account's adapter.)
//!
//! - Authentication: a client-credentials token of the service account
//!   (`POST /realms/{realm}/protocol/openid-connect/token`), cached until shortly before
//!   it expires. An admin call answered 401 gets a fresh token and is tried once more.
//! - User: `GET /admin/realms/{realm}/users/{id}` → `{id, firstName, lastName}`.
//! - Resilience: every call has a timeout and goes through the `identity` circuit
//!   breaker; transport failures and 5xx count against it, 404 does not.

use std::{sync::Arc, time::Duration};

use platform::{
    config::expose,
    resilience::{Breaker, CallError},
};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde::Deserialize;
use tokio::{sync::Mutex, time::Instant};

use crate::{
    config::IdpConfig,
    outbound::{self, Answer, OutboundError},
    ports::{CustomerDirectory, CustomerName, DirectoryError},
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
            .field("breaker", &self.inner.breaker)
            .finish_non_exhaustive()
    }
}

struct ServiceToken {
    value: SecretString,
    refresh_at: Instant,
}

/// The token endpoint's answer (the fields we use).
#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

/// Keycloak's `UserRepresentation` (the fields we use; the rest is ignored).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserRepresentation {
    id: String,
    first_name: Option<String>,
    last_name: Option<String>,
}

/// How long before its expiry a token is replaced: a tenth of its lifetime, at most 30 s.
fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(Duration::from_secs(30))
}

fn unavailable(err: CallError<OutboundError>) -> DirectoryError {
    DirectoryError::Unavailable(err.to_string())
}

fn unexpected(what: &str, answer: &Answer) -> DirectoryError {
    let body: String = answer.body.chars().take(200).collect();
    DirectoryError::Other(format!("{what} answered {}: {body}", answer.status))
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

    /// The breaker guarding the provider (tests observe it).
    pub fn breaker(&self) -> &Breaker {
        &self.inner.breaker
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
        let answer = outbound::send(&self.inner.breaker, || {
            self.inner.http.post(&url).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.inner.client_id.as_str()),
                ("client_secret", expose(&self.inner.client_secret)),
            ])
        })
        .await
        .map_err(unavailable)?;
        match answer.status {
            StatusCode::OK => {}
            StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED => {
                return Err(DirectoryError::Unavailable(format!(
                    "the identity provider refused the service credentials of client {} ({})",
                    self.inner.client_id, answer.status
                )));
            }
            _ => return Err(unexpected("the token endpoint", &answer)),
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

    /// An admin call with the service token, retried once with a new token on 401.
    async fn admin(
        &self,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<Answer, DirectoryError> {
        let token = self.token(None).await?;
        let answer = outbound::send(&self.inner.breaker, || build(expose(&token)))
            .await
            .map_err(unavailable)?;
        if answer.status != StatusCode::UNAUTHORIZED {
            return Ok(answer);
        }
        tracing::info!(idp.client_id = %self.inner.client_id, "service token rejected, getting a new one");
        let token = self.token(Some(expose(&token))).await?;
        outbound::send(&self.inner.breaker, || build(expose(&token)))
            .await
            .map_err(unavailable)
    }
}

impl CustomerDirectory for KeycloakDirectory {
    async fn get(&self, id: &str) -> Result<Option<CustomerName>, DirectoryError> {
        let url = format!(
            "{}/admin/realms/{}/users/{id}",
            self.inner.base, self.inner.realm
        );
        let answer = self
            .admin(|token| self.inner.http.get(&url).bearer_auth(token))
            .await?;
        match answer.status {
            StatusCode::OK => {
                let user: UserRepresentation = serde_json::from_str(&answer.body)
                    .map_err(|err| DirectoryError::Other(format!("unreadable user: {err}")))?;
                Ok(Some(CustomerName {
                    id: user.id,
                    first_name: user.first_name,
                    last_name: user.last_name,
                }))
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(unexpected("the user lookup", &answer)),
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
