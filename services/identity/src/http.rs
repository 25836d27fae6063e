//! The HTTP adapter: Keycloak's paths, bodies and error shapes, so clients written for
//! Keycloak work unchanged. [`oidc`] serves discovery, the JWKS, the token endpoint,
//! introspection and userinfo; [`admin`] the admin REST subset over users.
//!
//! Errors are Keycloak's, not the shop's SPEC §2 body: `{"error", "error_description"}`
//! on the OIDC endpoints, `{"error"}` / `{"errorMessage"}` on the admin API. 5xx bodies
//! reveal nothing; the detail rides in [`ErrorDetail`] for the access log.

pub mod admin;
pub mod oidc;

use axum::{
    Router,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use platform::http::error::ErrorDetail;
use serde_json::{Value, json};

use crate::{
    app::{AdminError, Identity, TokenError},
    ports::StoreError,
    postgres::PgIdentityStore,
};

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The use cases.
    pub identity: Identity<PgIdentityStore>,
}

/// Every identity route.
pub fn router(state: AppState) -> Router {
    oidc::router().merge(admin::router()).with_state(state)
}

/// A JSON error answer with an optional private detail.
#[derive(Debug)]
pub struct KeycloakError {
    status: StatusCode,
    body: Value,
    detail: Option<String>,
}

impl KeycloakError {
    /// `{"error": error, "error_description": description}`.
    pub fn oauth(status: StatusCode, error: &str, description: &str) -> Self {
        Self {
            status,
            body: json!({"error": error, "error_description": description}),
            detail: None,
        }
    }

    /// `{"error": error}`.
    pub fn plain(status: StatusCode, error: &str) -> Self {
        Self {
            status,
            body: json!({ "error": error }),
            detail: None,
        }
    }

    /// `{"errorMessage": message}` (admin validation and conflicts).
    pub fn message(status: StatusCode, message: &str) -> Self {
        Self {
            status,
            body: json!({ "errorMessage": message }),
            detail: None,
        }
    }

    fn store(err: &StoreError, body: Value) -> Self {
        let status = match err {
            StoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            StoreError::Duplicate(_) => StatusCode::CONFLICT,
            StoreError::Other(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self {
            status,
            body,
            detail: Some(err.to_string()),
        }
    }
}

impl IntoResponse for KeycloakError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(1));
        }
        if let Some(detail) = self.detail {
            response.extensions_mut().insert(ErrorDetail(detail));
        }
        response
    }
}

impl From<TokenError> for KeycloakError {
    fn from(err: TokenError) -> Self {
        let description = err.to_string();
        let oauth = |status, error| Self::oauth(status, error, &description);
        match &err {
            TokenError::RealmNotFound => Self::plain(StatusCode::NOT_FOUND, "Realm does not exist"),
            TokenError::RealmDisabled => oauth(StatusCode::FORBIDDEN, "access_denied"),
            TokenError::InvalidRequest(_) => oauth(StatusCode::BAD_REQUEST, "invalid_request"),
            TokenError::InvalidClient => oauth(StatusCode::UNAUTHORIZED, "invalid_client"),
            TokenError::UnauthorizedClient(_) => {
                oauth(StatusCode::BAD_REQUEST, "unauthorized_client")
            }
            TokenError::UnsupportedGrantType => {
                oauth(StatusCode::BAD_REQUEST, "unsupported_grant_type")
            }
            TokenError::InvalidCredentials => oauth(StatusCode::UNAUTHORIZED, "invalid_grant"),
            TokenError::AccountDisabled
            | TokenError::TemporarilyLocked
            | TokenError::NotFullySetUp
            | TokenError::InvalidGrant(_) => oauth(StatusCode::BAD_REQUEST, "invalid_grant"),
            TokenError::Store(store) => Self::store(
                store,
                json!({"error": "temporarily_unavailable", "error_description": "please retry"}),
            ),
            TokenError::Internal(detail) => Self {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                body: json!({"error": "server_error", "error_description": "internal error"}),
                detail: Some(detail.clone()),
            },
        }
    }
}

impl From<AdminError> for KeycloakError {
    fn from(err: AdminError) -> Self {
        match &err {
            AdminError::Unauthorized => Self::plain(StatusCode::UNAUTHORIZED, &err.to_string()),
            AdminError::Forbidden => Self::plain(StatusCode::FORBIDDEN, &err.to_string()),
            AdminError::RealmNotFound | AdminError::UserNotFound => {
                Self::plain(StatusCode::NOT_FOUND, &err.to_string())
            }
            AdminError::Duplicate(_) => Self::message(StatusCode::CONFLICT, &err.to_string()),
            AdminError::Validation(validation) => Self {
                status: StatusCode::BAD_REQUEST,
                body: json!({
                    "field": validation.field(),
                    "errorMessage": validation.keycloak_message(),
                    "params": [validation.field()],
                }),
                detail: None,
            },
            AdminError::Store(store) => Self::store(store, json!({"error": "unknown_error"})),
            AdminError::Internal(detail) => Self {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                body: json!({"error": "unknown_error"}),
                detail: Some(detail.clone()),
            },
        }
    }
}

/// The bearer token of `Authorization: Bearer <token>`, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
