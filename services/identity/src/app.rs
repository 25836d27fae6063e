//! The identity use cases over the [`IdentityStore`] port: realm import, the token
//! grants, introspection, the admin operations on users, and signing-key management.
//!
//! Realms are read from the store once (at start-up and after an import) and held in
//! memory; signing keys are re-read at most every [`KEY_REFRESH`], so a key rotated by
//! another process (`identity --rotate-key`) reaches every replica. Password hashing
//! and RSA signing run on the blocking pool.

use std::{
    collections::{BTreeMap, HashSet},
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    domain::{
        NewUser, Realm, User, UserUpdate,
        realm_export::RealmImport,
        search::SearchParams,
        token::{self, AccessClaims, Grant, RefreshClaims, Roles},
        user::ValidationError,
    },
    password::PasswordHasher,
    ports::{IdentityStore, StoreError, StoredKey, Unique},
    signing::{Expect, Jwks, KeyError, KeyRing, SigningKey, VerifyError},
};

/// How often the signing keys are re-read from the store.
pub const KEY_REFRESH: Duration = Duration::from_secs(5);

/// The realm-management client whose roles guard the admin API.
pub const REALM_MANAGEMENT: &str = "realm-management";

/// Settings of the use cases.
#[derive(Debug, Clone)]
pub struct IdentitySettings {
    /// The URL clients reach us at; issuers are `<public_url>/realms/<realm>`.
    pub public_url: String,
    /// Overrides every realm's `accessTokenLifespan`.
    pub access_token_lifespan: Option<Duration>,
    /// Overrides every realm's `waitIncrementSeconds`.
    pub brute_force_wait: Option<Duration>,
}

/// Why a token request failed; each maps to Keycloak's error and status.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// No such realm.
    #[error("Realm does not exist")]
    RealmNotFound,
    /// The realm is disabled.
    #[error("Realm not enabled")]
    RealmDisabled,
    /// A parameter is missing or malformed.
    #[error("{0}")]
    InvalidRequest(String),
    /// Unknown client, wrong secret, or disabled client.
    #[error("Invalid client or Invalid client credentials")]
    InvalidClient,
    /// The client may not use this grant.
    #[error("{0}")]
    UnauthorizedClient(&'static str),
    /// Not `password`, `client_credentials` or `refresh_token`.
    #[error("Unsupported grant_type")]
    UnsupportedGrantType,
    /// Unknown user or wrong password (401).
    #[error("Invalid user credentials")]
    InvalidCredentials,
    /// Disabled user (400).
    #[error("Account disabled")]
    AccountDisabled,
    /// Temporarily locked by brute-force protection (400, worded like a wrong password).
    #[error("Invalid user credentials")]
    TemporarilyLocked,
    /// The user must first replace a temporary password.
    #[error("Account is not fully set up")]
    NotFullySetUp,
    /// A refresh token that cannot be used.
    #[error("{0}")]
    InvalidGrant(&'static str),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug or a broken key.
    #[error("{0}")]
    Internal(String),
}

/// Why an admin request failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No valid bearer token.
    #[error("HTTP 401 Unauthorized")]
    Unauthorized,
    /// Valid token without the realm-management role, or for another realm.
    #[error("HTTP 403 Forbidden")]
    Forbidden,
    /// No such realm.
    #[error("Realm not found.")]
    RealmNotFound,
    /// No such user.
    #[error("User not found")]
    UserNotFound,
    /// Username or email taken.
    #[error("User exists with same {}", .0.as_str())]
    Duplicate(Unique),
    /// An attribute is invalid.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// Storage failed.
    #[error(transparent)]
    Store(StoreError),
    /// A bug.
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for AdminError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Duplicate(unique) => Self::Duplicate(unique),
            other => Self::Store(other),
        }
    }
}

/// Why a realm could not be imported or a key managed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Key generation or parsing failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Hashing failed.
    #[error("{0}")]
    Hash(String),
}

/// The token endpoint's form, client credentials already taken from the form or the
/// `Authorization: Basic` header.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    /// `grant_type`.
    pub grant_type: Option<String>,
    /// `client_id`.
    pub client_id: Option<String>,
    /// `client_secret`.
    pub client_secret: Option<SecretString>,
    /// `username` (or email).
    pub username: Option<String>,
    /// `password`.
    pub password: Option<SecretString>,
    /// `refresh_token`.
    pub refresh_token: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
}

