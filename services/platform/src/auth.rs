//! Bearer-token authentication against the identity provider's JWKS.
//!
//! Tokens are RS256 JWTs as Keycloak issues them. The [`Authenticator`] checks signature,
//! expiry, issuer and audience; keys are cached by `kid` and the JWKS is fetched again
//! when a token names a key we have not seen (key rotation), at most once per
//! [`AuthConfig::min_refresh_interval`] so a flood of forged `kid`s cannot hammer the
//! provider. Roles come from `realm_access.roles`; the user id is `sub`.
//!
//! A verified token is remembered (the whole token is the key, compared in full, in a
//! bounded cache) until it expires, so a client sending the same token with every request
//! pays for one RSA verification, not one per request and per hop. A remembered token is checked against its `exp`
//! on every use, and the cache is emptied when a fetch of the signing keys finds one
//! gone, so a key taken out of the JWKS stops its tokens as soon as a service notices.
//!
//! Handlers ask for [`CurrentUser`], [`Customer`] or [`Manager`] as extractors.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    extract::{FromRef, FromRequestParts},
    http::request::Parts,
    response::{IntoResponse, Response},
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

use crate::{
    config::{ConfigError, Env},
    http::error::{ErrorCode, ErrorResponse},
};

/// Verified tokens remembered by default: one per active user of a busy replica, about
/// 1.5 KB each (the token and its user).
const DEFAULT_TOKEN_CACHE_SIZE: usize = 10_000;

/// Auth settings.
///
/// | variable | default |
/// |---|---|
/// | `<P>_AUTH_ISSUER` | `http://127.0.0.1:9876/realms/ironvessel` |
/// | `<P>_AUTH_JWKS_URL` | `<issuer>/protocol/openid-connect/certs` |
/// | `<P>_AUTH_AUDIENCE` | `ironvessel` |
/// | `<P>_AUTH_LEEWAY_MS` | `5000`: clock skew tolerated on `exp`/`nbf` |
/// | `<P>_AUTH_TOKEN_CACHE_SIZE` | `10000`: verified tokens remembered until they expire (0: none) |
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Expected `iss`.
    pub issuer: String,
    /// Where the signing keys are published.
    pub jwks_url: String,
    /// Expected `aud` (one of the token's audiences).
    pub audience: String,
    /// Clock skew tolerance.
    pub leeway: Duration,
    /// Minimum time between two JWKS fetches triggered by unknown `kid`s.
    pub min_refresh_interval: Duration,
    /// How many verified tokens are remembered (0: every request is verified).
    pub token_cache_size: usize,
}

impl AuthConfig {
    /// Reads the section.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let issuer = env.string("AUTH_ISSUER", "http://127.0.0.1:9876/realms/ironvessel");
        Ok(Self {
            jwks_url: env.string(
                "AUTH_JWKS_URL",
                &format!("{issuer}/protocol/openid-connect/certs"),
            ),
            audience: env.string("AUTH_AUDIENCE", "ironvessel"),
            leeway: env.millis("AUTH_LEEWAY_MS", Duration::from_secs(5))?,
            min_refresh_interval: Duration::from_secs(10),
            token_cache_size: env.get("AUTH_TOKEN_CACHE_SIZE", DEFAULT_TOKEN_CACHE_SIZE)?,
            issuer,
        })
    }
}

/// The realm roles the shop knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Every registered user.
    Customer,
    /// Shop staff.
    Manager,
}

impl Role {
    /// The role's name in `realm_access.roles`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "CUSTOMER",
            Self::Manager => "MANAGER",
        }
    }
}

/// The authenticated caller: one shared record per verified token, so the extractors,
/// the request's extensions and the remembered-token cache hand it on without copying
/// the token (about 1 KB) or the roles. Its fields are [`Caller`]'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentUser(Arc<Caller>);

/// What a verified token says about its bearer.
#[derive(Debug, PartialEq, Eq)]
pub struct Caller {
    /// `sub`: the identity provider's user id, used as `customerId` everywhere.
    pub id: String,
    /// `preferred_username`.
    pub username: Option<String>,
    /// Realm roles.
    pub roles: HashSet<String>,
    /// The raw bearer token, forwarded on service-to-service calls.
    pub token: Arc<str>,
}

impl std::ops::Deref for CurrentUser {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0
    }
}

impl Caller {
    /// Whether the caller has `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(role.as_str())
    }

    /// 403 unless the caller has `role`.
    pub fn require(&self, role: Role) -> Result<(), AuthError> {
        if self.has_role(role) {
            Ok(())
        } else {
            Err(AuthError::Forbidden(role))
        }
    }
}

