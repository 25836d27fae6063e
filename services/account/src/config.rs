//! The account service's configuration, from `ACCOUNT_*` variables.
//!
//! | variable | default |
//! |---|---|
//! | `ACCOUNT_HTTP_HOST`, `ACCOUNT_HTTP_PORT` | `0.0.0.0`, `8081` |
//! | `ACCOUNT_HTTP_BODY_LIMIT_BYTES`, `ACCOUNT_HTTP_REQUEST_TIMEOUT_MS` | `65536`, `10000` |
//! | `ACCOUNT_INSTANCE_ID` | `HOSTNAME`, else `account-<pid>` |
//! | `ACCOUNT_DATABASE_URL` (or `_FILE`) | `postgres://postgres@127.0.0.1:5432/account` |
//! | `ACCOUNT_DATABASE_MAX_CONNECTIONS`, `ACCOUNT_DATABASE_ACQUIRE_TIMEOUT_MS` | `10`, `2000` |
//! | `ACCOUNT_AMQP_URL` (or `_FILE`) | `amqp://guest:guest@127.0.0.1:5672/%2f` |
//! | `ACCOUNT_AMQP_PREFIX`, `ACCOUNT_AMQP_PREFETCH` | empty, `16` |
//! | `ACCOUNT_AMQP_MAX_ATTEMPTS`, `ACCOUNT_AMQP_RETRY_BASE_MS` | `3`, `200` (unused: account consumes nothing) |
//! | `ACCOUNT_REDIS_URL` (or `_FILE`) | `redis://127.0.0.1:6379` |
//! | `ACCOUNT_CACHE_PREFIX`, `ACCOUNT_CACHE_ENABLED`, `ACCOUNT_CACHE_TIMEOUT_MS` | `account`, `true`, `250` |
//! | `ACCOUNT_AUTH_ISSUER` | `http://127.0.0.1:9876/realms/ironvessel` |
//! | `ACCOUNT_AUTH_JWKS_URL` | `<issuer>/protocol/openid-connect/certs` |
//! | `ACCOUNT_AUTH_AUDIENCE`, `ACCOUNT_AUTH_LEEWAY_MS` | `ironvessel`, `5000` |
//! | `ACCOUNT_IDP_URL` | `http://127.0.0.1:9876`: the identity provider (Keycloak) for the admin API |
//! | `ACCOUNT_IDP_REALM` | `ironvessel` |
//! | `ACCOUNT_IDP_CLIENT_ID` | `ironvessel-account`: the confidential client whose service account reads and enables users |
//! | `ACCOUNT_IDP_CLIENT_SECRET` (or `_FILE`) | `dev-account-secret` (development only) |
//! | `ACCOUNT_IDP_TIMEOUT_MS` | `2000` |
//! | `ACCOUNT_IDP_BREAKER_*`, `ACCOUNT_IDP_MAX_CONCURRENT`, `ACCOUNT_IDP_RETRIES`, `ACCOUNT_IDP_RETRY_BASE_MS` | see below |
//! | `ACCOUNT_ORDER_URL` | `http://127.0.0.1:8083` |
//! | `ACCOUNT_PAYMENT_URL` | `http://127.0.0.1:8084` |
//! | `ACCOUNT_DOWNSTREAM_TIMEOUT_MS` | `1000`: per call to order or payment |
//! | `ACCOUNT_DOWNSTREAM_BREAKER_*`, `ACCOUNT_DOWNSTREAM_MAX_CONCURRENT`, `ACCOUNT_DOWNSTREAM_RETRIES`, `ACCOUNT_DOWNSTREAM_RETRY_BASE_MS` | see below |
//! | `ACCOUNT_SEED_DEMO` | `false`: load the original's 2 demo addresses into an empty table |
//!
//! The breaker settings of a section `S` (`IDP`, `DOWNSTREAM`; order and payment get one
//! breaker each with the same settings): `ACCOUNT_S_BREAKER_POLICY` (`consecutive` or
//! `rate`, default `consecutive`), `ACCOUNT_S_BREAKER_FAILURES` (`5`),
//! `ACCOUNT_S_BREAKER_FAILURE_RATE` (`0.5`), `ACCOUNT_S_BREAKER_MIN_CALLS` (`10`),
//! `ACCOUNT_S_BREAKER_WINDOW_MS` (`30000`), `ACCOUNT_S_BREAKER_OPEN_MS` (`30000`),
//! `ACCOUNT_S_MAX_CONCURRENT` (`64`), `ACCOUNT_S_RETRIES` (`1`),
//! `ACCOUNT_S_RETRY_BASE_MS` (`50`); see `platform::resilience::ResilienceConfig`.
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
pub const SERVICE: &str = "account";
/// The dev port (SPEC §1).
pub const DEFAULT_PORT: u16 = 8081;

