//! What the use cases need from the outside world: one store for realms, users and
//! signing keys.

use std::future::Future;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use uuid::Uuid;

use crate::domain::{NewUser, Realm, User, search::UserQuery, user::LoginRecord};

/// A storage failure, already translated from the driver's error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached; the client may retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A unique attribute is taken.
    #[error("a user with the same {} exists", .0.as_str())]
    Duplicate(Unique),
    /// Anything else (a bug).
    #[error("database error: {0}")]
    Other(String),
}

/// The unique attributes of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unique {
    /// The username (or the id).
    Username,
    /// The email.
    Email,
}

impl Unique {
    /// `username` or `email`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Username => "username",
            Self::Email => "email",
        }
    }
}

/// A stored signing key.
#[derive(Debug, Clone)]
pub struct StoredKey {
    /// Key id.
    pub kid: String,
    /// PKCS#1 PEM of the private key.
    pub private_pem: SecretString,
}

/// Realms, users and keys in storage.
pub trait IdentityStore: Clone + Send + Sync + 'static {
    /// Creates or replaces the realm's settings, roles and clients (users untouched).
    fn save_realm(&self, realm: &Realm) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every realm.
    fn realms(&self) -> impl Future<Output = Result<Vec<Realm>, StoreError>> + Send;

    /// Which of `usernames` exist in the realm.
    fn existing_usernames(
        &self,
        realm: &str,
        usernames: &[String],
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Inserts the users whose id, username and email are all free; returns how many.
    fn insert_missing_users(
        &self,
        realm: &str,
        users: &[NewUser],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Creates one user.
    fn create_user(
        &self,
        realm: &str,
        user: &NewUser,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A user and their login data, by username or (when `by_email`) email.
    fn find_login(
        &self,
        realm: &str,
        username_or_email: &str,
        by_email: bool,
    ) -> impl Future<Output = Result<Option<LoginRecord>, StoreError>> + Send;

    /// A user and their login data, by id.
    fn find_login_by_id(
        &self,
        realm: &str,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<LoginRecord>, StoreError>> + Send;

    /// The service-account user of a client.
    fn find_service_account(
        &self,
        realm: &str,
        client_id: &str,
    ) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;

    /// Counts a failed login at `now`, forgetting earlier failures older than
    /// `forget_before`; returns the consecutive failures.
    fn record_failure(
        &self,
        realm: &str,
        id: Uuid,
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> impl Future<Output = Result<u32, StoreError>> + Send;

    /// Locks logins of the user until `until`.
    fn lock_until(
        &self,
        realm: &str,
        id: Uuid,
        until: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Forgets the user's failed logins (and any lock).
    fn reset_failures(
        &self,
        realm: &str,
        id: Uuid,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A page of users (never service accounts), by username.
    fn list_users(
        &self,
        realm: &str,
        query: &UserQuery,
    ) -> impl Future<Output = Result<Vec<User>, StoreError>> + Send;

    /// How many users (never service accounts) match.
    fn count_users(
        &self,
        realm: &str,
        query: &UserQuery,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// Stores the user's profile: enabled, emailVerified, names, email, attributes.
    fn save_profile(
        &self,
        realm: &str,
        user: &User,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Sets the user's password; false when there is no such user.
    fn set_password(
        &self,
        realm: &str,
        id: Uuid,
        hash: &str,
        temporary: bool,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The newest `limit` signing keys, newest (current) first.
    fn signing_keys(
        &self,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<StoredKey>, StoreError>> + Send;

    /// Adds `key` as the current key unless one with its kid exists, or (when
    /// `only_if_none`) unless any key exists; true when added. Concurrent callers are
    /// serialised, so two replicas starting together agree on one key.
    fn add_signing_key(
        &self,
        key: &StoredKey,
        only_if_none: bool,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
