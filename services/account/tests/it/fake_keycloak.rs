//! A Keycloak stand-in on wiremock, answering with response shapes recorded from Keycloak
//! 26 (`fixtures/keycloak/`): the client-credentials token endpoint and the admin API's
//! user list, user lookup and user update, including its 401 for a stale service token,
//! its 404 for an unknown user, and its full-replacement `PUT` (since Keycloak 24, a
//! profile field the request leaves out is removed).
//!
//! Tests reach the identity provider only through [`IdpSettings`], so the same tests can
//! run against another provider (our `identity` service, real Keycloak) that holds the
//! same realm export.

use std::sync::{Arc, Mutex};

use account::config::IdpConfig;
use platform::resilience::ResilienceConfig;
use secrecy::SecretString;
use serde_json::Value;
use wiremock::{
    Mock, MockServer, Request, Respond, ResponseTemplate,
    http::Method,
    matchers::{body_string_contains, method, path, path_regex},
};

pub(crate) const REALM: &str = "ironvessel";
pub(crate) const CLIENT_ID: &str = "ironvessel-account";
pub(crate) const CLIENT_SECRET: &str = "dev-account-secret";

/// Users of the realm export the fixtures were recorded from.
pub(crate) const VADER: &str = "47ac2317-2da2-457a-90d6-48d5a0f9739a";
pub(crate) const LORNE: &str = "37a2191e-85a0-4bad-a853-1f29559c3092";
pub(crate) const TOMMY: &str = "c908ce9d-faec-4570-b84d-71a4e77f2f4a";
pub(crate) const SERVICE_ACCOUNT: &str = "9d1e1f4c-3c0a-4b6e-9d7e-5b8f2f8e7a61";
/// A well-formed id no user has.
pub(crate) const NOBODY: &str = "00000000-0000-4000-8000-000000000000";

const USERS: &str = include_str!("fixtures/keycloak/users.json");
const TOKEN: &str = include_str!("fixtures/keycloak/token.json");
const USER_NOT_FOUND: &str = include_str!("fixtures/keycloak/user-not-found.json");
const INVALID_CLIENT: &str = include_str!("fixtures/keycloak/invalid-client.json");
const UNAUTHORIZED: &str = include_str!("fixtures/keycloak/unauthorized.json");

/// Where the account service finds its identity provider's admin API.
#[derive(Debug, Clone)]
pub(crate) struct IdpSettings {
    pub(crate) url: String,
    pub(crate) realm: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
}

impl IdpSettings {
    pub(crate) fn config(&self, resilience: ResilienceConfig) -> IdpConfig {
        IdpConfig {
            url: self.url.clone(),
            realm: self.realm.clone(),
            client_id: self.client_id.clone(),
            client_secret: SecretString::from(self.client_secret.clone()),
            resilience,
        }
    }
}

fn json(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

#[derive(Debug)]
struct State {
    users: Vec<Value>,
    /// The one service token the admin API accepts; revoking it issues another.
    accepted: String,
    serial: u32,
}

#[derive(Debug, Clone)]
struct Shared(Arc<Mutex<State>>);

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().expect("fake Keycloak state")
    }
}

struct TokenEndpoint(Shared);

impl Respond for TokenEndpoint {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let mut token: Value = serde_json::from_str(TOKEN).expect("token fixture");
        token["access_token"] = Value::from(self.0.lock().accepted.clone());
        ResponseTemplate::new(200).set_body_json(token)
    }
}

struct AdminApi(Shared);

