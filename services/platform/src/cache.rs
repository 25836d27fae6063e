//! Cache-aside over Redis.
//!
//! Keys are `<prefix>:<cache>::<key>` (the original's `cache::key`, under a per-service
//! prefix). Values are JSON with an explicit TTL. The cache is strictly an optimisation:
//! every failure (Redis down, slow, a value that no longer deserializes) counts as a miss
//! and the caller reads the source; after a failure the cache is skipped for a second so
//! a dead Redis costs one timeout per second, not one per request.
//!
//! A read that misses must not store a value older than a concurrent write: the reader
//! loads the source before the writer commits, the writer evicts, and then the reader
//! stores what it loaded, stale until the TTL. So every entry has a generation
//! (`<key>#gen`) that [`Cache::evict`] increments; [`Cache::get_or_load`] notes the
//! generation before loading and stores the value only if it is unchanged (one Lua
//! script, atomic in Redis). Writers commit first and evict second, so a reader either
//! loads after the commit or finds the generation moved and stores nothing.
//!
//! A cache a service names in [`Cache::with_local_tier`] also keeps copies in the
//! process, dropped by every replica before an eviction returns ([`local`] says how).
//! Evictions publish their keys whether or not this handle keeps copies, so a service
//! evicting another's entries reaches that service's replicas too.

mod local;

pub use local::{PURGE, channel as invalidation_channel};

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::response::{IntoResponseParts, ResponseParts};
use redis::{AsyncCommands, aio::ConnectionManager};
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    config::{CacheConfig, LocalCacheConfig, expose},
    metrics::Metrics,
};

/// Whether a read was served from the cache; also the `x-cache` response header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// Served from Redis.
    Hit,
    /// Read from the source (and stored when possible).
    Miss,
}

impl IntoResponseParts for CacheStatus {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        let value = match self {
            Self::Hit => "HIT",
            Self::Miss => "MISS",
        };
        res.headers_mut()
            .insert("x-cache", http::HeaderValue::from_static(value));
        Ok(res)
    }
}

/// A handle on the service's cache; cheap to clone.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

struct Inner {
    connection: Option<ConnectionManager>,
    /// For the local tier's subscription.
    client: Option<redis::Client>,
    /// Copies in the process, for the caches named in [`Cache::with_local_tier`].
    local: Option<Arc<local::LocalTier>>,
    prefix: String,
    metrics: Metrics,
    /// Unix millis until which the cache is skipped after a failure.
    skip_until_ms: AtomicU64,
    /// Whether [`Cache::evict`] evicts; off only in [`Cache::without_eviction`].
    evicts: bool,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("prefix", &self.inner.prefix)
            .field("enabled", &self.inner.connection.is_some())
            .field("evicts", &self.inner.evicts)
            .field(
                "local",
                &self.inner.local.as_ref().map(|local| local.is_live()),
            )
            .finish()
    }
}

const BACKOFF_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// How long a generation outlives its last eviction; far longer than any load.
const GENERATION_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Stores `ARGV[2]` at `KEYS[1]` for `ARGV[3]` seconds if the generation `KEYS[2]` is
/// still `ARGV[1]` (`""` for none).
const STORE_IF_UNCHANGED: &str = r"
if (redis.call('GET', KEYS[2]) or '') == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
";

/// How often an eviction is tried before the entry is left to its TTL.
const EVICT_ATTEMPTS: u32 = 3;
/// The pause before the second attempt (doubled before the third).
const EVICT_RETRY_DELAY: Duration = Duration::from_millis(50);

/// For each pair (entry, generation) in `KEYS`: deletes the entry and moves the
/// generation on, keeping it for `ARGV[1]` milliseconds; then publishes `ARGV[3]` (the
/// invalidation) on channel `ARGV[2]` and returns how many subscribers received it.
const EVICT: &str = r"
for i = 1, #KEYS, 2 do
  redis.call('DEL', KEYS[i])
  redis.call('INCR', KEYS[i + 1])
  redis.call('PEXPIRE', KEYS[i + 1], ARGV[1])
