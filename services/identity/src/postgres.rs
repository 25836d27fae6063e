//! The Postgres adapter: realms, users and signing keys. `sqlx::Error` stops here; the
//! use cases see [`StoreError`] (a unique violation becomes [`StoreError::Duplicate`]).

use std::{future::Future, pin::Pin, time::Duration};

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use sqlx::{PgPool, Row, migrate::Migrator, postgres::PgRow, types::Json};
use uuid::Uuid;

use crate::{
    domain::{
        BruteForcePolicy, Client, LoginFailures, NewUser, Realm, RealmSettings, Role, User,
        search::UserQuery,
        user::{Attributes, ClientRoles, LoginRecord},
    },
    ports::{IdentityStore, StoreError, StoredKey, Unique},
};

/// The service's migrations.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Runs the platform's and the service's migrations.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    platform::postgres::migrate(pool, &MIGRATOR).await
}

/// [`migrate`] in the shape `testkit::TestDatabase::create` takes, so other services'
/// tests can build an identity database:
/// `TestDatabase::create("identity", &fingerprint, identity::postgres::migrate_boxed)`.
pub fn migrate_boxed(
    pool: &PgPool,
) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + '_>> {
    Box::pin(async move { migrate(pool).await.map_err(Into::into) })
}

/// The schema fingerprint for test template databases.
pub fn schema_fingerprint() -> String {
    platform::postgres::schema_fingerprint(&MIGRATOR)
}

fn store_error(err: sqlx::Error) -> StoreError {
    if platform::postgres::is_unavailable(&err) {
        return StoreError::Unavailable(err.to_string());
    }
    if let sqlx::Error::Database(db) = &err
        && db.is_unique_violation()
    {
        return StoreError::Duplicate(match db.constraint() {
            Some("user_entity_email") => Unique::Email,
            _ => Unique::Username,
        });
    }
    StoreError::Other(err.to_string())
}

fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

fn duration(seconds: i64) -> Duration {
    Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
}

/// The user columns, as a macro so queries stay `&'static str` (sqlx refuses dynamic SQL).
macro_rules! user_columns {
    () => {
        "id, username, email, email_verified, first_name, last_name, enabled, created_timestamp,
         attributes, realm_roles, client_roles, service_account_client"
    };
}

/// The listing filter: `$1` realm, `$2` search patterns, `$3`–`$6` username, email,
/// first and last name patterns, `$7` enabled.
macro_rules! user_filter {
    () => {
        " WHERE realm = $1 AND service_account_client IS NULL
            AND NOT EXISTS (
                SELECT 1 FROM unnest($2::text[]) AS term(pattern)
                WHERE NOT (username LIKE term.pattern
                    OR coalesce(email, '') LIKE term.pattern
                    OR lower(coalesce(first_name, '')) LIKE term.pattern
                    OR lower(coalesce(last_name, '')) LIKE term.pattern))
            AND ($3::text IS NULL OR username LIKE $3)
            AND ($4::text IS NULL OR email LIKE $4)
            AND ($5::text IS NULL OR lower(first_name) LIKE $5)
            AND ($6::text IS NULL OR lower(last_name) LIKE $6)
            AND ($7::boolean IS NULL OR enabled = $7) "
    };
}

fn user(row: &PgRow) -> Result<User, sqlx::Error> {
    let Json(attributes): Json<Attributes> = row.try_get("attributes")?;
    let Json(client_roles): Json<ClientRoles> = row.try_get("client_roles")?;
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        email: row.try_get("email")?,
        email_verified: row.try_get("email_verified")?,
        first_name: row.try_get("first_name")?,
        last_name: row.try_get("last_name")?,
        enabled: row.try_get("enabled")?,
        created_timestamp: row.try_get("created_timestamp")?,
        attributes,
        realm_roles: row.try_get("realm_roles")?,
        client_roles,
        service_account_client: row.try_get("service_account_client")?,
    })
}

fn login(row: &PgRow) -> Result<LoginRecord, sqlx::Error> {
    let failed: i32 = row.try_get("failed_logins")?;
    Ok(LoginRecord {
        user: user(row)?,
        password_hash: row.try_get("password_hash")?,
        password_temporary: row.try_get("password_temporary")?,
        failures: LoginFailures {
            count: u32::try_from(failed).unwrap_or(0),
            locked_until: row.try_get("locked_until")?,
        },
    })
}

/// Realms, users and keys in Postgres.
#[derive(Debug, Clone)]
pub struct PgIdentityStore {
    pool: PgPool,
}

