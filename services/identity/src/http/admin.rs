//! `/admin/realms/{realm}/users...`: the subset of Keycloak's admin REST API that the
//! account service and the seeder use. Every call needs a bearer token of this realm
//! whose `resource_access.realm-management.roles` holds `view-users` or
//! `manage-users` (reads) or `manage-users` (writes).

use axum::{
    Router,
    extract::{
        State,
        rejection::{JsonRejection, QueryRejection},
    },
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, put},
};
use platform::http::Path;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{AppState, KeycloakError, bearer};
use crate::{
    app::{AdminError, CreateUser, Permission},
    domain::{
        Attributes, User, UserUpdate,
        search::SearchParams,
        user::{self, ValidationError},
    },
};

/// The admin routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/realms/{realm}/users", get(list).post(create))
        .route("/admin/realms/{realm}/users/count", get(count))
        .route("/admin/realms/{realm}/users/{id}", get(get_one).put(update))
        .route(
            "/admin/realms/{realm}/users/{id}/reset-password",
            put(reset_password),
        )
}

/// Keycloak's `UserRepresentation`, as the admin API writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRepresentation {
    /// Id.
    pub id: String,
    /// Username.
    pub username: String,
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_name: Option<String>,
    /// Email.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub email: Option<String>,
    /// Whether the email is verified.
    pub email_verified: bool,
    /// Attributes (left out when there are none).
    #[serde(skip_serializing_if = "Attributes::is_empty", default)]
    pub attributes: Attributes,
    /// Milliseconds since the epoch.
    pub created_timestamp: i64,
    /// Whether the user may log in.
    pub enabled: bool,
    /// Always false.
    pub totp: bool,
    /// Always empty.
    pub disableable_credential_types: Vec<String>,
    /// Always empty.
    pub required_actions: Vec<String>,
    /// Always 0.
    pub not_before: i64,
    /// The client, on service-account users.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub service_account_client_id: Option<String>,
}

impl From<User> for UserRepresentation {
    fn from(user: User) -> Self {
        Self {
            id: user.id.to_string(),
            username: user.username,
            first_name: user.first_name,
            last_name: user.last_name,
            email: user.email,
            email_verified: user.email_verified,
            attributes: user.attributes,
            created_timestamp: user.created_timestamp,
            enabled: user.enabled,
            totp: false,
            disableable_credential_types: Vec::new(),
            required_actions: Vec::new(),
            not_before: 0,
            service_account_client_id: user.service_account_client,
        }
    }
}

/// A credential in a request body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialInput {
    /// `password` (the default).
    #[serde(rename = "type")]
    kind: Option<String>,
    /// The password.
    value: Option<String>,
    /// Must be changed at the next login.
    temporary: Option<bool>,
}

/// A `UserRepresentation` in a request body: absent fields stay as they are.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInput {
    username: Option<String>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    enabled: Option<bool>,
    email_verified: Option<bool>,
    attributes: Option<Attributes>,
    #[serde(default)]
    credentials: Vec<CredentialInput>,
}

/// Listing and count parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    search: Option<String>,
    username: Option<String>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    enabled: Option<bool>,
    exact: Option<bool>,
    first: Option<i64>,
    max: Option<i64>,
}

impl From<ListQuery> for SearchParams {
    fn from(query: ListQuery) -> Self {
        Self {
            search: query.search,
            username: query.username,
            email: query.email,
            first_name: query.first_name,
            last_name: query.last_name,
            enabled: query.enabled,
            exact: query.exact,
            first: query.first,
            max: query.max,
        }
    }
}

fn bad_request(message: String) -> KeycloakError {
    KeycloakError::message(StatusCode::BAD_REQUEST, &message)
}

fn query(
    query: Result<axum::extract::Query<ListQuery>, QueryRejection>,
) -> Result<SearchParams, KeycloakError> {
    query
        .map(|axum::extract::Query(q)| q.into())
        .map_err(|rejection| bad_request(rejection.body_text()))
}

fn body<T>(body: Result<axum::Json<T>, JsonRejection>) -> Result<T, KeycloakError> {
    body.map(|axum::Json(value)| value).map_err(|rejection| {
        let status = rejection.status();
        KeycloakError::message(status, &rejection.body_text())
    })
}

fn password(credentials: &[CredentialInput]) -> Option<(SecretString, bool)> {
    credentials
        .iter()
        .find(|c| c.kind.as_deref().unwrap_or("password") == "password")
        .and_then(|c| {
            c.value
                .clone()
                .map(|v| (SecretString::from(v), c.temporary.unwrap_or(false)))
        })
}

