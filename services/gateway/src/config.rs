//! The gateway's configuration, from `GATEWAY_*` variables.
//!
//! | variable | default |
//! |---|---|
//! | `GATEWAY_HTTP_HOST`, `GATEWAY_HTTP_PORT` | `0.0.0.0`, `9080` |
//! | `GATEWAY_INSTANCE_ID` | `HOSTNAME`, else `gateway-<pid>`: `x-instance` of the gateway's own answers |
//! | `GATEWAY_<POOL>_URLS` | the pool's replicas, comma-separated `http://host:port` (defaults below) |
//! | `GATEWAY_<POOL>_DNS` | instead of `_URLS`: `name:port`, re-resolved; every address is a replica (Kubernetes headless services) |
//! | `GATEWAY_<POOL>_TIMEOUT_MS` | `GATEWAY_UPSTREAM_TIMEOUT_MS`: this pool's deadline for an answer |
//! | `GATEWAY_<POOL>_HEALTH_PATH` | `/health/ready`: what the active health check GETs |
//! | `GATEWAY_DNS_REFRESH_MS` | `5000`: how often `_DNS` names are resolved again |
//! | `GATEWAY_UPSTREAM_TIMEOUT_MS` | `10000`: time for an upstream to start answering, retries included (then 504) |
//! | `GATEWAY_CONNECT_TIMEOUT_MS` | `1000`: time to open a connection to a replica |
//! | `GATEWAY_HEALTH_INTERVAL_MS` | `2000`: time between active health checks of every replica |
//! | `GATEWAY_HEALTH_TIMEOUT_MS` | `1000`: a slower health check counts as failed |
//! | `GATEWAY_EJECT_AFTER_FAILURES` | `3`: consecutive failed requests (connect errors, 502/503/504, timeouts) that eject a replica until its health check passes |
//! | `GATEWAY_BREAKER_FAILURES` | `5`: consecutive failed requests to a pool that open its circuit |
//! | `GATEWAY_BREAKER_OPEN_MS` | `5000`: how long an open circuit answers 503 before letting requests try again |
//! | `GATEWAY_RATE_LIMIT_PER_SECOND` | `50`: sustained requests per second per client (token `sub`, else IP) |
//! | `GATEWAY_RATE_LIMIT_BURST` | `100`: requests a client may send at once |
//! | `GATEWAY_BODY_LIMIT_BYTES` | `1048576`: largest request body (413 beyond) |
//! | `GATEWAY_TRUST_FORWARDED_FOR` | `false`: take the client IP from the last `x-forwarded-for` entry (behind a load balancer) |
//! | `GATEWAY_AUTH_ISSUER` | `http://127.0.0.1:9876/realms/ironvessel` |
//! | `GATEWAY_AUTH_JWKS_URL` | `<issuer>/protocol/openid-connect/certs` |
//! | `GATEWAY_AUTH_AUDIENCE`, `GATEWAY_AUTH_LEEWAY_MS` | `ironvessel`, `5000` |
//!
//! `<POOL>` is `ACCOUNT` (default `http://127.0.0.1:8081`), `INVENTORY` (`:8082`), `ORDER`
//! (`:8083`), `PAYMENT` (`:8084`) or `IDENTITY` (`:9876`, serves `/realms/*`).
//! `GATEWAY_HTTP_BODY_LIMIT_BYTES` and `GATEWAY_HTTP_REQUEST_TIMEOUT_MS` of the shared HTTP
//! section do not apply: the gateway's limits are the two above.
//!
//! Logging and tracing use `RUST_LOG`, `LOG_FORMAT` and `OTEL_EXPORTER_OTLP_ENDPOINT`.

use std::{num::NonZeroU32, time::Duration};

use http::uri::{Authority, Scheme, Uri};
use platform::{
    auth::AuthConfig,
    config::{ConfigError, Env, HttpConfig},
};

/// The service name: config prefix, log field.
pub const SERVICE: &str = "gateway";
/// The dev port (SPEC §1).
pub const DEFAULT_PORT: u16 = 9080;

// Checked at compile time: a zero here would not build.
const DEFAULT_RATE_PER_SECOND: NonZeroU32 = NonZeroU32::new(50).expect("non-zero");
const DEFAULT_RATE_BURST: NonZeroU32 = NonZeroU32::new(100).expect("non-zero");

/// The upstream pools the gateway routes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PoolName {
    /// `/account/*`.
    Account,
    /// `/inventory/*`.
    Inventory,
    /// `/order/*`.
    Order,
    /// `/payment/*`.
    Payment,
    /// `/realms/*`: the identity provider.
    Identity,
}