/// The identity provider's admin API.
#[derive(Debug, Clone)]
pub struct IdpConfig {
    /// Base URL (Keycloak's, without `/realms/...`).
    pub url: String,
    /// Realm of the shop's users.
    pub realm: String,
    /// The confidential client whose service account has the realm-management roles
    /// `view-users` and `manage-users`.
    pub client_id: String,
    /// Its secret.
    pub client_secret: SecretString,
    /// Timeout, breaker and retries of every call.
    pub resilience: ResilienceConfig,
}

/// The order and payment services.
#[derive(Debug, Clone)]
pub struct DownstreamConfig {
    /// Base URL of the order service (its paths start with `/order`).
    pub order_url: String,
    /// Base URL of the payment service (its paths start with `/payment`).
    pub payment_url: String,
    /// Timeout, breaker and retries of each (one breaker per service).
    pub resilience: ResilienceConfig,
}

/// Everything the service reads at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// HTTP server.
    pub http: HttpConfig,
    /// Postgres.
    pub database: DatabaseConfig,
    /// RabbitMQ (the outbox relay publishes through it).
    pub amqp: AmqpConfig,
    /// Redis.
    pub cache: CacheConfig,
    /// Token validation.
    pub auth: AuthConfig,
    /// The identity provider's admin API.
    pub idp: IdpConfig,
    /// The order and payment services.
    pub downstream: DownstreamConfig,
    /// Load the demo addresses at start-up.
    pub seed_demo: bool,
}

impl Config {
    /// Reads `ACCOUNT_*` from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&Env::new("ACCOUNT"))
    }

    /// Reads the config from `env`.
    pub fn from(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            http: HttpConfig::from_env(env, SERVICE, DEFAULT_PORT)?,
            database: DatabaseConfig::from_env(env, SERVICE)?,
            amqp: AmqpConfig::from_env(env)?,
            cache: CacheConfig::from_env(env, SERVICE)?,
            auth: AuthConfig::from_env(env)?,
            idp: IdpConfig {
                url: env.string("IDP_URL", "http://127.0.0.1:9876"),
                realm: env.string("IDP_REALM", "ironvessel"),
                client_id: env.string("IDP_CLIENT_ID", "ironvessel-account"),
                client_secret: env.secret("IDP_CLIENT_SECRET", "dev-account-secret")?,
                resilience: ResilienceConfig::from_env(env, "IDP", Duration::from_secs(2))?,
            },
            downstream: DownstreamConfig {
                order_url: env.string("ORDER_URL", "http://127.0.0.1:8083"),
                payment_url: env.string("PAYMENT_URL", "http://127.0.0.1:8084"),
                resilience: ResilienceConfig::from_env(env, "DOWNSTREAM", Duration::from_secs(1))?,
            },
            seed_demo: env.get("SEED_DEMO", false)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use platform::{config::expose, resilience::BreakerPolicy};

    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Env::with_lookup("ACCOUNT", move |name| map.get(name).cloned())
    }

    #[test]
    fn defaults_point_at_the_local_development_setup() {
        let config = Config::from(&env(&[])).unwrap();
        assert_eq!(config.http.port, 8081);
        assert_eq!(
            expose(&config.database.url),
            "postgres://postgres@127.0.0.1:5432/account"
        );
        assert_eq!(config.idp.url, "http://127.0.0.1:9876");
        assert_eq!(config.idp.realm, "ironvessel");
        assert_eq!(config.idp.client_id, "ironvessel-account");
        assert_eq!(expose(&config.idp.client_secret), "dev-account-secret");
        assert_eq!(config.downstream.order_url, "http://127.0.0.1:8083");
        assert_eq!(config.downstream.payment_url, "http://127.0.0.1:8084");
        assert_eq!(
            config.downstream.resilience.timeout,
            Duration::from_millis(1000)
        );
        assert_eq!(config.cache.prefix, "account");
    }

    #[test]
    fn the_downstream_timeout_and_breaker_are_configurable_and_the_secret_never_prints() {
        let config = Config::from(&env(&[
            ("ACCOUNT_DOWNSTREAM_TIMEOUT_MS", "300"),
            ("ACCOUNT_DOWNSTREAM_BREAKER_FAILURES", "2"),
            ("ACCOUNT_DOWNSTREAM_BREAKER_OPEN_MS", "1500"),
            ("ACCOUNT_IDP_CLIENT_SECRET", "hunter2"),
        ]))
        .unwrap();
        let downstream = &config.downstream.resilience;
        assert_eq!(downstream.timeout, Duration::from_millis(300));
        assert_eq!(
            downstream.policy,
            BreakerPolicy::ConsecutiveFailures { threshold: 2 }
        );
        assert_eq!(downstream.open_for, Duration::from_millis(1500));
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
