//! Typed configuration from environment variables.
//!
//! Every binary owns one `Config` struct built in `main` from a [`Env`] with the service's
//! prefix (e.g. `INVENTORY_`). The reusable sections ([`HttpConfig`], [`DatabaseConfig`],
//! [`AmqpConfig`], [`CacheConfig`], [`AuthConfig`](crate::auth::AuthConfig),
//! [`TelemetryConfig`](crate::telemetry::TelemetryConfig)) read the same variable names in
//! every service, so operators learn them once. Secrets are [`SecretString`]s: their
//! `Debug` output is redacted, so a config can be logged whole.

use std::{fmt::Display, str::FromStr, time::Duration};

use secrecy::{ExposeSecret, SecretString};

/// A configuration error: which variable, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {var}: {message}")]
pub struct ConfigError {
    /// The full environment variable name.
    pub var: String,
    /// What is wrong with its value.
    pub message: String,
}

/// Reads variables that share a prefix (`INVENTORY_HTTP_PORT`, ...).
///
/// The lookup function is injectable so tests can build configs without touching the
/// process environment.
pub struct Env {
    prefix: String,
    lookup: Lookup,
}

type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env").field("prefix", &self.prefix).finish()
    }
}

impl Env {
    /// Variables named `<PREFIX>_<NAME>` from the process environment.
    pub fn new(prefix: &str) -> Self {
        Self::with_lookup(prefix, |name| std::env::var(name).ok())
    }

    /// Variables from a custom source (tests).
    pub fn with_lookup(
        prefix: &str,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            prefix: prefix.to_owned(),
            lookup: Box::new(lookup),
        }
    }

    /// The full variable name for `name`.
    pub fn var(&self, name: &str) -> String {
        format!("{}_{}", self.prefix, name)
    }

    /// The raw value, if set and not empty.
    pub fn raw(&self, name: &str) -> Option<String> {
        (self.lookup)(&self.var(name)).filter(|value| !value.is_empty())
    }

    /// A parsed value, or `default` when unset.
    pub fn get<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.raw(name) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|err: T::Err| ConfigError {
                var: self.var(name),
                message: format!("cannot parse {raw:?}: {err}"),
            }),
        }
    }

    /// An optional parsed value.
    pub fn optional<T>(&self, name: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.raw(name)
            .map(|raw| {
                raw.parse().map_err(|err: T::Err| ConfigError {
                    var: self.var(name),
                    message: format!("cannot parse {raw:?}: {err}"),
                })
            })
            .transpose()
    }

    /// A string, or `default` when unset.
    pub fn string(&self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or_else(|| default.to_owned())
    }

    /// A duration given in milliseconds (`<NAME>_MS`), or `default`.
    pub fn millis(&self, name: &str, default: Duration) -> Result<Duration, ConfigError> {
        let default_ms = u64::try_from(default.as_millis()).unwrap_or(u64::MAX);
        self.get(name, default_ms).map(Duration::from_millis)
    }

    /// A secret: from `<NAME>` directly, or from the file named by `<NAME>_FILE`
    /// (Kubernetes secret mounts). Falls back to `default` for local development only.
    pub fn secret(&self, name: &str, default: &str) -> Result<SecretString, ConfigError> {
        if let Some(value) = self.raw(name) {
            return Ok(SecretString::from(value));
        }
        if let Some(path) = self.raw(&format!("{name}_FILE")) {
            let value = std::fs::read_to_string(&path).map_err(|err| ConfigError {
                var: self.var(&format!("{name}_FILE")),
                message: format!("cannot read {path}: {err}"),
            })?;
            return Ok(SecretString::from(value.trim().to_owned()));
        }
        Ok(SecretString::from(default.to_owned()))
    }
}

/// HTTP server settings.
///
/// | variable | default |
/// |---|---|
/// | `<P>_HTTP_HOST` | `0.0.0.0` |
/// | `<P>_HTTP_PORT` | the service's dev port |
/// | `<P>_HTTP_BODY_LIMIT_BYTES` | `65536` |
/// | `<P>_HTTP_REQUEST_TIMEOUT_MS` | `10000` |
/// | `<P>_INSTANCE_ID` | `HOSTNAME`, else `<service>-<pid>` |
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Interface to bind.
    pub host: String,
    /// Port to bind; 0 picks a free one (tests).
    pub port: u16,
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// Requests running longer are answered 503.
    pub request_timeout: Duration,
    /// This replica's id, sent as `x-instance` on every response.
    pub instance_id: String,
}