/// A successful token response, as Keycloak writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Its lifespan in seconds.
    pub expires_in: u64,
    /// The refresh token's lifespan in seconds (0: none).
    pub refresh_expires_in: u64,
    /// The refresh token (not for client credentials).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// `Bearer`.
    pub token_type: String,
    /// The ID token (when `openid` was asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// Always 0.
    #[serde(rename = "not-before-policy")]
    pub not_before_policy: i64,
    /// The session (not for client credentials).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_state: Option<String>,
    /// Granted scopes.
    pub scope: String,
}

/// A user to create through the admin API.
#[derive(Debug, Clone)]
pub struct CreateUser {
    /// Username (required).
    pub username: String,
    /// Email.
    pub email: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Keycloak's default is false.
    pub enabled: bool,
    /// Whether the email is verified.
    pub email_verified: bool,
    /// Attributes.
    pub attributes: BTreeMap<String, Vec<String>>,
    /// Initial password and whether it is temporary.
    pub password: Option<(SecretString, bool)>,
}

/// What the admin token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// `view-users` or `manage-users`.
    View,
    /// `manage-users`.
    Manage,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// The realm.
    pub realm: String,
    /// Users created now.
    pub created: u64,
    /// Users that existed and were left alone.
    pub kept: u64,
}

#[derive(Debug, Default)]
struct LoadedKeys {
    ring: KeyRing,
    loaded_at: Option<Instant>,
}

/// The use cases; cheap to clone.
#[derive(Debug, Clone)]
pub struct Identity<S> {
    store: S,
    hasher: PasswordHasher,
    settings: Arc<IdentitySettings>,
    realms: Arc<RwLock<BTreeMap<String, Arc<Realm>>>>,
    keys: Arc<tokio::sync::RwLock<LoadedKeys>>,
}

/// The claims the admin API and introspection read from a bearer token.
#[derive(Debug, Deserialize)]
struct BearerClaims {
    iss: String,
    sub: String,
    typ: String,
    #[serde(default)]
    resource_access: BTreeMap<String, Roles>,
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| format!("blocking task failed: {err}"))
}

