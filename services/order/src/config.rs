//! The order service's configuration, from `ORDER_*` variables.
//!
//! | variable | default |
//! |---|---|
//! | `ORDER_HTTP_HOST`, `ORDER_HTTP_PORT` | `0.0.0.0`, `8083` |
//! | `ORDER_HTTP_BODY_LIMIT_BYTES`, `ORDER_HTTP_REQUEST_TIMEOUT_MS` | `65536`, `10000` |
//! | `ORDER_INSTANCE_ID` | `HOSTNAME`, else `order-<pid>` |
//! | `ORDER_DATABASE_URL` (or `_FILE`) | `postgres://postgres@127.0.0.1:5432/orders` |
//! | `ORDER_DATABASE_MAX_CONNECTIONS`, `ORDER_DATABASE_ACQUIRE_TIMEOUT_MS` | `10`, `2000` |
//! | `ORDER_AMQP_URL` (or `_FILE`) | `amqp://guest:guest@127.0.0.1:5672/%2f` |
//! | `ORDER_AMQP_PREFIX`, `ORDER_AMQP_PREFETCH` | empty, `16` |
//! | `ORDER_AMQP_MAX_ATTEMPTS`, `ORDER_AMQP_RETRY_BASE_MS` | `3`, `200` |
//! | `ORDER_REDIS_URL` (or `_FILE`) | `redis://127.0.0.1:6379` |
//! | `ORDER_CACHE_PREFIX`, `ORDER_CACHE_ENABLED`, `ORDER_CACHE_TIMEOUT_MS` | `order`, `true`, `250` |
//! | `ORDER_ACCOUNT_CACHE_PREFIX` | `account`: account's cache prefix, whose `ordersOfCustomer.rest` entries order evicts when a customer's orders change |
//! | `ORDER_AUTH_ISSUER` | `http://127.0.0.1:9876/realms/ironvessel` |
//! | `ORDER_AUTH_JWKS_URL` | `<issuer>/protocol/openid-connect/certs` |
//! | `ORDER_AUTH_AUDIENCE`, `ORDER_AUTH_LEEWAY_MS` | `ironvessel`, `5000` |
//! | `ORDER_IDP_URL` | `http://127.0.0.1:9876`: the identity provider (Keycloak) for the admin API |
//! | `ORDER_IDP_REALM` | `ironvessel` |
//! | `ORDER_IDP_CLIENT_ID` | `ironvessel-account`: a confidential client whose service account may view users |
//! | `ORDER_IDP_CLIENT_SECRET` (or `_FILE`) | `dev-account-secret` (development only) |
//! | `ORDER_IDP_TIMEOUT_MS` | `2000` |
//! | `ORDER_IDP_BREAKER_*`, `ORDER_IDP_MAX_CONCURRENT`, `ORDER_IDP_RETRIES`, `ORDER_IDP_RETRY_BASE_MS` | see below |
//! | `ORDER_PAYMENT_URL` | `http://127.0.0.1:8084` |
//! | `ORDER_DOWNSTREAM_TIMEOUT_MS` | `1000`: per call to payment |
//! | `ORDER_DOWNSTREAM_BREAKER_*`, `ORDER_DOWNSTREAM_MAX_CONCURRENT`, `ORDER_DOWNSTREAM_RETRIES`, `ORDER_DOWNSTREAM_RETRY_BASE_MS` | see below |
//! | `ORDER_SEED_DEMO` | `false`: load the original's 3 demo orders into an empty table |
//!
//! The breaker settings of a section `S` (`IDP`, `DOWNSTREAM`):
//! `ORDER_S_BREAKER_POLICY` (`consecutive` or `rate`, default `consecutive`),
//! `ORDER_S_BREAKER_FAILURES` (`5`), `ORDER_S_BREAKER_FAILURE_RATE` (`0.5`),
//! `ORDER_S_BREAKER_MIN_CALLS` (`10`), `ORDER_S_BREAKER_WINDOW_MS` (`30000`),
//! `ORDER_S_BREAKER_OPEN_MS` (`30000`), `ORDER_S_MAX_CONCURRENT` (`64`),
//! `ORDER_S_RETRIES` (`1`), `ORDER_S_RETRY_BASE_MS` (`50`); see
//! `platform::resilience::ResilienceConfig`.
//!
//! Logging and tracing use `RUST_LOG`, `LOG_FORMAT` and `OTEL_EXPORTER_OTLP_ENDPOINT`.

use std::time::Duration;

use platform::{
    auth::AuthConfig,
    config::{AmqpConfig, CacheConfig, ConfigError, DatabaseConfig, Env, HttpConfig},
    resilience::ResilienceConfig,
};
use secrecy::SecretString;