/// Why a request was not authenticated or authorized.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    #[error("missing bearer token")]
    Missing,
    /// The token does not validate.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// Valid token, missing role.
    #[error("this operation requires the {} role", .0.as_str())]
    Forbidden(Role),
    /// The JWKS could not be fetched.
    #[error("identity provider unavailable: {0}")]
    ProviderUnavailable(String),
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let mut response = match &self {
            Self::Missing | Self::Invalid(_) => {
                ErrorResponse::new(ErrorCode::Unauthorized, self.to_string())
            }
            Self::Forbidden(_) => ErrorResponse::new(ErrorCode::Forbidden, self.to_string()),
            Self::ProviderUnavailable(detail) => {
                ErrorResponse::unavailable("the identity provider", detail)
            }
        }
        .into_response();
        if matches!(self, Self::Missing | Self::Invalid(_)) {
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

#[derive(Debug, Deserialize)]
struct RealmAccess {
    #[serde(default)]
    roles: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Claims {
    exp: u64,
    sub: String,
    preferred_username: Option<String>,
    realm_access: Option<RealmAccess>,
}

#[derive(Debug, Default)]
struct KeyCache {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
}

/// Validates bearer tokens; cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    config: AuthConfig,
    http: reqwest::Client,
    cache: RwLock<KeyCache>,
    refresh: Mutex<()>,
    /// Tokens verified already, keyed by the token itself: a lookup hashes it (foldhash,
    /// seeded per process) and compares it whole, which costs a fraction of a SHA-256
    /// of it. Only tokens that passed verification are stored, ~1.5 KB each with their
    /// user, so the default 10,000 hold ~15 MB at most. The key is the user's own copy of
    /// the token.
    verified: Option<quick_cache::sync::Cache<Arc<str>, Verified>>,
}

/// A verified token's user, and until when it holds.
#[derive(Debug, Clone)]
struct Verified {
    /// `exp`, seconds since the epoch.
    expires: u64,
    user: CurrentUser,
}

/// Whether a token with `exp` = `expires` still holds at `now`, with the leeway a full
/// validation gives.
fn unexpired(expires: u64, leeway: Duration, now: u64) -> bool {
    now <= expires.saturating_add(leeway.as_secs())
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Keys are fetched lazily, on the first token.
    pub fn new(config: AuthConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .unwrap_or_default();
        let verified = (config.token_cache_size > 0)
            .then(|| quick_cache::sync::Cache::new(config.token_cache_size));
        Self {
            inner: Arc::new(Inner {
                config,
                http,
                cache: RwLock::new(KeyCache::default()),
                refresh: Mutex::new(()),
                verified,
            }),
        }
    }

    /// Validates `token` and returns its user.
    pub async fn authenticate(&self, token: &str) -> Result<CurrentUser, AuthError> {
        let Some(verified) = &self.inner.verified else {
            return self.verify(token).await.map(|(user, _)| user);
        };
        if let Some(known) = verified.get(token) {
            if unexpired(known.expires, self.inner.config.leeway, now_secs()) {
                return Ok(known.user);
            }
            verified.remove(token);
        }
        let (user, expires) = self.verify(token).await?;
        verified.insert(
            Arc::clone(&user.token),
            Verified {
                expires,
                user: user.clone(),
            },
        );
        Ok(user)
    }

    /// Checks signature and claims; returns the user and the token's `exp`.
    async fn verify(&self, token: &str) -> Result<(CurrentUser, u64), AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|err| AuthError::Invalid(format!("malformed token: {err}")))?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::Invalid(format!(
                "unsupported algorithm {:?}",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| AuthError::Invalid("token has no kid".to_owned()))?;
        let key = self.key(&kid).await?;
        let config = &self.inner.config;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.leeway = config.leeway.as_secs();
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|err| AuthError::Invalid(err.to_string()))?;
        let claims = data.claims;
        let user = CurrentUser(Arc::new(Caller {
            id: claims.sub,
            username: claims.preferred_username,
            roles: claims
                .realm_access
                .map(|access| access.roles.into_iter().collect())
                .unwrap_or_default(),
            token: token.into(),
        }));
        Ok((user, claims.exp))
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        if let Some(key) = self.inner.cache.read().await.keys.get(kid) {
            return Ok(key.clone());
        }
        // One refresh at a time; whoever waited re-checks the cache first.
        let _guard = self.inner.refresh.lock().await;
        {
            let cache = self.inner.cache.read().await;
            if let Some(key) = cache.keys.get(kid) {
                return Ok(key.clone());
            }
            if let Some(at) = cache.fetched_at
                && at.elapsed() < self.inner.config.min_refresh_interval
            {
                return Err(AuthError::Invalid(format!("unknown signing key {kid}")));
            }
        }
        let keys = self.fetch().await?;
        let mut cache = self.inner.cache.write().await;
        // Tokens signed by a key that is gone must not outlive it here.
        if let Some(verified) = &self.inner.verified
            && cache.keys.keys().any(|kid| !keys.contains_key(kid))
        {
            verified.clear();
        }
        cache.keys = keys;
        cache.fetched_at = Some(Instant::now());
        cache
            .keys
            .get(kid)
            .cloned()
            .ok_or_else(|| AuthError::Invalid(format!("unknown signing key {kid}")))
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, AuthError> {
        let url = &self.inner.config.jwks_url;
        let set: JwkSet = self
            .inner
            .http
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|err| AuthError::ProviderUnavailable(format!("GET {url}: {err}")))?
            .json()
            .await
            .map_err(|err| AuthError::ProviderUnavailable(format!("JWKS at {url}: {err}")))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            if let (Some(kid), Ok(key)) = (&jwk.common.key_id, DecodingKey::from_jwk(jwk)) {
                keys.insert(kid.clone(), key);
            }
        }
        tracing::info!(keys = keys.len(), jwks.url = %url, "signing keys refreshed");
        Ok(keys)
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case).
///
/// A token is ASCII; the check runs a word at a time, which matters for a ~1 KB token
/// read on every request ([`http::HeaderValue::to_str`] looks at each byte on its own).
pub fn bearer_token(headers: &http::HeaderMap) -> Result<&str, AuthError> {
    let value = headers
        .get(http::header::AUTHORIZATION)
        .ok_or(AuthError::Missing)?
        .as_bytes();
    let value = std::str::from_utf8(value)
        .ok()
        .filter(|value| value.is_ascii())
        .ok_or_else(|| AuthError::Invalid("authorization header is not ASCII".to_owned()))?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Missing)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthError::Missing);
    }
    Ok(token)
}

