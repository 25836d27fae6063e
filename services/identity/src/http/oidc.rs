//! `/realms/{realm}/...`: OIDC discovery, the JWKS, the token endpoint (password,
//! client-credentials and refresh-token grants), token introspection and userinfo.
//!
//! Clients authenticate with `client_id` + `client_secret` form fields or HTTP Basic
//! (`client_secret_post` / `client_secret_basic`), Basic taking precedence.

use std::collections::HashMap;

use axum::{
    Form, Router,
    extract::{State, rejection::FormRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use platform::http::Path;
use secrecy::SecretString;
use serde_json::json;

use super::{AppState, KeycloakError, bearer};
use crate::app::{TokenError, TokenRequest};

/// The grants the token endpoint supports.
pub const GRANT_TYPES: [&str; 3] = ["password", "client_credentials", "refresh_token"];

/// The OIDC routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/realms/{realm}/.well-known/openid-configuration",
            get(discovery),
        )
        .route("/realms/{realm}/protocol/openid-connect/certs", get(certs))
        .route("/realms/{realm}/protocol/openid-connect/token", post(token))
        .route(
            "/realms/{realm}/protocol/openid-connect/token/introspect",
            post(introspect),
        )
        .route(
            "/realms/{realm}/protocol/openid-connect/userinfo",
            get(userinfo).post(userinfo),
        )
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn realm_not_found() -> KeycloakError {
    KeycloakError::plain(StatusCode::NOT_FOUND, "Realm does not exist")
}

/// `GET /realms/{realm}/.well-known/openid-configuration`.
async fn discovery(
    State(state): State<AppState>,
    Path(realm): Path<String>,
) -> Result<Response, KeycloakError> {
    let realm = state.identity.realm(&realm).ok_or_else(realm_not_found)?;
    let issuer = state.identity.issuer(&realm);
    let endpoint = |path: &str| format!("{issuer}/protocol/openid-connect/{path}");
    let auth_methods = ["client_secret_basic", "client_secret_post"];
    Ok(axum::Json(json!({
        "issuer": issuer,
        "token_endpoint": endpoint("token"),
        "introspection_endpoint": endpoint("token/introspect"),
        "userinfo_endpoint": endpoint("userinfo"),
        "jwks_uri": endpoint("certs"),
        "grant_types_supported": GRANT_TYPES,
        "response_types_supported": ["none"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "scopes_supported": ["openid", "profile", "email"],
        "claims_supported": [
            "aud", "sub", "iss", "name", "given_name", "family_name", "preferred_username",
            "email", "email_verified", "acr", "azp", "sid", "realm_access", "resource_access",
        ],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
    }))
    .into_response())
}

/// `GET /realms/{realm}/protocol/openid-connect/certs`.
async fn certs(
    State(state): State<AppState>,
    Path(realm): Path<String>,
) -> Result<Response, KeycloakError> {
    state.identity.realm(&realm).ok_or_else(realm_not_found)?;
    Ok(axum::Json(state.identity.jwks().await).into_response())
}

type FormFields = HashMap<String, String>;

fn form(form: Result<Form<FormFields>, FormRejection>) -> Result<FormFields, KeycloakError> {
    form.map(|Form(fields)| fields).map_err(|rejection| {
        KeycloakError::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!(
                "expected an application/x-www-form-urlencoded body: {}",
                rejection.body_text()
            ),
        )
    })
}

fn url_decode(value: &str) -> String {
    url::form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, decoded)| decoded.into_owned())
        .unwrap_or_default()
}

/// `client_id` and `client_secret` from `Authorization: Basic` (RFC 6749 §2.3.1: both
/// form-urlencoded, then base64) or else from the form.
fn client_credentials(
    headers: &HeaderMap,
    fields: &mut FormFields,
) -> Result<(Option<String>, Option<SecretString>), KeycloakError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"));
    if let Some((_, encoded)) = basic {
        let invalid = || KeycloakError::from(TokenError::InvalidClient);
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(invalid)?;
        let (id, secret) = decoded.split_once(':').ok_or_else(invalid)?;
        return Ok((
            Some(url_decode(id)),
            Some(SecretString::from(url_decode(secret))),
        ));
    }
    Ok((
        fields.remove("client_id"),
        fields.remove("client_secret").map(SecretString::from),
    ))
}

/// `POST /realms/{realm}/protocol/openid-connect/token`.
async fn token(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Result<Form<FormFields>, FormRejection>,
) -> Result<Response, KeycloakError> {
    state.identity.realm(&realm).ok_or_else(realm_not_found)?;
    let mut fields = form(body)?;
    let (client_id, client_secret) = client_credentials(&headers, &mut fields)?;
    let request = TokenRequest {
        grant_type: fields.remove("grant_type"),
        client_id,
        client_secret,
        username: fields.remove("username"),
        password: fields.remove("password").map(SecretString::from),
        refresh_token: fields.remove("refresh_token"),
        scope: fields.remove("scope"),
    };
    let response = state.identity.token(&realm, request).await?;
    Ok(no_store(axum::Json(response).into_response()))
}

/// `POST /realms/{realm}/protocol/openid-connect/token/introspect`.
async fn introspect(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Result<Form<FormFields>, FormRejection>,
) -> Result<Response, KeycloakError> {
    state.identity.realm(&realm).ok_or_else(realm_not_found)?;
    let mut fields = form(body)?;
    let (client_id, client_secret) = client_credentials(&headers, &mut fields)?;
    let request = TokenRequest {
        client_id,
        client_secret,
        ..TokenRequest::default()
    };
    let answer = state
        .identity
        .introspect(&realm, &request, fields.get("token").map(String::as_str))
        .await?;
    Ok(no_store(axum::Json(answer).into_response()))
}

/// `GET|POST /realms/{realm}/protocol/openid-connect/userinfo`.
async fn userinfo(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
) -> Result<Response, KeycloakError> {
    let realm = state.identity.realm(&realm).ok_or_else(realm_not_found)?;
    let unauthorized = |description: &str| {
        let mut response =
            KeycloakError::oauth(StatusCode::UNAUTHORIZED, "invalid_token", description)
                .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"identity\", error=\"invalid_token\""),
        );
        response
    };
    let Some(token) = bearer(&headers) else {
        return Ok(unauthorized("Token not provided"));
    };
    let Ok(claims) = state.identity.verify_access_token(&realm, token).await else {
        return Ok(unauthorized("Token verification failed"));
    };
    let mut info = serde_json::to_value(&claims.profile).unwrap_or_else(|_| json!({}));
    if let Some(object) = info.as_object_mut() {
        object.insert("sub".to_owned(), claims.sub.into());
    }
    Ok(no_store(axum::Json(info).into_response()))
}
