//! The inventory service's configuration, from `INVENTORY_*` variables.
//!
//! | variable | default |
//! |---|---|
//! | `INVENTORY_HTTP_HOST`, `INVENTORY_HTTP_PORT` | `0.0.0.0`, `8082` |
//! | `INVENTORY_HTTP_BODY_LIMIT_BYTES`, `INVENTORY_HTTP_REQUEST_TIMEOUT_MS` | `65536`, `10000` |
//! | `INVENTORY_INSTANCE_ID` | `HOSTNAME`, else `inventory-<pid>` |
//! | `INVENTORY_DATABASE_URL` (or `_FILE`) | `postgres://postgres@127.0.0.1:5432/inventory` |
//! | `INVENTORY_DATABASE_MAX_CONNECTIONS`, `INVENTORY_DATABASE_ACQUIRE_TIMEOUT_MS` | `10`, `2000` |
//! | `INVENTORY_AMQP_URL` (or `_FILE`) | `amqp://guest:guest@127.0.0.1:5672/%2f` |
//! | `INVENTORY_AMQP_PREFIX`, `INVENTORY_AMQP_PREFETCH` | empty, `16` |
//! | `INVENTORY_AMQP_MAX_ATTEMPTS`, `INVENTORY_AMQP_RETRY_BASE_MS` | `3`, `200` |
//! | `INVENTORY_REDIS_URL` (or `_FILE`) | `redis://127.0.0.1:6379` |
//! | `INVENTORY_CACHE_PREFIX`, `INVENTORY_CACHE_ENABLED`, `INVENTORY_CACHE_TIMEOUT_MS` | `inventory`, `true`, `250` |
//! | `INVENTORY_CACHE_LOCAL_ENABLED`, `INVENTORY_CACHE_LOCAL_TTL_MS`, `INVENTORY_CACHE_LOCAL_CAPACITY` | `true`, `60000`, `10000`: products also kept in the process, dropped by every replica before an eviction returns |
//! | `INVENTORY_CACHE_LOCAL_ACK_TIMEOUT_MS` | `500`: how long an eviction waits for the other replicas to drop their copies |
//! | `INVENTORY_AUTH_ISSUER` | `http://127.0.0.1:9876/realms/ironvessel` |
//! | `INVENTORY_AUTH_JWKS_URL` | `<issuer>/protocol/openid-connect/certs` |
//! | `INVENTORY_AUTH_AUDIENCE`, `INVENTORY_AUTH_LEEWAY_MS` | `ironvessel`, `5000` |
//! | `INVENTORY_SEED_DEMO` | `false`: load the original's 8 demo products into an empty table |
//! | `INVENTORY_CACHE_EVICTION` | `true`; `false` leaves stale products in the cache after writes, only for the load test's staleness check |
//!
//! Logging and tracing use `RUST_LOG`, `LOG_FORMAT` and `OTEL_EXPORTER_OTLP_ENDPOINT`.

use platform::{
    auth::AuthConfig,
    config::{
        AmqpConfig, CacheConfig, ConfigError, DatabaseConfig, Env, HttpConfig, LocalCacheConfig,
    },
};

/// The service name: config prefix, cache prefix, log field.
pub const SERVICE: &str = "inventory";
/// The dev port (SPEC §1).
pub const DEFAULT_PORT: u16 = 8082;

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
    /// The in-process tier in front of Redis for products.
    pub local_cache: LocalCacheConfig,
    /// Token validation.
    pub auth: AuthConfig,
    /// Load the demo products at start-up.
    pub seed_demo: bool,
    /// Evict cached products on writes. Off only to show that the load test's
    /// staleness check catches a stale cache; never in a deployment.
    pub cache_eviction: bool,
}

impl Config {
    /// Reads `INVENTORY_*` from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&Env::new("INVENTORY"))
    }

    /// Reads the config from `env`.
    pub fn from(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            http: HttpConfig::from_env(env, SERVICE, DEFAULT_PORT)?,
            database: DatabaseConfig::from_env(env, SERVICE)?,
            amqp: AmqpConfig::from_env(env)?,
            cache: CacheConfig::from_env(env, SERVICE)?,
            local_cache: LocalCacheConfig::from_env(env)?,
            auth: AuthConfig::from_env(env)?,
            seed_demo: env.get("SEED_DEMO", false)?,
            cache_eviction: env.get("CACHE_EVICTION", true)?,
        })
    }
}