/// The service name: config prefix, cache prefix, log field, consumer name.
pub const SERVICE: &str = "order";
/// The service's database (SPEC §1).
pub const DATABASE: &str = "orders";
/// The dev port (SPEC §1).
pub const DEFAULT_PORT: u16 = 8083;

/// The identity provider's admin API.
#[derive(Debug, Clone)]
pub struct IdpConfig {
    /// Base URL (Keycloak's, without `/realms/...`).
    pub url: String,
    /// Realm of the shop's users.
    pub realm: String,
    /// The confidential client whose service account has the realm-management role
    /// `view-users`.
    pub client_id: String,
    /// Its secret.
    pub client_secret: SecretString,
    /// Timeout, breaker and retries of every call.
    pub resilience: ResilienceConfig,
}

/// The payment service.
#[derive(Debug, Clone)]
pub struct PaymentConfig {
    /// Base URL of the payment service (its paths start with `/payment`).
    pub url: String,
    /// Timeout, breaker and retries of every call.
    pub resilience: ResilienceConfig,
}

/// Everything the service reads at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// HTTP server.
    pub http: HttpConfig,
    /// Postgres.
    pub database: DatabaseConfig,
    /// RabbitMQ.
    pub amqp: AmqpConfig,
    /// Redis.
    pub cache: CacheConfig,
    /// Account's cache prefix (same Redis): order evicts account's copy of a customer's
    /// orders when they change.
    pub account_cache_prefix: String,
    /// Token validation.
    pub auth: AuthConfig,
    /// The identity provider's admin API (customer names in the order detail).
    pub idp: IdpConfig,
    /// The payment service (payments in the order detail).
    pub payment: PaymentConfig,
    /// Load the demo orders at start-up.
    pub seed_demo: bool,
}

impl Config {
    /// Reads `ORDER_*` from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&Env::new("ORDER"))
    }

    /// Reads the config from `env`.
    pub fn from(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            http: HttpConfig::from_env(env, SERVICE, DEFAULT_PORT)?,
            database: DatabaseConfig::from_env(env, DATABASE)?,
            amqp: AmqpConfig::from_env(env)?,
            cache: CacheConfig::from_env(env, SERVICE)?,
            account_cache_prefix: env.string("ACCOUNT_CACHE_PREFIX", "account"),
            auth: AuthConfig::from_env(env)?,
            idp: IdpConfig {
                url: env.string("IDP_URL", "http://127.0.0.1:9876"),
                realm: env.string("IDP_REALM", "ironvessel"),
                client_id: env.string("IDP_CLIENT_ID", "ironvessel-account"),
                client_secret: env.secret("IDP_CLIENT_SECRET", "dev-account-secret")?,
                resilience: ResilienceConfig::from_env(env, "IDP", Duration::from_secs(2))?,
            },
            payment: PaymentConfig {
                url: env.string("PAYMENT_URL", "http://127.0.0.1:8084"),
                resilience: ResilienceConfig::from_env(env, "DOWNSTREAM", Duration::from_secs(1))?,
            },
            seed_demo: env.get("SEED_DEMO", false)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use platform::config::expose;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Env::with_lookup("ORDER", move |name| map.get(name).cloned())
    }

    #[test]
    fn defaults_point_at_the_local_development_setup() {
        let config = Config::from(&env(&[])).unwrap();
        assert_eq!(config.http.port, 8083);
        assert_eq!(
            expose(&config.database.url),
            "postgres://postgres@127.0.0.1:5432/orders"
        );
        assert_eq!(config.cache.prefix, "order");
        assert_eq!(config.account_cache_prefix, "account");
        assert_eq!(config.idp.url, "http://127.0.0.1:9876");
        assert_eq!(config.idp.realm, "ironvessel");
        assert_eq!(config.idp.client_id, "ironvessel-account");
        assert_eq!(expose(&config.idp.client_secret), "dev-account-secret");
        assert_eq!(config.payment.url, "http://127.0.0.1:8084");
        assert_eq!(config.payment.resilience.timeout, Duration::from_secs(1));
        assert!(!config.seed_demo);
    }

    #[test]
    fn the_payment_timeout_and_account_prefix_are_configurable_and_the_secret_never_prints() {
        let config = Config::from(&env(&[
            ("ORDER_DOWNSTREAM_TIMEOUT_MS", "300"),
            ("ORDER_ACCOUNT_CACHE_PREFIX", "acc"),
            ("ORDER_IDP_CLIENT_SECRET", "hunter2"),
        ]))
        .unwrap();
        assert_eq!(
            config.payment.resilience.timeout,
            Duration::from_millis(300)
        );
        assert_eq!(config.account_cache_prefix, "acc");
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