impl PoolName {
    /// Every pool.
    pub const ALL: [Self; 5] = [
        Self::Account,
        Self::Inventory,
        Self::Order,
        Self::Payment,
        Self::Identity,
    ];

    /// The pool's name in messages, metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::Inventory => "inventory",
            Self::Order => "order",
            Self::Payment => "payment",
            Self::Identity => "identity",
        }
    }

    fn env_name(self) -> &'static str {
        match self {
            Self::Account => "ACCOUNT",
            Self::Inventory => "INVENTORY",
            Self::Order => "ORDER",
            Self::Payment => "PAYMENT",
            Self::Identity => "IDENTITY",
        }
    }

    /// Where the service listens in development (SPEC §1).
    fn default_url(self) -> &'static str {
        match self {
            Self::Account => "http://127.0.0.1:8081",
            Self::Inventory => "http://127.0.0.1:8082",
            Self::Order => "http://127.0.0.1:8083",
            Self::Payment => "http://127.0.0.1:8084",
            Self::Identity => "http://127.0.0.1:9876",
        }
    }
}

impl std::fmt::Display for PoolName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a pool's replicas come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replicas {
    /// A fixed list of `host:port`s.
    Static(Vec<Authority>),
    /// A DNS name whose addresses are the replicas, resolved again periodically.
    Dns {
        /// The name, e.g. `inventory-headless.shop.svc`.
        host: String,
        /// The port every replica listens on.
        port: u16,
    },
}

/// One pool's settings.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Which pool.
    pub name: PoolName,
    /// Its replicas.
    pub replicas: Replicas,
    /// Deadline for the upstream to start answering, retries included.
    pub timeout: Duration,
    /// Path of the active health check.
    pub health_path: String,
}

/// Active and passive health checking.
#[derive(Debug, Clone)]
pub struct HealthConfig {
    /// Time between two rounds of active checks.
    pub interval: Duration,
    /// A check slower than this failed.
    pub timeout: Duration,
    /// Consecutive failed requests that eject a replica until a health check passes.
    pub eject_after_failures: u32,
}

/// The per-pool circuit breaker.
#[derive(Debug, Clone)]
pub struct BreakerConfig {
    /// Consecutive failed requests that open the circuit.
    pub failures: u32,
    /// How long the circuit stays open before requests may try again.
    pub open_for: Duration,
}

/// The per-client rate limit.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitConfig {
    /// Sustained requests per second.
    pub per_second: NonZeroU32,
    /// Requests allowed at once.
    pub burst: NonZeroU32,
}

/// Everything the gateway reads at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen; `instance_id` marks the gateway's own answers.
    pub http: HttpConfig,
    /// Edge token validation.
    pub auth: AuthConfig,
    /// One entry per pool, in [`PoolName::ALL`] order.
    pub pools: Vec<PoolConfig>,
    /// How often `_DNS` pools are resolved again.
    pub dns_refresh: Duration,
    /// Time to open a connection to a replica.
    pub connect_timeout: Duration,
    /// Health checking.
    pub health: HealthConfig,
    /// Circuit breaking.
    pub breaker: BreakerConfig,
    /// Rate limiting.
    pub rate_limit: RateLimitConfig,
    /// Largest request body.
    pub body_limit_bytes: usize,
    /// Whether `x-forwarded-for` from the client side is trusted.
    pub trust_forwarded_for: bool,
}