impl HttpConfig {
    /// Reads the section; `default_port` is the service's dev port.
    pub fn from_env(env: &Env, service: &str, default_port: u16) -> Result<Self, ConfigError> {
        let instance_id = env
            .raw("INSTANCE_ID")
            .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
            .unwrap_or_else(|| format!("{service}-{}", std::process::id()));
        Ok(Self {
            host: env.string("HTTP_HOST", "0.0.0.0"),
            port: env.get("HTTP_PORT", default_port)?,
            body_limit_bytes: env.get("HTTP_BODY_LIMIT_BYTES", 64 * 1024)?,
            request_timeout: env.millis("HTTP_REQUEST_TIMEOUT_MS", Duration::from_secs(10))?,
            instance_id,
        })
    }
}

/// Postgres settings.
///
/// | variable | default |
/// |---|---|
/// | `<P>_DATABASE_URL` (or `<P>_DATABASE_URL_FILE`) | `postgres://postgres@127.0.0.1:5432/<db>` |
/// | `<P>_DATABASE_MAX_CONNECTIONS` | `10` |
/// | `<P>_DATABASE_ACQUIRE_TIMEOUT_MS` | `2000` |
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// Connection URL; may carry a password, hence secret.
    pub url: SecretString,
    /// Pool size: the bulkhead between requests and the database.
    pub max_connections: u32,
    /// How long a request waits for a pooled connection before failing with 503.
    pub acquire_timeout: Duration,
}

impl DatabaseConfig {
    /// Reads the section; `database` names the service's default database.
    pub fn from_env(env: &Env, database: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            url: env.secret(
                "DATABASE_URL",
                &format!("postgres://postgres@127.0.0.1:5432/{database}"),
            )?,
            max_connections: env.get("DATABASE_MAX_CONNECTIONS", 10)?,
            acquire_timeout: env.millis("DATABASE_ACQUIRE_TIMEOUT_MS", Duration::from_secs(2))?,
        })
    }
}

/// RabbitMQ settings.
///
/// | variable | default |
/// |---|---|
/// | `<P>_AMQP_URL` (or `<P>_AMQP_URL_FILE`) | `amqp://guest:guest@127.0.0.1:5672/%2f` |
/// | `<P>_AMQP_PREFIX` | empty: names are the shop's (`product.topic`, ...) |
/// | `<P>_AMQP_PREFETCH` | `16` |
/// | `<P>_AMQP_MAX_ATTEMPTS` | `3`: handler attempts before a message is dead-lettered |
/// | `<P>_AMQP_RETRY_BASE_MS` | `200`: first retry delay, doubled per attempt, with jitter |
#[derive(Debug, Clone)]
pub struct AmqpConfig {
    /// Broker URL; may carry credentials, hence secret.
    pub url: SecretString,
    /// Prepended to every exchange and queue name (tests isolate themselves with it).
    pub prefix: String,
    /// Unacknowledged deliveries per consumer, which is also its concurrency.
    pub prefetch: u16,
    /// Handler attempts before a message goes to the dead-letter queue.
    pub max_attempts: u32,
    /// Base delay of the exponential retry backoff.
    pub retry_base: Duration,
}

impl AmqpConfig {
    /// Reads the section.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            url: env.secret("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")?,
            prefix: env.string("AMQP_PREFIX", ""),
            prefetch: env.get("AMQP_PREFETCH", 16)?,
            max_attempts: env.get("AMQP_MAX_ATTEMPTS", 3)?,
            retry_base: env.millis("AMQP_RETRY_BASE_MS", Duration::from_millis(200))?,
        })
    }
}