impl<S> FromRequestParts<S> for CurrentUser
where
    Authenticator: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<CurrentUser>() {
            return Ok(user.clone());
        }
        let token = bearer_token(&parts.headers)?;
        let user = Authenticator::from_ref(state).authenticate(token).await?;
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

/// A caller with the `CUSTOMER` role.
#[derive(Debug, Clone)]
pub struct Customer(pub CurrentUser);

/// A caller with the `MANAGER` role.
#[derive(Debug, Clone)]
pub struct Manager(pub CurrentUser);

macro_rules! role_extractor {
    ($name:ident, $role:expr) => {
        impl<S> FromRequestParts<S> for $name
        where
            Authenticator: FromRef<S>,
            S: Send + Sync,
        {
            type Rejection = AuthError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &S,
            ) -> Result<Self, Self::Rejection> {
                let user = CurrentUser::from_request_parts(parts, state).await?;
                user.require($role)?;
                Ok(Self(user))
            }
        }
    };
}

role_extractor!(Customer, Role::Customer);
role_extractor!(Manager, Role::Manager);

#[cfg(test)]
mod tests {
    use super::*;

    fn authorization(value: &[u8]) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_bytes(value).unwrap(),
        );
        headers
    }

    #[test]
    fn the_bearer_token_is_taken_from_the_authorization_header() {
        assert_eq!(
            bearer_token(&authorization(b"Bearer abc.def")).unwrap(),
            "abc.def"
        );
        assert_eq!(
            bearer_token(&authorization(b"bearer  abc ")).unwrap(),
            "abc"
        );
        assert!(matches!(
            bearer_token(&http::HeaderMap::new()),
            Err(AuthError::Missing)
        ));
        assert!(matches!(
            bearer_token(&authorization(b"Basic dXNlcjpwdw==")),
            Err(AuthError::Missing)
        ));
        assert!(matches!(
            bearer_token(&authorization(b"Bearer  ")),
            Err(AuthError::Missing)
        ));
        assert!(matches!(
            bearer_token(&authorization("Bearer t\u{f6}ken".as_bytes())),
            Err(AuthError::Invalid(_))
        ));
        assert!(matches!(
            bearer_token(&authorization(b"Bearer t\xf6ken")),
            Err(AuthError::Invalid(_))
        ));
    }

    #[test]
    fn a_remembered_token_holds_until_its_expiry_plus_the_leeway() {
        let leeway = Duration::from_secs(5);
        assert!(unexpired(1_000, leeway, 999));
        assert!(unexpired(1_000, leeway, 1_005));
        assert!(!unexpired(1_000, leeway, 1_006));
        assert!(!unexpired(1_000, Duration::ZERO, 1_001));
        assert!(unexpired(u64::MAX, leeway, u64::MAX));
    }
}