impl PgIdentityStore {
    /// A store over `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

async fn insert_user(
    executor: impl sqlx::PgExecutor<'_>,
    realm: &str,
    new: &NewUser,
    skip_conflicts: bool,
) -> Result<u64, sqlx::Error> {
    let user = &new.user;
    let query = if skip_conflicts {
        "INSERT INTO user_entity (id, realm, username, email, email_verified, first_name, last_name,
             enabled, created_timestamp, attributes, realm_roles, client_roles, service_account_client,
             password_hash, password_temporary)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         ON CONFLICT DO NOTHING"
    } else {
        "INSERT INTO user_entity (id, realm, username, email, email_verified, first_name, last_name,
             enabled, created_timestamp, attributes, realm_roles, client_roles, service_account_client,
             password_hash, password_temporary)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    };
    sqlx::query(query)
        .bind(user.id)
        .bind(realm)
        .bind(&user.username)
        .bind(&user.email)
        .bind(user.email_verified)
        .bind(&user.first_name)
        .bind(&user.last_name)
        .bind(user.enabled)
        .bind(user.created_timestamp)
        .bind(Json(&user.attributes))
        .bind(&user.realm_roles)
        .bind(Json(&user.client_roles))
        .bind(&user.service_account_client)
        .bind(&new.password_hash)
        .bind(new.password_temporary)
        .execute(executor)
        .await
        .map(|result| result.rows_affected())
}