/// `GET /admin/realms/{realm}/users`: users by username, `first`/`max` paging.
async fn list(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    params: Result<axum::extract::Query<ListQuery>, QueryRejection>,
) -> Result<Response, KeycloakError> {
    let realm = state
        .identity
        .authorize(&realm, bearer(&headers), Permission::View)
        .await?;
    let params = query(params)?;
    let users = state.identity.list_users(&realm, &params).await?;
    let users: Vec<UserRepresentation> = users.into_iter().map(Into::into).collect();
    Ok(axum::Json(users).into_response())
}

/// `GET /admin/realms/{realm}/users/count`: a bare number.
async fn count(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    params: Result<axum::extract::Query<ListQuery>, QueryRejection>,
) -> Result<Response, KeycloakError> {
    let realm = state
        .identity
        .authorize(&realm, bearer(&headers), Permission::View)
        .await?;
    let params = query(params)?;
    let count = state.identity.count_users(&realm, &params).await?;
    Ok(axum::Json(count).into_response())
}

/// `GET /admin/realms/{realm}/users/{id}`.
async fn get_one(
    State(state): State<AppState>,
    Path((realm, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, KeycloakError> {
    let realm = state
        .identity
        .authorize(&realm, bearer(&headers), Permission::View)
        .await?;
    let user = state.identity.get_user(&realm, &id).await?;
    Ok(axum::Json(UserRepresentation::from(user)).into_response())
}

fn validated<T>(result: Result<T, ValidationError>) -> Result<T, KeycloakError> {
    result.map_err(|err| AdminError::Validation(err).into())
}

/// `PUT /admin/realms/{realm}/users/{id}`: a partial update; 204.
async fn update(
    State(state): State<AppState>,
    Path((realm, id)): Path<(String, String)>,
    headers: HeaderMap,
    input: Result<axum::Json<UserInput>, JsonRejection>,
) -> Result<Response, KeycloakError> {
    let realm = state
        .identity
        .authorize(&realm, bearer(&headers), Permission::Manage)
        .await?;
    let input = body(input)?;
    let update = UserUpdate {
        enabled: input.enabled,
        email_verified: input.email_verified,
        first_name: input
            .first_name
            .as_deref()
            .map(|n| validated(user::name("firstName", Some(n))))
            .transpose()?,
        last_name: input
            .last_name
            .as_deref()
            .map(|n| validated(user::name("lastName", Some(n))))
            .transpose()?,
        email: input
            .email
            .as_deref()
            .map(|e| validated(user::email(Some(e))))
            .transpose()?,
        attributes: input.attributes,
    };
    state.identity.update_user(&realm, &id, &update).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /admin/realms/{realm}/users`: 201 with `Location`; the realm's default role is
/// granted; without `"enabled": true` the user is created disabled, as in Keycloak.
async fn create(
    State(state): State<AppState>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    input: Result<axum::Json<UserInput>, JsonRejection>,
) -> Result<Response, KeycloakError> {
    let realm = state
        .identity
        .authorize(&realm, bearer(&headers), Permission::Manage)
        .await?;
    let input = body(input)?;
    let id = state
        .identity
        .create_user(
            &realm,
            CreateUser {
                username: input.username.unwrap_or_default(),
                email: input.email,
                first_name: input.first_name,
                last_name: input.last_name,
                enabled: input.enabled.unwrap_or(false),
                email_verified: input.email_verified.unwrap_or(false),
                attributes: input.attributes.unwrap_or_default(),
                password: password(&input.credentials),
            },
        )
        .await?;
    let location = format!(
        "{}/admin/realms/{}/users/{id}",
        state.identity.settings().public_url,
        realm.name()
    );
    let mut response = StatusCode::CREATED.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// `PUT /admin/realms/{realm}/users/{id}/reset-password`: 204.
async fn reset_password(
    State(state): State<AppState>,
    Path((realm, id)): Path<(String, String)>,
    headers: HeaderMap,
    input: Result<axum::Json<CredentialInput>, JsonRejection>,
) -> Result<Response, KeycloakError> {
    let realm = state
        .identity
        .authorize(&realm, bearer(&headers), Permission::Manage)
        .await?;
    let credential = body(input)?;
    let Some((password, temporary)) = password(std::slice::from_ref(&credential))
        .filter(|(p, _)| !secrecy::ExposeSecret::expose_secret(p).is_empty())
    else {
        return Err(bad_request("Password must not be empty".to_owned()));
    };
    state
        .identity
        .reset_password(&realm, &id, password, temporary)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