impl Respond for AdminApi {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock();
        let bearer = format!("Bearer {}", state.accepted);
        if request
            .headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            != Some(bearer.as_str())
        {
            return json(401, UNAUTHORIZED);
        }
        let prefix = format!("/admin/realms/{REALM}/users");
        let rest = request.url.path().trim_start_matches(&prefix);
        if rest.is_empty() && request.method == Method::GET {
            let param = |name: &str, default: usize| {
                request
                    .url
                    .query_pairs()
                    .find(|(key, _)| key == name)
                    .and_then(|(_, value)| value.parse().ok())
                    .unwrap_or(default)
            };
            let first = param("first", 0);
            let max = param("max", 100);
            let page: Vec<Value> = state.users.iter().skip(first).take(max).cloned().collect();
            return ResponseTemplate::new(200).set_body_json(page);
        }
        let id = rest.trim_start_matches('/');
        let Some(user) = state.users.iter_mut().find(|user| user["id"] == id) else {
            return json(404, USER_NOT_FOUND);
        };
        match request.method {
            Method::GET => ResponseTemplate::new(200).set_body_json(user.clone()),
            Method::PUT => {
                let Ok(mut update) = request.body_json::<Value>() else {
                    return json(400, r#"{"error":"unknown_error"}"#);
                };
                // Keycloak ≥ 24: the profile (names, e-mail, attributes) becomes exactly
                // what the request carries; what it leaves out is removed.
                for field in ["firstName", "lastName", "email", "attributes", "enabled"] {
                    match update.get_mut(field).map(Value::take) {
                        Some(value) => user[field] = value,
                        None if field != "enabled" => {
                            if let Some(object) = user.as_object_mut() {
                                object.remove(field);
                            }
                        }
                        None => {}
                    }
                }
                ResponseTemplate::new(204)
            }
            _ => ResponseTemplate::new(405),
        }
    }
}

/// The stand-in.
pub(crate) struct FakeKeycloak {
    pub(crate) server: MockServer,
    state: Shared,
}

impl FakeKeycloak {
    pub(crate) async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Shared(Arc::new(Mutex::new(State {
            users: serde_json::from_str(USERS).expect("users fixture"),
            accepted: "service-token-1".to_owned(),
            serial: 1,
        })));
        let token_path = format!("/realms/{REALM}/protocol/openid-connect/token");
        Mock::given(method("POST"))
            .and(path(token_path.clone()))
            .and(body_string_contains("grant_type=client_credentials"))
            .and(body_string_contains(format!("client_id={CLIENT_ID}")))
            .and(body_string_contains(format!(
                "client_secret={CLIENT_SECRET}"
            )))
            .respond_with(TokenEndpoint(state.clone()))
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(token_path))
            .respond_with(json(401, INVALID_CLIENT))
            .with_priority(2)
            .mount(&server)
            .await;
        Mock::given(path_regex(format!("^/admin/realms/{REALM}/users(/.*)?$")))
            .respond_with(AdminApi(state.clone()))
            .mount(&server)
            .await;
        Self { server, state }
    }

    pub(crate) fn settings(&self) -> IdpSettings {
        IdpSettings {
            url: self.server.uri(),
            realm: REALM.to_owned(),
            client_id: CLIENT_ID.to_owned(),
            client_secret: CLIENT_SECRET.to_owned(),
        }
    }

    /// Invalidates the service token handed out so far (as a provider restart would).
    pub(crate) fn revoke_token(&self) {
        let mut state = self.state.lock();
        state.serial += 1;
        state.accepted = format!("service-token-{}", state.serial);
    }

    /// Whether the user is enabled, as the provider stores it.
    pub(crate) fn enabled(&self, id: &str) -> Option<bool> {
        self.state
            .lock()
            .users
            .iter()
            .find(|user| user["id"] == id)
            .and_then(|user| user["enabled"].as_bool())
    }

    /// Requests received with this method whose path starts with `prefix`.
    pub(crate) async fn requests(&self, verb: &str, prefix: &str) -> Vec<Request> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|request| {
                request.method.as_str() == verb && request.url.path().starts_with(prefix)
            })
            .collect()
    }

    pub(crate) async fn token_requests(&self) -> usize {
        self.requests("POST", "/realms/").await.len()
    }
}