impl IdentityStore for PgIdentityStore {
    async fn save_realm(&self, realm: &Realm) -> Result<(), StoreError> {
        let settings = &realm.settings;
        let name = realm.name();
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        sqlx::query(
            "INSERT INTO realm (name, enabled, access_token_lifespan_s, sso_session_idle_timeout_s,
                 login_with_email_allowed, brute_force_protected, failure_factor, wait_increment_s,
                 max_failure_wait_s, max_delta_time_s, default_role)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (name) DO UPDATE SET
                 enabled = EXCLUDED.enabled,
                 access_token_lifespan_s = EXCLUDED.access_token_lifespan_s,
                 sso_session_idle_timeout_s = EXCLUDED.sso_session_idle_timeout_s,
                 login_with_email_allowed = EXCLUDED.login_with_email_allowed,
                 brute_force_protected = EXCLUDED.brute_force_protected,
                 failure_factor = EXCLUDED.failure_factor,
                 wait_increment_s = EXCLUDED.wait_increment_s,
                 max_failure_wait_s = EXCLUDED.max_failure_wait_s,
                 max_delta_time_s = EXCLUDED.max_delta_time_s,
                 default_role = EXCLUDED.default_role,
                 imported_at = now()",
        )
        .bind(name)
        .bind(settings.enabled)
        .bind(seconds(settings.access_token_lifespan))
        .bind(seconds(settings.sso_session_idle_timeout))
        .bind(settings.login_with_email_allowed)
        .bind(settings.brute_force.enabled)
        .bind(i32::try_from(settings.brute_force.failure_factor).unwrap_or(i32::MAX))
        .bind(seconds(settings.brute_force.wait_increment))
        .bind(seconds(settings.brute_force.max_failure_wait))
        .bind(seconds(settings.brute_force.max_delta_time))
        .bind(&settings.default_role)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        // The file is authoritative for roles and clients: what it no longer lists goes.
        for statement in [
            "DELETE FROM realm_role WHERE realm = $1",
            "DELETE FROM client WHERE realm = $1",
        ] {
            sqlx::query(statement)
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
        }
        for role in realm.roles.values() {
            sqlx::query(
                "INSERT INTO realm_role (realm, name, description, composites) VALUES ($1, $2, $3, $4)",
            )
            .bind(name)
            .bind(&role.name)
            .bind(&role.description)
            .bind(&role.composites)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        }
        for client in realm.clients.values() {
            sqlx::query(
                "INSERT INTO client (realm, client_id, enabled, public_client, secret,
                     direct_access_grants_enabled, service_accounts_enabled, standard_flow_enabled,
                     redirect_uris, audiences)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(name)
            .bind(&client.client_id)
            .bind(client.enabled)
            .bind(client.public_client)
            .bind(client.secret.as_ref().map(|s| s.expose_secret().to_owned()))
            .bind(client.direct_access_grants_enabled)
            .bind(client.service_accounts_enabled)
            .bind(client.standard_flow_enabled)
            .bind(&client.redirect_uris)
            .bind(&client.audiences)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)
    }

    async fn realms(&self) -> Result<Vec<Realm>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let settings = sqlx::query("SELECT * FROM realm ORDER BY name")
            .try_map(|row: PgRow| {
                let failure_factor: i32 = row.try_get("failure_factor")?;
                Ok(RealmSettings {
                    name: row.try_get("name")?,
                    enabled: row.try_get("enabled")?,
                    access_token_lifespan: duration(row.try_get("access_token_lifespan_s")?),
                    sso_session_idle_timeout: duration(row.try_get("sso_session_idle_timeout_s")?),
                    login_with_email_allowed: row.try_get("login_with_email_allowed")?,
                    brute_force: BruteForcePolicy {
                        enabled: row.try_get("brute_force_protected")?,
                        failure_factor: u32::try_from(failure_factor).unwrap_or(0),
                        wait_increment: duration(row.try_get("wait_increment_s")?),
                        max_failure_wait: duration(row.try_get("max_failure_wait_s")?),
                        max_delta_time: duration(row.try_get("max_delta_time_s")?),
                    },
                    default_role: row.try_get("default_role")?,
                })
            })
            .fetch_all(&mut *conn)
            .await
            .map_err(store_error)?;
        let roles = sqlx::query("SELECT realm, name, description, composites FROM realm_role")
            .try_map(|row: PgRow| {
                Ok((
                    row.try_get::<String, _>("realm")?,
                    Role {
                        name: row.try_get("name")?,
                        description: row.try_get("description")?,
                        composites: row.try_get("composites")?,
                    },
                ))
            })
            .fetch_all(&mut *conn)
            .await
            .map_err(store_error)?;
        let clients = sqlx::query("SELECT * FROM client")
            .try_map(|row: PgRow| {
                let secret: Option<String> = row.try_get("secret")?;
                Ok((
                    row.try_get::<String, _>("realm")?,
                    Client {
                        client_id: row.try_get("client_id")?,
                        enabled: row.try_get("enabled")?,
                        public_client: row.try_get("public_client")?,
                        secret: secret.map(SecretString::from),
                        direct_access_grants_enabled: row
                            .try_get("direct_access_grants_enabled")?,
                        service_accounts_enabled: row.try_get("service_accounts_enabled")?,
                        standard_flow_enabled: row.try_get("standard_flow_enabled")?,
                        redirect_uris: row.try_get("redirect_uris")?,
                        audiences: row.try_get("audiences")?,
                    },
                ))
            })
            .fetch_all(&mut *conn)
            .await
            .map_err(store_error)?;
        Ok(settings
            .into_iter()
            .map(|settings| Realm {
                roles: roles
                    .iter()
                    .filter(|(realm, _)| *realm == settings.name)
                    .map(|(_, role)| (role.name.clone(), role.clone()))
                    .collect(),
                clients: clients
                    .iter()
                    .filter(|(realm, _)| *realm == settings.name)
                    .map(|(_, client)| (client.client_id.clone(), client.clone()))
                    .collect(),
                settings,
            })
            .collect())
    }

    async fn existing_usernames(
        &self,
        realm: &str,
        usernames: &[String],
    ) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT username FROM user_entity WHERE realm = $1 AND username = ANY($2)",
        )
        .bind(realm)
        .bind(usernames)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)
    }

    async fn insert_missing_users(
        &self,
        realm: &str,
        users: &[NewUser],
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let mut created = 0;
        for user in users {
            created += insert_user(&mut *tx, realm, user, true)
                .await
                .map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)?;
        Ok(created)
    }

    async fn create_user(&self, realm: &str, user: &NewUser) -> Result<(), StoreError> {
        insert_user(&self.pool, realm, user, false)
            .await
            .map(drop)
            .map_err(store_error)
    }

    async fn find_login(
        &self,
        realm: &str,
        username_or_email: &str,
        by_email: bool,
    ) -> Result<Option<LoginRecord>, StoreError> {
        // The username wins over another user's equal email.
        sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            ", password_hash, password_temporary, failed_logins, locked_until
             FROM user_entity
             WHERE realm = $1 AND (username = $2 OR ($3 AND email = $2))
             ORDER BY username = $2 DESC LIMIT 1"
        ))
        .bind(realm)
        .bind(username_or_email)
        .bind(by_email)
        .try_map(|row: PgRow| login(&row))
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)
    }

    async fn find_login_by_id(
        &self,
        realm: &str,
        id: Uuid,
    ) -> Result<Option<LoginRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            ", password_hash, password_temporary, failed_logins, locked_until
             FROM user_entity WHERE realm = $1 AND id = $2"
        ))
        .bind(realm)
        .bind(id)
        .try_map(|row: PgRow| login(&row))
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)
    }

    async fn find_service_account(
        &self,
        realm: &str,
        client_id: &str,
    ) -> Result<Option<User>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM user_entity WHERE realm = $1 AND service_account_client = $2"
        ))
        .bind(realm)
        .bind(client_id)
        .try_map(|row: PgRow| user(&row))
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)
    }

    async fn record_failure(
        &self,
        realm: &str,
        id: Uuid,
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        let failures: Option<i32> = sqlx::query_scalar(
            "UPDATE user_entity SET
                 failed_logins = CASE WHEN last_failure_at IS NULL OR last_failure_at < $4
                                      THEN 1 ELSE failed_logins + 1 END,
                 last_failure_at = $3
             WHERE realm = $1 AND id = $2
             RETURNING failed_logins",
        )
        .bind(realm)
        .bind(id)
        .bind(now)
        .bind(forget_before)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(failures.map_or(0, |f| u32::try_from(f).unwrap_or(0)))
    }

    async fn lock_until(
        &self,
        realm: &str,
        id: Uuid,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE user_entity SET locked_until = $3 WHERE realm = $1 AND id = $2")
            .bind(realm)
            .bind(id)
            .bind(until)
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(store_error)
    }

    async fn reset_failures(&self, realm: &str, id: Uuid) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE user_entity SET failed_logins = 0, last_failure_at = NULL, locked_until = NULL
             WHERE realm = $1 AND id = $2",
        )
        .bind(realm)
        .bind(id)
        .execute(&self.pool)
        .await
        .map(drop)
        .map_err(store_error)
    }

    async fn list_users(&self, realm: &str, query: &UserQuery) -> Result<Vec<User>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM user_entity",
            user_filter!(),
            "ORDER BY username LIMIT $8 OFFSET $9"
        ))
        .bind(realm)
        .bind(&query.search)
        .bind(&query.username)
        .bind(&query.email)
        .bind(&query.first_name)
        .bind(&query.last_name)
        .bind(query.enabled)
        .bind(query.max)
        .bind(query.first)
        .try_map(|row: PgRow| user(&row))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)
    }

    async fn count_users(&self, realm: &str, query: &UserQuery) -> Result<i64, StoreError> {
        sqlx::query_scalar(concat!("SELECT count(*) FROM user_entity", user_filter!()))
            .bind(realm)
            .bind(&query.search)
            .bind(&query.username)
            .bind(&query.email)
            .bind(&query.first_name)
            .bind(&query.last_name)
            .bind(query.enabled)
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)
    }

    async fn save_profile(&self, realm: &str, user: &User) -> Result<bool, StoreError> {
        sqlx::query(
            "UPDATE user_entity SET enabled = $3, email_verified = $4, first_name = $5,
                 last_name = $6, email = $7, attributes = $8
             WHERE realm = $1 AND id = $2",
        )
        .bind(realm)
        .bind(user.id)
        .bind(user.enabled)
        .bind(user.email_verified)
        .bind(&user.first_name)
        .bind(&user.last_name)
        .bind(&user.email)
        .bind(Json(&user.attributes))
        .execute(&self.pool)
        .await
        .map(|result| result.rows_affected() == 1)
        .map_err(store_error)
    }

    async fn set_password(
        &self,
        realm: &str,
        id: Uuid,
        hash: &str,
        temporary: bool,
    ) -> Result<bool, StoreError> {
        sqlx::query(
            "UPDATE user_entity SET password_hash = $3, password_temporary = $4
             WHERE realm = $1 AND id = $2",
        )
        .bind(realm)
        .bind(id)
        .bind(hash)
        .bind(temporary)
        .execute(&self.pool)
        .await
        .map(|result| result.rows_affected() == 1)
        .map_err(store_error)
    }

    async fn signing_keys(&self, limit: i64) -> Result<Vec<StoredKey>, StoreError> {
        sqlx::query("SELECT kid, private_key_pem FROM signing_key ORDER BY seq DESC LIMIT $1")
            .bind(limit)
            .try_map(|row: PgRow| {
                let pem: String = row.try_get("private_key_pem")?;
                Ok(StoredKey {
                    kid: row.try_get("kid")?,
                    private_pem: SecretString::from(pem),
                })
            })
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)
    }

    async fn add_signing_key(
        &self,
        key: &StoredKey,
        only_if_none: bool,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // Serialises replicas that start (or rotate) at the same moment.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('identity.signing_key'))")
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        if only_if_none {
            let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM signing_key)")
                .fetch_one(&mut *tx)
                .await
                .map_err(store_error)?;
            if any {
                return Ok(false);
            }
        }
        let added = sqlx::query(
            "INSERT INTO signing_key (kid, private_key_pem) VALUES ($1, $2)
             ON CONFLICT (kid) DO NOTHING",
        )
        .bind(&key.kid)
        .bind(key.private_pem.expose_secret())
        .execute(&mut *tx)
        .await
        .map_err(store_error)?
        .rows_affected()
            == 1;
        tx.commit().await.map_err(store_error)?;
        Ok(added)
    }
}
