//! The payment service's configuration, from `PAYMENT_*` variables.
//!
//! | variable | default |
//! |---|---|
//! | `PAYMENT_HTTP_HOST`, `PAYMENT_HTTP_PORT` | `0.0.0.0`, `8084` |
//! | `PAYMENT_HTTP_BODY_LIMIT_BYTES`, `PAYMENT_HTTP_REQUEST_TIMEOUT_MS` | `65536`, `10000` |
//! | `PAYMENT_INSTANCE_ID` | `HOSTNAME`, else `payment-<pid>` |
//! | `PAYMENT_DATABASE_URL` (or `_FILE`) | `postgres://postgres@127.0.0.1:5432/payment` |
//! | `PAYMENT_DATABASE_MAX_CONNECTIONS`, `PAYMENT_DATABASE_ACQUIRE_TIMEOUT_MS` | `10`, `2000` |
//! | `PAYMENT_AMQP_URL` (or `_FILE`) | `amqp://guest:guest@127.0.0.1:5672/%2f` |
//! | `PAYMENT_AMQP_PREFIX`, `PAYMENT_AMQP_PREFETCH` | empty, `16` |
//! | `PAYMENT_AMQP_MAX_ATTEMPTS`, `PAYMENT_AMQP_RETRY_BASE_MS` | `3`, `200` |
//! | `PAYMENT_REDIS_URL` (or `_FILE`) | `redis://127.0.0.1:6379` |
//! | `PAYMENT_CACHE_PREFIX`, `PAYMENT_CACHE_ENABLED`, `PAYMENT_CACHE_TIMEOUT_MS` | `payment`, `true`, `250` |
//! | `PAYMENT_ACCOUNT_CACHE_PREFIX` | `account`: account's cache prefix, whose `paymentsOfCustomer.rest::<customerId>` every payment change evicts |
//! | `PAYMENT_ORDER_CACHE_PREFIX` | `order`: order's cache prefix, whose `payment.rest::<id>` every payment change evicts |
//! | `PAYMENT_AUTH_ISSUER` | `http://127.0.0.1:9876/realms/ironvessel` |
//! | `PAYMENT_AUTH_JWKS_URL` | `<issuer>/protocol/openid-connect/certs` |
//! | `PAYMENT_AUTH_AUDIENCE`, `PAYMENT_AUTH_LEEWAY_MS` | `ironvessel`, `5000` |
//! | `PAYMENT_IDP_URL` | `http://127.0.0.1:9876`: the identity provider (Keycloak) for the admin API |
//! | `PAYMENT_IDP_REALM` | `ironvessel` |
//! | `PAYMENT_IDP_CLIENT_ID` | `ironvessel-account`: a confidential client whose service account may view users |
//! | `PAYMENT_IDP_CLIENT_SECRET` (or `_FILE`) | `dev-account-secret` (development only) |
//! | `PAYMENT_IDP_TIMEOUT_MS` | `1000` |
//! | `PAYMENT_IDP_BREAKER_*`, `PAYMENT_IDP_MAX_CONCURRENT`, `PAYMENT_IDP_RETRIES`, `PAYMENT_IDP_RETRY_BASE_MS` | see `platform::resilience::ResilienceConfig` (`consecutive`, 5 failures, open 30 s, 64 concurrent, 1 retry, 50 ms) |
//! | `PAYMENT_SEED_DEMO` | `false`: load the original's demo payments, carts and addresses into empty tables |
//!
//! Logging and tracing use `RUST_LOG`, `LOG_FORMAT` and `OTEL_EXPORTER_OTLP_ENDPOINT`.

use std::time::Duration;

use platform::{
    auth::AuthConfig,
    config::{AmqpConfig, CacheConfig, ConfigError, DatabaseConfig, Env, HttpConfig},
    resilience::ResilienceConfig,
};
use secrecy::SecretString;

/// The service name: config prefix, cache prefix, log field.
pub const SERVICE: &str = "payment";
/// The dev port (SPEC §1).
pub const DEFAULT_PORT: u16 = 8084;

/// The identity provider's admin API.
#[derive(Debug, Clone)]
pub struct IdpConfig {
    /// Base URL (Keycloak's, without `/realms/...`).
    pub url: String,
    /// Realm of the shop's users.
    pub realm: String,
    /// The confidential client whose service account may view users.
    pub client_id: String,
    /// Its secret.
    pub client_secret: SecretString,
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
    /// Account's cache prefix (cross-service eviction).
    pub account_cache_prefix: String,
    /// Order's cache prefix (cross-service eviction).
    pub order_cache_prefix: String,
    /// Token validation.
    pub auth: AuthConfig,
    /// The identity provider's admin API.
    pub idp: IdpConfig,
    /// Load the demo data at start-up.
    pub seed_demo: bool,
}

impl Config {
    /// Reads `PAYMENT_*` from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&Env::new("PAYMENT"))
    }

    /// Reads the config from `env`.
    pub fn from(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            http: HttpConfig::from_env(env, SERVICE, DEFAULT_PORT)?,
            database: DatabaseConfig::from_env(env, SERVICE)?,
            amqp: AmqpConfig::from_env(env)?,
            cache: CacheConfig::from_env(env, SERVICE)?,
            account_cache_prefix: env.string("ACCOUNT_CACHE_PREFIX", "account"),
            order_cache_prefix: env.string("ORDER_CACHE_PREFIX", "order"),
            auth: AuthConfig::from_env(env)?,
            idp: IdpConfig {
                url: env.string("IDP_URL", "http://127.0.0.1:9876"),
                realm: env.string("IDP_REALM", "ironvessel"),
                client_id: env.string("IDP_CLIENT_ID", "ironvessel-account"),
                client_secret: env.secret("IDP_CLIENT_SECRET", "dev-account-secret")?,
                resilience: ResilienceConfig::from_env(env, "IDP", Duration::from_secs(1))?,
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
        Env::with_lookup("PAYMENT", move |name| map.get(name).cloned())
    }

    #[test]
    fn defaults_point_at_the_local_development_setup() {
        let config = Config::from(&env(&[])).unwrap();
        assert_eq!(config.http.port, 8084);
        assert_eq!(
            expose(&config.database.url),
            "postgres://postgres@127.0.0.1:5432/payment"
        );
        assert_eq!(config.cache.prefix, "payment");
        assert_eq!(config.account_cache_prefix, "account");
        assert_eq!(config.order_cache_prefix, "order");
        assert_eq!(config.idp.url, "http://127.0.0.1:9876");
        assert_eq!(config.idp.client_id, "ironvessel-account");
        assert_eq!(expose(&config.idp.client_secret), "dev-account-secret");
        assert!(!config.seed_demo);
    }

    #[test]
    fn the_account_cache_prefix_is_configurable_and_the_secret_never_prints() {
        let config = Config::from(&env(&[
            ("PAYMENT_ACCOUNT_CACHE_PREFIX", "prod:account"),
            ("PAYMENT_IDP_CLIENT_SECRET", "hunter2"),
            ("PAYMENT_SEED_DEMO", "true"),
        ]))
        .unwrap();
        assert_eq!(config.account_cache_prefix, "prod:account");
        assert!(config.seed_demo);
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