end
return redis.call('PUBLISH', ARGV[2], ARGV[3])
";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Cache {
    /// Connects lazily; a Redis that is down at start-up is retried on use.
    pub fn new(config: &CacheConfig, metrics: Metrics) -> Self {
        let (connection, client) = if config.enabled {
            match redis::Client::open(expose(&config.url)) {
                Ok(client) => {
                    let manager_config = redis::aio::ConnectionManagerConfig::new()
                        .set_connection_timeout(Some(config.timeout))
                        .set_response_timeout(Some(config.timeout))
                        .set_number_of_retries(1);
                    let connection =
                        ConnectionManager::new_lazy_with_config(client.clone(), manager_config)
                            .inspect_err(|err| tracing::warn!(error = %err, "cache disabled"))
                            .ok();
                    (connection, Some(client))
                }
                Err(err) => {
                    tracing::warn!(error = %err, "invalid Redis URL, cache disabled");
                    (None, None)
                }
            }
        } else {
            (None, None)
        };
        Self {
            inner: Arc::new(Inner {
                connection,
                client,
                local: None,
                prefix: config.prefix.clone(),
                metrics,
                skip_until_ms: AtomicU64::new(0),
                evicts: true,
            }),
        }
    }

    /// A deliberately broken cache whose [`Cache::evict`] does nothing, so writes leave
    /// stale entries until their TTL. Only for the load test's staleness check, which
    /// must be shown to fail against it; never configure it in a deployment.
    pub fn without_eviction(config: &CacheConfig, metrics: Metrics) -> Self {
        let mut cache = Self::new(config, metrics);
        if let Some(inner) = Arc::get_mut(&mut cache.inner) {
            inner.evicts = false;
        }
        cache
    }

    /// Keeps copies of the caches `names` in the process as well (see [`local`]); does
    /// nothing when the tier or the cache is disabled. Call it on a new handle, before
    /// cloning it, inside the Tokio runtime (it starts the invalidation subscriber).
    #[must_use]
    pub fn with_local_tier(mut self, names: &[&str], config: &LocalCacheConfig) -> Self {
        if !config.enabled || names.is_empty() {
            return self;
        }
        let Some(inner) = Arc::get_mut(&mut self.inner) else {
            tracing::warn!("the local cache tier must be set up before the handle is cloned");
            return self;
        };
        if let (Some(client), Some(connection)) = (&inner.client, &inner.connection) {
            let tier = local::LocalTier::new(&inner.prefix, names, config);
            tier.subscribe(client.clone(), connection.clone());
            inner.local = Some(tier);
        }
        self
    }

    /// Whether the local tier is subscribed to invalidations (and so keeps and serves
    /// copies), as it changes; `None` without a local tier.
    pub fn local_tier_live(&self) -> Option<tokio::sync::watch::Receiver<bool>> {
        self.inner.local.as_ref().map(|local| local.live_changes())
    }

    /// The full Redis key of `key` in cache `name`.
    pub fn key(&self, name: &str, key: &str) -> String {
        // Built by hand: `format!` costs several times as much, on every cached read.
        let prefix = &self.inner.prefix;
        let mut full = String::with_capacity(prefix.len() + name.len() + key.len() + 3);
        full.push_str(prefix);
        full.push(':');
        full.push_str(name);
        full.push_str("::");
        full.push_str(key);
        full
    }

    fn generation_key(full_key: &str) -> String {
        format!("{full_key}#gen")
    }

    fn connection(&self) -> Option<ConnectionManager> {
        if now_ms() < self.inner.skip_until_ms.load(Ordering::Relaxed) {
            return None;
        }
        self.inner.connection.clone()
    }

    fn failed(&self, op: &str, err: &redis::RedisError) {
        tracing::warn!(cache.op = op, error = %err, "cache unavailable, using the source");
        let until = now_ms() + u64::try_from(BACKOFF_AFTER_FAILURE.as_millis()).unwrap_or(1000);
        self.inner.skip_until_ms.store(until, Ordering::Relaxed);
    }

    /// The cached value, or `None` on a miss or any failure.
    pub async fn get<T>(&self, name: &str, key: &str) -> Option<T>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let full = self.key(name, key);
        let local = self.inner.local.as_ref().filter(|local| local.serves(name));
        if let Some(value) = local.and_then(|local| local.get(&full))
            && let Some(value) = value.downcast_ref::<T>()
        {
            self.inner.metrics.cache(name, "local_hit");
            return Some(value.clone());
        }
        let Some(mut conn) = self.connection() else {
            self.inner.metrics.cache(name, "miss");
            return None;
        };
        let fill = local.and_then(|local| local.start_fill().map(|ticket| (local, ticket)));
        let raw: Result<Option<String>, _> = conn.get(&full).await;
        match raw {
            Ok(Some(raw)) => match serde_json::from_str::<T>(&raw) {
                Ok(value) => {
                    if let Some((local, ticket)) = fill {
                        local.finish_fill(ticket, full, Arc::new(value.clone()));
                    }
                    self.inner.metrics.cache(name, "hit");
                    Some(value)
                }
                Err(err) => {
                    tracing::warn!(cache = name, error = %err, "unreadable cache entry ignored");
                    self.inner.metrics.cache(name, "miss");
                    None
                }
            },
            Ok(None) => {
                self.inner.metrics.cache(name, "miss");
                None
            }
            Err(err) => {
                self.failed("get", &err);
                self.inner.metrics.cache(name, "error");
                None
            }
        }
    }

    /// Stores `value` for `ttl`. Failures are logged, never returned.
    pub async fn put<T: Serialize>(&self, name: &str, key: &str, value: &T, ttl: Duration) {
        let Some(mut conn) = self.connection() else {
            return;
        };
        let Ok(raw) = serde_json::to_string(value) else {
            return;
        };
        let result: Result<(), _> = conn
            .set_ex(self.key(name, key), raw, ttl.as_secs().max(1))
            .await;
        if let Err(err) = result {
            self.failed("put", &err);
        }
    }

    /// Removes entries and moves their generations on, so that no read already under way
    /// stores what it loaded before the change, and publishes the keys to every replica's
    /// local tier; with a subscribed local tier of its own, returns once every replica
    /// that received them has dropped its copies (or the acknowledgement timeout passed).
    /// A failed eviction is logged loudly: the TTL bounds the staleness.
    pub async fn evict(&self, name: &str, keys: &[String]) {
        if keys.is_empty() || !self.inner.evicts {
            return;
        }
        let Some(mut conn) = self.inner.connection.clone() else {
            return;
        };
        let full: Vec<String> = keys.iter().map(|key| self.key(name, key)).collect();
        // This replica's own copies go at once; the others' before this returns.
        let local = self.inner.local.as_ref();
        if let Some(local) = local {
            local.invalidate(full.iter().map(String::as_str));
        }
        // While this replica's own subscription is down the acknowledgements could not
        // reach it: the others still drop their copies, unawaited.
        let mut acks = local
            .filter(|local| local.is_live())
            .map(local::LocalTier::expect_acks);
        let invalidation = match (local, &acks) {
            (Some(local), Some(acks)) => local::message(local.ack_channel(), acks.id(), &full),
            _ => local::message("", 0, &full),
        };
        let mut command = redis::cmd("EVAL");
        command.arg(EVICT).arg(keys.len() * 2);
        for full in &full {
            command.arg(full).arg(Self::generation_key(full));
        }
        command
            .arg(u64::try_from(GENERATION_TTL.as_millis()).unwrap_or(u64::MAX))
            .arg(local::channel(&self.inner.prefix))
            .arg(invalidation);
        // A lost eviction leaves a stale entry for its whole TTL, so it is worth a retry
        // where a read is not: a response timeout on a busy machine is the usual cause
        // (the load test found customers seeing PENDING payments for minutes). Evicting
        // twice is harmless.
        let mut attempt = 1;
        loop {
            let result: Result<u64, _> = command.query_async(&mut conn).await;
            match result {
                Ok(receivers) => {
                    if let Some(acks) = acks.take() {
                        acks.wait(receivers, name).await;
                    }
                    return;
                }
                Err(err) if attempt < EVICT_ATTEMPTS => {
                    tracing::warn!(cache = name, attempt, error = %err, "cache eviction failed, retrying");
                    tokio::time::sleep(EVICT_RETRY_DELAY * attempt).await;
                    attempt += 1;
                }
                Err(err) => {
                    tracing::error!(cache = name, error = %err, "cache eviction failed; entries expire by TTL");
                    self.failed("evict", &err);
                    return;
                }
            }
        }
    }

    /// Cache-aside: the cached value, or `load()` stored for `ttl`.
    pub async fn get_or_load<T, E, F>(
        &self,
        name: &str,
        key: &str,
        ttl: Duration,
        load: F,
    ) -> Result<(T, CacheStatus), E>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        F: std::future::Future<Output = Result<T, E>>,
    {
        if let Some(value) = self.get(name, key).await {
            return Ok((value, CacheStatus::Hit));
        }
        let full = self.key(name, key);
        let generation = self.generation(&full).await;
        let value = load.await?;
        if let Some(generation) = generation {
            self.store_if_unchanged(&full, &generation, &value, ttl)
                .await;
        }
        Ok((value, CacheStatus::Miss))
    }

    /// The entry's current generation (`""` if it was never evicted), or `None` if the
    /// cache cannot be used now.
    async fn generation(&self, full_key: &str) -> Option<String> {
        let mut conn = self.connection()?;
        let generation: Result<Option<String>, _> = conn.get(Self::generation_key(full_key)).await;
        match generation {
            Ok(generation) => Some(generation.unwrap_or_default()),
            Err(err) => {
                self.failed("get", &err);
                None
            }
        }
    }

    async fn store_if_unchanged<T: Serialize>(
        &self,
        full_key: &str,
        generation: &str,
        value: &T,
        ttl: Duration,
    ) {
        let Some(mut conn) = self.connection() else {
            return;
        };
        let Ok(raw) = serde_json::to_string(value) else {
            return;
        };
        let result: Result<i64, _> = redis::cmd("EVAL")
            .arg(STORE_IF_UNCHANGED)
            .arg(2)
            .arg(full_key)
            .arg(Self::generation_key(full_key))
            .arg(generation)
            .arg(raw)
            .arg(ttl.as_secs().max(1))
            .query_async(&mut conn)
            .await;
        match result {
            Ok(0) => tracing::debug!(
                cache.key = full_key,
                "entry changed while loading, not stored"
            ),
            Ok(_) => {}
            Err(err) => self.failed("put", &err),
        }
    }

    /// Readiness probe.
    pub async fn ping(&self) -> Result<(), String> {
        let Some(mut conn) = self.inner.connection.clone() else {
            return Err("cache disabled".to_owned());
        };
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(drop)
            .map_err(|err| err.to_string())
    }
}