impl Config {
    /// Reads `GATEWAY_*` from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&Env::new("GATEWAY"))
    }

    /// Reads the config from `env`.
    pub fn from(env: &Env) -> Result<Self, ConfigError> {
        let upstream_timeout = env.millis("UPSTREAM_TIMEOUT_MS", Duration::from_secs(10))?;
        let pools = PoolName::ALL
            .into_iter()
            .map(|name| pool_config(env, name, upstream_timeout))
            .collect::<Result<Vec<_>, _>>()?;
        let eject_after_failures: u32 = env.get("EJECT_AFTER_FAILURES", 3)?;
        let breaker_failures: u32 = env.get("BREAKER_FAILURES", 5)?;
        for (name, value) in [
            ("EJECT_AFTER_FAILURES", eject_after_failures),
            ("BREAKER_FAILURES", breaker_failures),
        ] {
            if value == 0 {
                return Err(ConfigError {
                    var: env.var(name),
                    message: "must be at least 1".to_owned(),
                });
            }
        }
        Ok(Self {
            http: HttpConfig::from_env(env, SERVICE, DEFAULT_PORT)?,
            auth: AuthConfig::from_env(env)?,
            pools,
            dns_refresh: env.millis("DNS_REFRESH_MS", Duration::from_secs(5))?,
            connect_timeout: env.millis("CONNECT_TIMEOUT_MS", Duration::from_secs(1))?,
            health: HealthConfig {
                interval: env.millis("HEALTH_INTERVAL_MS", Duration::from_secs(2))?,
                timeout: env.millis("HEALTH_TIMEOUT_MS", Duration::from_secs(1))?,
                eject_after_failures,
            },
            breaker: BreakerConfig {
                failures: breaker_failures,
                open_for: env.millis("BREAKER_OPEN_MS", Duration::from_secs(5))?,
            },
            rate_limit: RateLimitConfig {
                per_second: env.get("RATE_LIMIT_PER_SECOND", DEFAULT_RATE_PER_SECOND)?,
                burst: env.get("RATE_LIMIT_BURST", DEFAULT_RATE_BURST)?,
            },
            body_limit_bytes: env.get("BODY_LIMIT_BYTES", 1024 * 1024)?,
            trust_forwarded_for: env.get("TRUST_FORWARDED_FOR", false)?,
        })
    }

    /// The settings of one pool.
    pub fn pool(&self, name: PoolName) -> Option<&PoolConfig> {
        self.pools.iter().find(|pool| pool.name == name)
    }
}

fn pool_config(
    env: &Env,
    name: PoolName,
    default_timeout: Duration,
) -> Result<PoolConfig, ConfigError> {
    let urls_var = format!("{}_URLS", name.env_name());
    let dns_var = format!("{}_DNS", name.env_name());
    let replicas = match (env.raw(&urls_var), env.raw(&dns_var)) {
        (Some(_), Some(_)) => {
            return Err(ConfigError {
                var: env.var(&dns_var),
                message: format!("set either {} or this, not both", env.var(&urls_var)),
            });
        }
        (None, Some(dns)) => parse_dns(&dns).map_err(|message| ConfigError {
            var: env.var(&dns_var),
            message,
        })?,
        (urls, None) => {
            parse_urls(urls.as_deref().unwrap_or(name.default_url())).map_err(|message| {
                ConfigError {
                    var: env.var(&urls_var),
                    message,
                }
            })?
        }
    };
    let health_path = env.string(&format!("{}_HEALTH_PATH", name.env_name()), "/health/ready");
    if !health_path.starts_with('/') {
        return Err(ConfigError {
            var: env.var(&format!("{}_HEALTH_PATH", name.env_name())),
            message: format!("{health_path:?} must start with /"),
        });
    }
    Ok(PoolConfig {
        name,
        replicas,
        timeout: env.millis(&format!("{}_TIMEOUT_MS", name.env_name()), default_timeout)?,
        health_path,
    })
}

/// Parses `http://host:port,http://host:port` into replica addresses.
pub fn parse_urls(raw: &str) -> Result<Replicas, String> {
    let mut replicas = Vec::new();
    for part in raw
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let uri: Uri = part
            .parse()
            .map_err(|err| format!("{part:?} is not a URL: {err}"))?;
        if uri.scheme() != Some(&Scheme::HTTP) {
            return Err(format!(
                "{part:?}: only http:// upstreams are supported (TLS ends at the load balancer)"
            ));
        }
        if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
            return Err(format!(
                "{part:?}: give only scheme, host and port; paths are forwarded unchanged"
            ));
        }
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| format!("{part:?} has no host"))?;
        if authority.as_str().contains('@') {
            return Err(format!(
                "{part:?}: credentials in upstream URLs are not supported"
            ));
        }
        if !replicas.contains(&authority) {
            replicas.push(authority);
        }
    }
    if replicas.is_empty() {
        return Err("no upstream URL given".to_owned());
    }
    Ok(Replicas::Static(replicas))
}

