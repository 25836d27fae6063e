//! The identity-provider adapter: Keycloak's admin REST API behind the
//! [`CustomerDirectory`] port. It speaks only what real Keycloak speaks, so the same
//! code runs against Keycloak in Kubernetes and against our `identity` in development.
//!
//! - Authentication: a client-credentials token of the service account
//!   (`POST /realms/{realm}/protocol/openid-connect/token`), cached until shortly before
//!   it expires. An admin call answered 401 (the token was revoked or the provider
//!   restarted with new keys) gets a fresh token and is tried once more.
//! - Users: `GET /admin/realms/{realm}/users?first=&max=`, `GET .../users/{id}`, and
//!   enabling/disabling as the original's admin client did it: `GET .../users/{id}`, set
//!   `enabled` in that representation, `PUT` it back whole. Since Keycloak 24 a `PUT`
//!   replaces the user's profile (first name, last name, e-mail, attributes) with what
//!   it carries, so a bare `{"enabled": false}` would wipe the customer's profile.
//! - Mapping (reference §2.1): `birthDate` from the attribute `birthDate[0]`
//!   (`YYYY-MM-DD`; missing or malformed → null), `phoneNumber` from `phoneNumber[0]`.
//! - Resilience: every call has a timeout and goes through the `identity` circuit
//!   breaker; transport failures and 5xx count against it, 404 does not. There is no
//!   fallback value beyond the `user`/`users` caches: a customer request the cache cannot
//!   answer gets 503 while the provider is down.

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::NaiveDate;
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
    domain::{Customer, UserRange},
    outbound::{self, Answer, OutboundError},
    ports::{CustomerDirectory, DirectoryError, DirectoryUser},
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
    #[serde(default)]
    username: String,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    #[serde(default)]
    attributes: Option<HashMap<String, Vec<String>>>,
}

impl UserRepresentation {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .as_ref()?
            .get(name)?
            .first()
            .map(String::as_str)
    }

    fn into_user(self) -> DirectoryUser {
        let birth_date = self.attribute("birthDate").and_then(|raw| {
            NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .inspect_err(|err| {
                    tracing::debug!(user.id = %self.id, error = %err, "ignoring a malformed birthDate attribute");
                })
                .ok()
        });
        let phone_number = self.attribute("phoneNumber").map(str::to_owned);
        DirectoryUser {
            username: self.username,
            customer: Customer {
                id: self.id,
                first_name: self.first_name,
                last_name: self.last_name,
                birth_date,
                email: self.email,
                phone_number,
            },
        }
    }
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

    fn users_url(&self) -> String {
        format!(
            "{}/admin/realms/{}/users",
            self.inner.base, self.inner.realm
        )
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
        tracing::debug!(
            idp.client_id = %self.inner.client_id,
            expires_in_s = lifetime.as_secs(),
            "service token obtained"
        );
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
    async fn list(&self, range: UserRange) -> Result<Vec<DirectoryUser>, DirectoryError> {
        let url = self.users_url();
        let answer = self
            .admin(|token| {
                self.inner
                    .http
                    .get(&url)
                    .query(&[("first", range.first), ("max", range.max)])
                    .bearer_auth(token)
            })
            .await?;
        if answer.status != StatusCode::OK {
            return Err(unexpected("the user list", &answer));
        }
        let users: Vec<UserRepresentation> = serde_json::from_str(&answer.body)
            .map_err(|err| DirectoryError::Other(format!("unreadable user list: {err}")))?;
        Ok(users
            .into_iter()
            .map(UserRepresentation::into_user)
            .collect())
    }

    async fn get(&self, id: &str) -> Result<Option<DirectoryUser>, DirectoryError> {
        let url = format!("{}/{id}", self.users_url());
        let answer = self
            .admin(|token| self.inner.http.get(&url).bearer_auth(token))
            .await?;
        match answer.status {
            StatusCode::OK => {
                let user: UserRepresentation = serde_json::from_str(&answer.body)
                    .map_err(|err| DirectoryError::Other(format!("unreadable user: {err}")))?;
                Ok(Some(user.into_user()))
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(unexpected("the user lookup", &answer)),
        }
    }

    async fn set_enabled(&self, id: &str, enabled: bool) -> Result<bool, DirectoryError> {
        let url = format!("{}/{id}", self.users_url());
        let current = self
            .admin(|token| self.inner.http.get(&url).bearer_auth(token))
            .await?;
        let mut representation: serde_json::Value = match current.status {
            StatusCode::OK => serde_json::from_str(&current.body)
                .map_err(|err| DirectoryError::Other(format!("unreadable user: {err}")))?,
            StatusCode::NOT_FOUND => return Ok(false),
            _ => return Err(unexpected("the user lookup", &current)),
        };
        let Some(fields) = representation.as_object_mut() else {
            return Err(DirectoryError::Other(
                "the user is not a JSON object".to_owned(),
            ));
        };
        fields.insert("enabled".to_owned(), serde_json::Value::Bool(enabled));
        let answer = self
            .admin(|token| {
                self.inner
                    .http
                    .put(&url)
                    .json(&representation)
                    .bearer_auth(token)
            })
            .await?;
        match answer.status {
            StatusCode::NO_CONTENT | StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(unexpected("the user update", &answer)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_map_to_birth_date_and_phone_number() {
        let user: UserRepresentation = serde_json::from_value(serde_json::json!({
            "id": "47ac2317-2da2-457a-90d6-48d5a0f9739a", "username": "vader",
            "firstName": "Anakin", "lastName": "Skywalker", "email": "vader_666@mail.com",
            "enabled": true, "emailVerified": true, "createdTimestamp": 1_700_000_000_000_u64,
            "attributes": {"birthDate": ["1980-10-23"], "phoneNumber": ["5738593748"]},
            "access": {"manage": true}
        }))
        .unwrap();
        let user = user.into_user();
        assert_eq!(user.username, "vader");
        assert_eq!(
            user.customer.birth_date,
            NaiveDate::from_ymd_opt(1980, 10, 23)
        );
        assert_eq!(user.customer.phone_number.as_deref(), Some("5738593748"));
    }

    #[test]
    fn missing_or_malformed_attributes_become_null() {
        for attributes in [
            serde_json::json!(null),
            serde_json::json!({}),
            serde_json::json!({"birthDate": []}),
            serde_json::json!({"birthDate": ["23/10/1980"]}),
        ] {
            let user: UserRepresentation = serde_json::from_value(serde_json::json!({
                "id": "37a2191e", "username": "lorne", "attributes": attributes
            }))
            .unwrap();
            let customer = user.into_user().customer;
            assert_eq!(customer.birth_date, None);
            assert_eq!(customer.phone_number, None);
            assert_eq!(customer.first_name, None);
        }
    }

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
        assert_eq!(
            refresh_margin(Duration::from_secs(3600)),
            Duration::from_secs(30)
        );
    }
}