/// Redis settings.
///
/// | variable | default |
/// |---|---|
/// | `<P>_REDIS_URL` (or `<P>_REDIS_URL_FILE`) | `redis://127.0.0.1:6379` |
/// | `<P>_CACHE_PREFIX` | the service name |
/// | `<P>_CACHE_ENABLED` | `true` |
/// | `<P>_CACHE_TIMEOUT_MS` | `250`: a slower Redis counts as down and reads go to Postgres |
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Redis URL; may carry a password, hence secret.
    pub url: SecretString,
    /// Prefix of every key this service writes.
    pub prefix: String,
    /// Switch the cache off entirely (load-test experiments).
    pub enabled: bool,
    /// Per-command timeout.
    pub timeout: Duration,
}

impl CacheConfig {
    /// Reads the section.
    pub fn from_env(env: &Env, service: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            url: env.secret("REDIS_URL", "redis://127.0.0.1:6379")?,
            prefix: env.string("CACHE_PREFIX", service),
            enabled: env.get("CACHE_ENABLED", true)?,
            timeout: env.millis("CACHE_TIMEOUT_MS", Duration::from_millis(250))?,
        })
    }
}

/// The in-process tier in front of Redis (`<PREFIX>_CACHE_LOCAL_*`), for the caches a
/// service chooses (inventory's products); see `platform::cache`.
#[derive(Debug, Clone)]
pub struct LocalCacheConfig {
    /// Whether the tier is used at all.
    pub enabled: bool,
    /// How long a copy is kept (it is dropped sooner when the entry is evicted).
    pub ttl: Duration,
    /// How many entries are kept.
    pub capacity: usize,
    /// How long an eviction waits for every replica to drop its copy.
    pub ack_timeout: Duration,
}

impl Default for LocalCacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ttl: Duration::from_secs(60),
            capacity: 10_000,
            ack_timeout: Duration::from_millis(500),
        }
    }
}

impl LocalCacheConfig {
    /// Reads the section.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        Ok(Self {
            enabled: env.get("CACHE_LOCAL_ENABLED", defaults.enabled)?,
            ttl: env.millis("CACHE_LOCAL_TTL_MS", defaults.ttl)?,
            capacity: env.get("CACHE_LOCAL_CAPACITY", defaults.capacity)?,
            ack_timeout: env.millis("CACHE_LOCAL_ACK_TIMEOUT_MS", defaults.ack_timeout)?,
        })
    }
}

/// Convenience for adapters that need the secret as `&str`.
pub fn expose(secret: &SecretString) -> &str {
    secret.expose_secret()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Env::with_lookup("SVC", move |name| map.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_variables_are_unset() {
        let http = HttpConfig::from_env(&env(&[]), "svc", 8082).unwrap();
        assert_eq!(http.port, 8082);
        assert_eq!(http.body_limit_bytes, 65536);
        let db = DatabaseConfig::from_env(&env(&[]), "inventory").unwrap();
        assert_eq!(
            expose(&db.url),
            "postgres://postgres@127.0.0.1:5432/inventory"
        );
    }

    #[test]
    fn a_bad_value_names_the_variable() {
        let err = HttpConfig::from_env(&env(&[("SVC_HTTP_PORT", "eighty")]), "svc", 1).unwrap_err();
        assert_eq!(err.var, "SVC_HTTP_PORT");
        assert!(err.to_string().contains("eighty"));
    }

    #[test]
    fn secrets_never_print() {
        let db = DatabaseConfig::from_env(
            &env(&[("SVC_DATABASE_URL", "postgres://u:hunter2@db/x")]),
            "x",
        )
        .unwrap();
        let printed = format!("{db:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert_eq!(expose(&db.url), "postgres://u:hunter2@db/x");
    }

    #[test]
    fn secrets_can_come_from_files() {
        let dir = std::env::temp_dir().join(format!("iv-secret-{}", std::process::id()));
        std::fs::write(&dir, "s3cret\n").unwrap();
        let path = dir.to_string_lossy().into_owned();
        let secret = env(&[("SVC_TOKEN_FILE", &path)])
            .secret("TOKEN", "dev")
            .unwrap();
        assert_eq!(secret.expose_secret(), "s3cret");
        std::fs::remove_file(dir).unwrap();
    }
}