/// Parses `name:port`.
pub fn parse_dns(raw: &str) -> Result<Replicas, String> {
    let (host, port) = raw
        .trim()
        .rsplit_once(':')
        .ok_or_else(|| format!("{raw:?} must be name:port"))?;
    let port: u16 = port
        .parse()
        .map_err(|err| format!("{raw:?}: bad port: {err}"))?;
    if host.is_empty() || host.contains('/') {
        return Err(format!("{raw:?} must be name:port"));
    }
    Ok(Replicas::Dns {
        host: host.to_owned(),
        port,
    })
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
        Env::with_lookup("GATEWAY", move |name| map.get(name).cloned())
    }

    fn authorities(replicas: &Replicas) -> Vec<&str> {
        match replicas {
            Replicas::Static(list) => list.iter().map(Authority::as_str).collect(),
            Replicas::Dns { .. } => panic!("expected static replicas, got {replicas:?}"),
        }
    }

    #[test]
    fn defaults_point_every_pool_at_its_dev_port() {
        let config = Config::from(&env(&[])).unwrap();
        assert_eq!(config.http.port, 9080);
        let ports: Vec<(PoolName, Vec<&str>)> = config
            .pools
            .iter()
            .map(|pool| (pool.name, authorities(&pool.replicas)))
            .collect();
        assert_eq!(
            ports,
            vec![
                (PoolName::Account, vec!["127.0.0.1:8081"]),
                (PoolName::Inventory, vec!["127.0.0.1:8082"]),
                (PoolName::Order, vec!["127.0.0.1:8083"]),
                (PoolName::Payment, vec!["127.0.0.1:8084"]),
                (PoolName::Identity, vec!["127.0.0.1:9876"]),
            ]
        );
        assert_eq!(config.body_limit_bytes, 1024 * 1024);
        assert_eq!(config.rate_limit.per_second.get(), 50);
        assert_eq!(config.rate_limit.burst.get(), 100);
        assert_eq!(config.health.interval, Duration::from_secs(2));
        assert_eq!(config.health.eject_after_failures, 3);
        let inventory = config.pool(PoolName::Inventory).unwrap();
        assert_eq!(inventory.timeout, Duration::from_secs(10));
        assert_eq!(inventory.health_path, "/health/ready");
    }

    #[test]
    fn a_pool_takes_a_comma_separated_list_of_replicas() {
        let config = Config::from(&env(&[(
            "GATEWAY_INVENTORY_URLS",
            "http://127.0.0.1:8082, http://127.0.0.1:8182,,http://127.0.0.1:8082/",
        )]))
        .unwrap();
        let inventory = config.pool(PoolName::Inventory).unwrap();
        assert_eq!(
            authorities(&inventory.replicas),
            vec!["127.0.0.1:8082", "127.0.0.1:8182"],
            "blanks and duplicates are dropped"
        );
    }

    #[test]
    fn a_pool_can_follow_a_dns_name() {
        let config = Config::from(&env(&[(
            "GATEWAY_INVENTORY_DNS",
            "inventory-headless.shop.svc:8080",
        )]))
        .unwrap();
        assert_eq!(
            config.pool(PoolName::Inventory).unwrap().replicas,
            Replicas::Dns {
                host: "inventory-headless.shop.svc".to_owned(),
                port: 8080
            }
        );
    }

    #[test]
    fn per_pool_timeouts_override_the_upstream_timeout() {
        let config = Config::from(&env(&[
            ("GATEWAY_UPSTREAM_TIMEOUT_MS", "3000"),
            ("GATEWAY_ORDER_TIMEOUT_MS", "500"),
        ]))
        .unwrap();
        assert_eq!(
            config.pool(PoolName::Order).unwrap().timeout,
            Duration::from_millis(500)
        );
        assert_eq!(
            config.pool(PoolName::Payment).unwrap().timeout,
            Duration::from_secs(3)
        );
    }

    #[test]
    fn bad_pool_settings_name_the_variable() {
        for (var, value, expected) in [
            ("GATEWAY_ORDER_URLS", "https://order:8443", "only http://"),
            (
                "GATEWAY_ORDER_URLS",
                "http://order:8083/order",
                "paths are forwarded",
            ),
            ("GATEWAY_ORDER_URLS", " , ", "no upstream URL"),
            ("GATEWAY_ORDER_URLS", "not a url", "not a URL"),
            ("GATEWAY_ORDER_DNS", "order-headless", "name:port"),
            ("GATEWAY_ORDER_DNS", "order-headless:http", "bad port"),
            ("GATEWAY_ORDER_HEALTH_PATH", "health", "must start with /"),
            ("GATEWAY_RATE_LIMIT_PER_SECOND", "0", "cannot parse"),
            ("GATEWAY_EJECT_AFTER_FAILURES", "0", "at least 1"),
        ] {
            let err = Config::from(&env(&[(var, value)])).unwrap_err();
            assert_eq!(err.var, var, "{value}");
            assert!(err.message.contains(expected), "{var}={value}: {err}");
        }
    }

    #[test]
    fn urls_and_dns_for_one_pool_are_rejected() {
        let err = Config::from(&env(&[
            ("GATEWAY_PAYMENT_URLS", "http://127.0.0.1:8084"),
            ("GATEWAY_PAYMENT_DNS", "payment:8080"),
        ]))
        .unwrap_err();
        assert!(err.message.contains("GATEWAY_PAYMENT_URLS"), "{err}");
    }
}