impl<S: IdentityStore> Identity<S> {
    /// Use cases over `store`; call [`Identity::reload`] before serving.
    pub fn new(store: S, hasher: PasswordHasher, settings: IdentitySettings) -> Self {
        Self {
            store,
            hasher,
            settings: Arc::new(settings),
            realms: Arc::default(),
            keys: Arc::default(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &IdentitySettings {
        &self.settings
    }

    /// A realm by name.
    pub fn realm(&self, name: &str) -> Option<Arc<Realm>> {
        self.realms
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// The issuer of `realm`.
    pub fn issuer(&self, realm: &Realm) -> String {
        realm.issuer(&self.settings.public_url)
    }

    /// Re-reads realms and signing keys from the store.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let realms = self.store.realms().await?;
        *self
            .realms
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = realms
            .into_iter()
            .map(|realm| (realm.name().to_owned(), Arc::new(realm)))
            .collect();
        let mut keys = self.keys.write().await;
        self.reload_keys(&mut keys).await
    }

    // ----- realm import -----

    /// Imports a parsed realm file: settings, roles and clients are replaced; users are
    /// created when missing and never changed (so a password changed since survives).
    pub async fn import_realm(&self, import: RealmImport) -> Result<ImportReport, SetupError> {
        let RealmImport { realm, users } = import;
        let name = realm.name().to_owned();
        self.store.save_realm(&realm).await?;
        let usernames: Vec<String> = users.iter().map(|u| u.user.username.clone()).collect();
        let existing: HashSet<String> = self
            .store
            .existing_usernames(&name, &usernames)
            .await?
            .into_iter()
            .collect();
        let missing: Vec<_> = users
            .into_iter()
            .filter(|u| !existing.contains(&u.user.username))
            .collect();
        let new_users = self
            .hasher
            .offload(move |hasher| {
                missing
                    .into_iter()
                    .map(|imported| {
                        let password_hash = imported
                            .password
                            .as_ref()
                            .map(|p| hasher.hash(p.expose_secret()))
                            .transpose()
                            .map_err(|err| err.to_string())?;
                        Ok(NewUser {
                            user: imported.user,
                            password_hash,
                            password_temporary: imported.temporary,
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()
            })
            .await
            .map_err(|err| err.to_string())
            .and_then(|result| result)
            .map_err(SetupError::Hash)?;
        let created = self.store.insert_missing_users(&name, &new_users).await?;
        self.reload().await?;
        Ok(ImportReport {
            realm: name,
            created,
            kept: u64::try_from(existing.len()).unwrap_or(u64::MAX),
        })
    }

    // ----- signing keys -----

    async fn reload_keys(&self, loaded: &mut LoadedKeys) -> Result<(), StoreError> {
        let stored = self.store.signing_keys(2).await?;
        let mut keys = Vec::with_capacity(stored.len());
        for key in stored {
            if let Some(known) = loaded.ring.keys().iter().find(|k| k.kid() == key.kid) {
                keys.push(known.clone());
                continue;
            }
            match SigningKey::from_pem(key.private_pem.expose_secret()) {
                Ok(parsed) => keys.push(Arc::new(parsed)),
                Err(err) => {
                    tracing::error!(key.id = %key.kid, error = %err, "stored signing key is unusable")
                }
            }
        }
        loaded.ring = KeyRing::new(keys);
        loaded.loaded_at = Some(Instant::now());
        Ok(())
    }

    /// The current key ring, re-read from the store when older than [`KEY_REFRESH`]
    /// (a failed re-read keeps the keys we have).
    pub async fn key_ring(&self) -> KeyRing {
        {
            let loaded = self.keys.read().await;
            if loaded
                .loaded_at
                .is_some_and(|at| at.elapsed() < KEY_REFRESH)
            {
                return loaded.ring.clone();
            }
        }
        let mut loaded = self.keys.write().await;
        if loaded
            .loaded_at
            .is_none_or(|at| at.elapsed() >= KEY_REFRESH)
            && let Err(err) = self.reload_keys(&mut loaded).await
        {
            tracing::warn!(error = %err, "signing keys not refreshed; keeping the loaded ones");
            loaded.loaded_at = Some(Instant::now());
        }
        loaded.ring.clone()
    }

    /// The published JWKS: the current and the previous key.
    pub async fn jwks(&self) -> Jwks {
        self.key_ring().await.jwks()
    }

    /// Makes sure a signing key exists: `configured` (stored once, when its kid is new),
    /// or a generated one when the store has none.
    pub async fn ensure_signing_key(
        &self,
        configured: Option<SigningKey>,
    ) -> Result<(), SetupError> {
        match configured {
            Some(key) => {
                let stored = stored(&key);
                if self.store.add_signing_key(&stored, false).await? {
                    tracing::info!(key.id = %stored.kid, "configured signing key installed");
                }
            }
            None if self.store.signing_keys(1).await?.is_empty() => {
                let key = blocking(SigningKey::generate)
                    .await
                    .map_err(|err| SetupError::Key(KeyError::Crypto(err)))??;
                let stored = stored(&key);
                if self.store.add_signing_key(&stored, true).await? {
                    tracing::info!(key.id = %stored.kid, "signing key generated");
                }
            }
            None => {}
        }
        let mut keys = self.keys.write().await;
        self.reload_keys(&mut keys).await?;
        Ok(())
    }

    /// Makes a new key current; the previous one stays published, so tokens it signed
    /// keep validating until they expire. Returns the new kid.
    pub async fn rotate_signing_key(&self) -> Result<String, SetupError> {
        let key = blocking(SigningKey::generate)
            .await
            .map_err(|err| SetupError::Key(KeyError::Crypto(err)))??;
        let stored = stored(&key);
        self.store.add_signing_key(&stored, false).await?;
        let mut keys = self.keys.write().await;
        self.reload_keys(&mut keys).await?;
        tracing::info!(key.id = %stored.kid, "signing key rotated");
        Ok(stored.kid)
    }

    // ----- tokens -----

    /// The token endpoint: checks the realm, the grant type and the client, then runs
    /// the grant.
    pub async fn token(
        &self,
        realm_name: &str,
        request: TokenRequest,
    ) -> Result<TokenResponse, TokenError> {
        let realm = self.realm(realm_name).ok_or(TokenError::RealmNotFound)?;
        if !realm.settings.enabled {
            return Err(TokenError::RealmDisabled);
        }
        let grant_type = request
            .grant_type
            .as_deref()
            .filter(|g| !g.is_empty())
            .ok_or_else(|| {
                TokenError::InvalidRequest("Missing form parameter: grant_type".to_owned())
            })?;
        if !matches!(
            grant_type,
            "password" | "client_credentials" | "refresh_token"
        ) {
            return Err(TokenError::UnsupportedGrantType);
        }
        let client = authenticate_client(&realm, &request)?;
        match grant_type {
            "password" => self.password_grant(&realm, client, request).await,
            "client_credentials" => self.client_credentials_grant(&realm, client, request).await,
            _ => self.refresh_grant(&realm, client, request).await,
        }
    }

    fn access_lifespan(&self, realm: &Realm) -> Duration {
        self.settings
            .access_token_lifespan
            .unwrap_or(realm.settings.access_token_lifespan)
    }

    async fn password_grant(
        &self,
        realm: &Realm,
        client: &crate::domain::Client,
        request: TokenRequest,
    ) -> Result<TokenResponse, TokenError> {
        if !client.direct_access_grants_enabled {
            return Err(TokenError::UnauthorizedClient(
                "Client not allowed for direct access grants",
            ));
        }
        let username = request
            .username
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| TokenError::InvalidRequest("Missing parameter: username".to_owned()))?
            .to_lowercase();
        let password = request
            .password
            .filter(|p| !p.expose_secret().is_empty())
            .ok_or_else(|| TokenError::InvalidRequest("Missing parameter: password".to_owned()))?;
        let found = self
            .store
            .find_login(
                realm.name(),
                &username,
                realm.settings.login_with_email_allowed,
            )
            .await?;
        let Some(record) = found.filter(|r| r.user.service_account_client.is_none()) else {
            self.hasher
                .offload(move |hasher| hasher.verify_decoy(password.expose_secret()))
                .await
                .map_err(|err| TokenError::Internal(err.to_string()))?;
            tracing::info!(realm = realm.name(), user.name = %username, "login failed: unknown user");
            return Err(TokenError::InvalidCredentials);
        };
        let user_id = record.user.id;
        if !record.user.enabled {
            tracing::info!(realm = realm.name(), user.id = %user_id, "login refused: account disabled");
            return Err(TokenError::AccountDisabled);
        }
        let now = Utc::now();
        if record.failures.is_locked(now) {
            tracing::warn!(
                realm = realm.name(), user.id = %user_id,
                locked_until = ?record.failures.locked_until,
                "login refused: user temporarily locked by brute-force protection"
            );
            return Err(TokenError::TemporarilyLocked);
        }
        let matches = match record.password_hash.clone() {
            Some(hash) => self
                .hasher
                .offload(move |hasher| hasher.verify(password.expose_secret(), &hash))
                .await
                .map_err(|err| TokenError::Internal(err.to_string()))?,
            None => false,
        };
        if !matches {
            self.count_failure(realm, user_id).await?;
            return Err(TokenError::InvalidCredentials);
        }
        if record.failures.count > 0 || record.failures.locked_until.is_some() {
            self.store.reset_failures(realm.name(), user_id).await?;
        }
        if record.password_temporary {
            return Err(TokenError::NotFullySetUp);
        }
        self.issue(
            realm,
            client,
            &record.user,
            Some(Uuid::new_v4()),
            request.scope.as_deref(),
            true,
        )
        .await
    }

    async fn count_failure(&self, realm: &Realm, user_id: Uuid) -> Result<(), TokenError> {
        let mut policy = realm.settings.brute_force.clone();
        if let Some(wait) = self.settings.brute_force_wait {
            policy.wait_increment = wait;
        }
        let now = Utc::now();
        let failures = self
            .store
            .record_failure(
                realm.name(),
                user_id,
                now,
                policy.forget_failures_before(now),
            )
            .await?;
        tracing::info!(realm = realm.name(), user.id = %user_id, failures, "login failed: wrong password");
        if let Some(wait) = policy.lock_duration(failures) {
            let until = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
            self.store.lock_until(realm.name(), user_id, until).await?;
            tracing::warn!(
                realm = realm.name(), user.id = %user_id, failures, lock_s = wait.as_secs(),
                "user temporarily locked by brute-force protection"
            );
        }
        Ok(())
    }

    async fn client_credentials_grant(
        &self,
        realm: &Realm,
        client: &crate::domain::Client,
        request: TokenRequest,
    ) -> Result<TokenResponse, TokenError> {
        if client.public_client {
            return Err(TokenError::UnauthorizedClient(
                "Public client not allowed to retrieve service account",
            ));
        }
        if !client.service_accounts_enabled {
            return Err(TokenError::UnauthorizedClient(
                "Client not enabled to retrieve service account",
            ));
        }
        let user = self
            .store
            .find_service_account(realm.name(), &client.client_id)
            .await?
            .ok_or(TokenError::UnauthorizedClient(
                "Client not enabled to retrieve service account",
            ))?;
        if !user.enabled {
            return Err(TokenError::AccountDisabled);
        }
        self.issue(realm, client, &user, None, request.scope.as_deref(), false)
            .await
    }

    async fn refresh_grant(
        &self,
        realm: &Realm,
        client: &crate::domain::Client,
        request: TokenRequest,
    ) -> Result<TokenResponse, TokenError> {
        let token = request
            .refresh_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                TokenError::InvalidRequest("Missing parameter: refresh_token".to_owned())
            })?;
        let issuer = self.issuer(realm);
        let claims: RefreshClaims = self
            .key_ring()
            .await
            .verify(
                token,
                Expect {
                    issuer: Some(&issuer),
                    audience: Some(&issuer),
                },
            )
            .map_err(|err| {
                tracing::info!(realm = realm.name(), error = %err, "refresh token rejected");
                TokenError::InvalidGrant("Invalid refresh token")
            })?;
        if claims.typ != token::REFRESH {
            return Err(TokenError::InvalidGrant("Invalid refresh token"));
        }
        if claims.azp != client.client_id {
            return Err(TokenError::InvalidGrant(
                "Invalid refresh token. Token client and authorized client don't match",
            ));
        }
        let id: Uuid = claims
            .sub
            .parse()
            .map_err(|_| TokenError::InvalidGrant("Invalid refresh token"))?;
        let record = self
            .store
            .find_login_by_id(realm.name(), id)
            .await?
            .ok_or(TokenError::InvalidGrant("Invalid refresh token"))?;
        if !record.user.enabled {
            return Err(TokenError::InvalidGrant("User disabled"));
        }
        if record.failures.is_locked(Utc::now()) {
            return Err(TokenError::InvalidGrant("User temporarily disabled"));
        }
        let session = claims.sid.parse().ok().or_else(|| Some(Uuid::new_v4()));
        self.issue(
            realm,
            client,
            &record.user,
            session,
            Some(&claims.scope),
            true,
        )
        .await
    }

    async fn issue(
        &self,
        realm: &Realm,
        client: &crate::domain::Client,
        user: &User,
        session: Option<Uuid>,
        scope: Option<&str>,
        with_refresh: bool,
    ) -> Result<TokenResponse, TokenError> {
        let issuer = self.issuer(realm);
        let access_lifespan = self.access_lifespan(realm);
        let refresh_lifespan = with_refresh.then_some(realm.settings.sso_session_idle_timeout);
        let claims = Grant {
            issuer: &issuer,
            client,
            user,
            realm_roles: realm.effective_realm_roles(&user.realm_roles),
            session,
            scope: token::granted_scope(scope),
            now: Utc::now(),
            access_lifespan,
            refresh_lifespan,
        }
        .claims();
        let key = self
            .key_ring()
            .await
            .current()
            .cloned()
            .ok_or_else(|| TokenError::Internal("no signing key".to_owned()))?;
        let scope = claims.access.scope.clone();
        let (access, refresh, id) = blocking(move || {
            Ok::<_, KeyError>((
                key.sign(&claims.access)?,
                claims.refresh.as_ref().map(|c| key.sign(c)).transpose()?,
                claims.id.as_ref().map(|c| key.sign(c)).transpose()?,
            ))
        })
        .await
        .map_err(TokenError::Internal)?
        .map_err(|err| TokenError::Internal(err.to_string()))?;
        Ok(TokenResponse {
            access_token: access,
            expires_in: access_lifespan.as_secs(),
            refresh_expires_in: refresh_lifespan.map_or(0, |l| l.as_secs()),
            refresh_token: refresh,
            token_type: token::BEARER.to_owned(),
            id_token: id,
            not_before_policy: 0,
            session_state: session.filter(|_| with_refresh).map(|s| s.to_string()),
            scope,
        })
    }

    /// Token introspection (RFC 7662) for a confidential client: the token's claims
    /// with `active: true`, or just `active: false`.
    pub async fn introspect(
        &self,
        realm_name: &str,
        request: &TokenRequest,
        token: Option<&str>,
    ) -> Result<serde_json::Value, TokenError> {
        let realm = self.realm(realm_name).ok_or(TokenError::RealmNotFound)?;
        let client = authenticate_client(&realm, request)?;
        if client.public_client {
            return Err(TokenError::UnauthorizedClient(
                "Public client is not permitted to invoke introspection endpoint",
            ));
        }
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| TokenError::InvalidRequest("Missing parameter: token".to_owned()))?;
        let inactive = serde_json::json!({"active": false});
        let Ok(claims) = self.verify_access_token(&realm, token).await else {
            return Ok(inactive);
        };
        let Ok(mut value) = serde_json::to_value(&claims) else {
            return Ok(inactive);
        };
        if let Some(object) = value.as_object_mut() {
            object.insert("active".to_owned(), true.into());
            object.insert("client_id".to_owned(), claims.azp.clone().into());
            object.insert(
                "username".to_owned(),
                claims.profile.preferred_username.clone().into(),
            );
            object.insert("token_type".to_owned(), token::BEARER.into());
        }
        Ok(value)
    }

    /// The claims of a valid access token of `realm` whose user still exists and is enabled.
    pub async fn verify_access_token(
        &self,
        realm: &Realm,
        token: &str,
    ) -> Result<AccessClaims, VerifyError> {
        let issuer = self.issuer(realm);
        let claims: AccessClaims = self.key_ring().await.verify(
            token,
            Expect {
                issuer: Some(&issuer),
                audience: None,
            },
        )?;
        if claims.typ != token::BEARER {
            return Err(VerifyError::Invalid(format!("typ {}", claims.typ)));
        }
        let id = claims
            .sub
            .parse::<Uuid>()
            .map_err(|_| VerifyError::Invalid("sub is not a user id".to_owned()))?;
        match self.store.find_login_by_id(realm.name(), id).await {
            Ok(Some(record)) if record.user.enabled => Ok(claims),
            Ok(_) => Err(VerifyError::Invalid("user unknown or disabled".to_owned())),
            Err(err) => Err(VerifyError::Invalid(err.to_string())),
        }
    }

    // ----- admin -----

    /// Checks the admin bearer token: valid, from `realm_name`, with the permission.
    pub async fn authorize(
        &self,
        realm_name: &str,
        bearer: Option<&str>,
        permission: Permission,
    ) -> Result<Arc<Realm>, AdminError> {
        let token = bearer.ok_or(AdminError::Unauthorized)?;
        let claims: BearerClaims = self
            .key_ring()
            .await
            .verify(token, Expect::default())
            .map_err(|_| AdminError::Unauthorized)?;
        if claims.typ != token::BEARER {
            return Err(AdminError::Unauthorized);
        }
        let token_realm = {
            let realms = self
                .realms
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            realms
                .values()
                .find(|r| self.issuer(r) == claims.iss)
                .cloned()
        };
        let token_realm = token_realm.ok_or(AdminError::Unauthorized)?;
        let realm = self.realm(realm_name).ok_or(AdminError::RealmNotFound)?;
        if token_realm.name() != realm.name() {
            return Err(AdminError::Forbidden);
        }
        let roles = claims
            .resource_access
            .get(REALM_MANAGEMENT)
            .map(|r| r.roles.as_slice())
            .unwrap_or_default();
        let has = |role: &str| roles.iter().any(|r| r == role);
        let allowed = match permission {
            Permission::View => has("view-users") || has("manage-users"),
            Permission::Manage => has("manage-users"),
        };
        if !allowed {
            tracing::info!(realm = realm.name(), user.id = %claims.sub, ?permission, "admin request forbidden");
            return Err(AdminError::Forbidden);
        }
        Ok(realm)
    }

    /// A page of users.
    pub async fn list_users(
        &self,
        realm: &Realm,
        params: &SearchParams,
    ) -> Result<Vec<User>, AdminError> {
        Ok(self.store.list_users(realm.name(), &params.query()).await?)
    }

    /// How many users match.
    pub async fn count_users(
        &self,
        realm: &Realm,
        params: &SearchParams,
    ) -> Result<i64, AdminError> {
        Ok(self
            .store
            .count_users(realm.name(), &params.query())
            .await?)
    }

    /// One user (service accounts included, as in Keycloak).
    pub async fn get_user(&self, realm: &Realm, id: &str) -> Result<User, AdminError> {
        let id: Uuid = id.parse().map_err(|_| AdminError::UserNotFound)?;
        self.store
            .find_login_by_id(realm.name(), id)
            .await?
            .map(|record| record.user)
            .ok_or(AdminError::UserNotFound)
    }

    /// Applies a partial update.
    pub async fn update_user(
        &self,
        realm: &Realm,
        id: &str,
        update: &UserUpdate,
    ) -> Result<(), AdminError> {
        let mut user = self.get_user(realm, id).await?;
        update.apply(&mut user);
        if self.store.save_profile(realm.name(), &user).await? {
            Ok(())
        } else {
            Err(AdminError::UserNotFound)
        }
    }

    /// Creates a user with the realm's default role; returns the id.
    pub async fn create_user(
        &self,
        realm: &Realm,
        request: CreateUser,
    ) -> Result<Uuid, AdminError> {
        let username = crate::domain::user::username(&request.username)?;
        let email = crate::domain::user::email(request.email.as_deref())?;
        let first_name = crate::domain::user::name("firstName", request.first_name.as_deref())?;
        let last_name = crate::domain::user::name("lastName", request.last_name.as_deref())?;
        let (password_hash, password_temporary) = match request.password {
            Some((password, temporary)) => {
                let hash = self
                    .hasher
                    .offload(move |hasher| hasher.hash(password.expose_secret()))
                    .await
                    .and_then(|hash| hash)
                    .map_err(|err| AdminError::Internal(err.to_string()))?;
                (Some(hash), temporary)
            }
            None => (None, false),
        };
        let id = Uuid::new_v4();
        let user = NewUser {
            user: User {
                id,
                username,
                email,
                email_verified: request.email_verified,
                first_name,
                last_name,
                enabled: request.enabled,
                created_timestamp: Utc::now().timestamp_millis(),
                attributes: request.attributes,
                realm_roles: vec![realm.settings.default_role.clone()],
                client_roles: BTreeMap::new(),
                service_account_client: None,
            },
            password_hash,
            password_temporary,
        };
        self.store.create_user(realm.name(), &user).await?;
        Ok(id)
    }

    /// Sets a user's password.
    pub async fn reset_password(
        &self,
        realm: &Realm,
        id: &str,
        password: SecretString,
        temporary: bool,
    ) -> Result<(), AdminError> {
        let id: Uuid = id.parse().map_err(|_| AdminError::UserNotFound)?;
        let hash = self
            .hasher
            .offload(move |hasher| hasher.hash(password.expose_secret()))
            .await
            .and_then(|hash| hash)
            .map_err(|err| AdminError::Internal(err.to_string()))?;
        if self
            .store
            .set_password(realm.name(), id, &hash, temporary)
            .await?
        {
            Ok(())
        } else {
            Err(AdminError::UserNotFound)
        }
    }
}

fn stored(key: &SigningKey) -> StoredKey {
    StoredKey {
        kid: key.kid().to_owned(),
        private_pem: key.private_pem().clone(),
    }
}

/// Authenticates the client by id and, for confidential clients, secret.
fn authenticate_client<'r>(
    realm: &'r Realm,
    request: &TokenRequest,
) -> Result<&'r crate::domain::Client, TokenError> {
    let client_id = request
        .client_id
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| TokenError::InvalidRequest("Missing parameter: client_id".to_owned()))?;
    let client = realm.client(client_id).ok_or_else(|| {
        tracing::info!(
            realm = realm.name(),
            client.id = client_id,
            "unknown client"
        );
        TokenError::InvalidClient
    })?;
    if !client.enabled {
        return Err(TokenError::InvalidClient);
    }
    if !client.public_client {
        let secret = request
            .client_secret
            .as_ref()
            .map(ExposeSecret::expose_secret)
            .ok_or(TokenError::InvalidClient)?;
        if !client.secret_matches(secret) {
            tracing::info!(
                realm = realm.name(),
                client.id = client_id,
                "wrong client secret"
            );
            return Err(TokenError::InvalidClient);
        }
    }
    Ok(client)
}
