//! The in-process tier in front of Redis, for caches read far more often than written.
//!
//! A hit here costs a hash lookup instead of a Redis round trip. It must not cost
//! freshness: SPEC §4 promises that no client reads its own write stale, and the load
//! test's staleness check holds every acknowledged write to that. So an eviction is not
//! done until every replica holding a copy has dropped it:
//!
//! 1. every replica keeps a pub/sub subscription to `<prefix>:invalidations` and to its
//!    own acknowledgement channel;
//! 2. [`Cache::evict`](super::Cache::evict) deletes the Redis entries and publishes the
//!    keys in the same Lua script, which returns how many subscribers received them;
//! 3. each subscriber drops its copies, then publishes an acknowledgement to the
//!    evicting replica, which waits for as many as there were receivers (bounded by the
//!    acknowledgement timeout; a replica that received and never answered is logged).
//!
//! A copy is only kept while the subscription is up: a replica whose subscription drops
//! empties the tier and reads through Redis until it has subscribed again, because the
//! invalidations published meanwhile are lost to it. Its own evictions meanwhile still
//! reach the others but are not awaited (their acknowledgements could not reach it). Connection checks (`PING` on the
//! subscription) find a silent connection within a few seconds; the entries' own TTL
//! bounds what a replica cut off from Redis without noticing can serve.
//!
//! A read that fills the tier races the invalidations: it may fetch a value from Redis
//! just before a writer deletes it and store it just after this replica processed the
//! invalidation. Every invalidation moves an epoch on; a fill stores its value and then
//! checks that the epoch it started under is still current, removing its own entry if
//! not. Whichever order the two take, the stale copy does not survive.

use std::{
    any::Any,
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use futures::StreamExt;
use redis::{AsyncCommands, aio::ConnectionManager};
use tokio::{
    sync::{mpsc, watch},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use crate::config::LocalCacheConfig;

/// How often the subscription is checked with a `PING`.
const PING_INTERVAL: Duration = Duration::from_secs(2);
/// The longest pause between two attempts to subscribe again.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(5);

/// A copy as it is served: the value decoded once, when it was read from Redis, so a
/// hit costs a clone of the value instead of a JSON decode.
pub(super) type Value = Arc<dyn Any + Send + Sync>;

#[derive(Clone)]
struct Entry {
    value: Value,
    expires: Instant,
}

/// A fill under way: the epoch it started under.
#[derive(Debug, Clone, Copy)]
pub(super) struct FillTicket(u64);

/// The tier of one [`Cache`](super::Cache) handle.
pub(super) struct LocalTier {
    /// The caches (by name) whose entries are kept here.
    names: Vec<String>,
    entries: quick_cache::sync::Cache<String, Entry>,
    ttl: Duration,
    ack_timeout: Duration,
    /// Whether the subscription is up; copies are kept and served only then.
    live: AtomicBool,
    /// `live`, for whoever waits for a change.
    live_changes: watch::Sender<bool>,
    /// Moved on by every invalidation and every change of `live`.
    epoch: AtomicU64,
    /// `<prefix>:invalidations`.
    channel: String,
    /// Where this replica's evictions are acknowledged.
    ack_channel: String,
    next_eviction: AtomicU64,
    waiting: Mutex<HashMap<u64, mpsc::UnboundedSender<()>>>,
    /// Stops the subscriber when the last handle goes.
    stop: CancellationToken,
}

impl Drop for LocalTier {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The channel every replica of a cache prefix listens on.
pub fn channel(prefix: &str) -> String {
    format!("{prefix}:invalidations")
}

/// The message that empties every replica's local tier (no acknowledgement, no keys),
/// for tools that flush a cache's Redis entries (the load test's cold phase).
pub const PURGE: &str = "\n0";

/// An invalidation message: the acknowledgement channel (empty: none wanted), the
/// eviction's id and the full keys, one per line; no keys at all means every key.
pub(super) fn message(ack_channel: &str, id: u64, keys: &[String]) -> String {
    let mut text = format!("{ack_channel}\n{id}");
    for key in keys {
        text.push('\n');
        text.push_str(key);
    }
    text
}

/// The acknowledgement channel (if any), the id and the keys of an invalidation.
fn parse(message: &str) -> Option<(&str, &str, impl Iterator<Item = &str>)> {
    let mut lines = message.split('\n');
    let ack_channel = lines.next()?;
    let id = lines.next()?;
    Some((ack_channel, id, lines))
}

/// Acknowledgements an eviction waits for; dropping it stops waiting.
pub(super) struct AckWait {
    tier: Arc<LocalTier>,
    id: u64,
    received: mpsc::UnboundedReceiver<()>,
}

impl AckWait {
    /// The eviction's id, sent with its keys.
    pub(super) fn id(&self) -> u64 {
        self.id
    }

    /// Waits for `receivers` acknowledgements, at most the acknowledgement timeout.
    pub(super) async fn wait(mut self, receivers: u64, cache: &str) {
        let deadline = Instant::now() + self.tier.ack_timeout;
        let mut acknowledged = 0;
        while acknowledged < receivers {
            match tokio::time::timeout_at(deadline, self.received.recv()).await {
                Ok(Some(())) => acknowledged += 1,
                Ok(None) | Err(_) => {
                    tracing::warn!(
                        cache,
                        receivers,
                        acknowledged,
                        timeout_ms = self.tier.ack_timeout.as_millis(),
                        "not every replica acknowledged an invalidation; its copy expires by the local TTL"
                    );
                    return;
                }
            }
        }
    }
}

impl Drop for AckWait {
    fn drop(&mut self) {
        self.tier
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

impl LocalTier {
    /// A tier for the caches `names` under `prefix`; [`LocalTier::subscribe`] starts it.
    pub(super) fn new(prefix: &str, names: &[&str], config: &LocalCacheConfig) -> Arc<Self> {
        Arc::new(Self {
            names: names.iter().map(|&name| name.to_owned()).collect(),
            entries: quick_cache::sync::Cache::new(config.capacity.max(1)),
            ttl: config.ttl,
            ack_timeout: config.ack_timeout,
            live: AtomicBool::new(false),
            live_changes: watch::Sender::new(false),
            epoch: AtomicU64::new(0),
            channel: channel(prefix),
            ack_channel: format!("{prefix}:invalidations:ack:{}", uuid::Uuid::new_v4()),
            next_eviction: AtomicU64::new(1),
            waiting: Mutex::new(HashMap::new()),
            stop: CancellationToken::new(),
        })
    }

    /// Whether cache `name` keeps copies here.
    pub(super) fn serves(&self, name: &str) -> bool {
        self.names.iter().any(|served| served == name)
    }

    /// Whether the subscription is up (copies are kept and served).
    pub(super) fn is_live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
    }

    /// Whether the subscription is up, as it changes.
    pub(super) fn live_changes(&self) -> watch::Receiver<bool> {
        self.live_changes.subscribe()
    }

    /// Where this replica's evictions are acknowledged.
    pub(super) fn ack_channel(&self) -> &str {
        &self.ack_channel
    }

    /// The copy of `key`, if there is a fresh one.
    pub(super) fn get(&self, key: &str) -> Option<Value> {
        if !self.is_live() {
            return None;
        }
        let entry = self.entries.get(key)?;
        if entry.expires <= Instant::now() {
            self.entries.remove(key);
            return None;
        }
        Some(entry.value)
    }

    /// Starts a fill; `None` when nothing may be kept now.
    pub(super) fn start_fill(&self) -> Option<FillTicket> {
        // The epoch first: a subscription lost after this moves it on.
        let ticket = FillTicket(self.epoch.load(Ordering::SeqCst));
        self.is_live().then_some(ticket)
    }

    /// Keeps `raw` for `key` unless an invalidation came since `ticket`.
    pub(super) fn finish_fill(&self, ticket: FillTicket, key: String, value: Value) {
        let entry = Entry {
            value,
            expires: Instant::now() + self.ttl,
        };
        self.entries.insert(key.clone(), entry);
        // Stored before this check: an invalidation after it removes the entry itself.
        if self.epoch.load(Ordering::SeqCst) != ticket.0 {
            self.entries.remove(&key);
        }
    }

    /// Drops the copies of `keys` (full keys).
    pub(super) fn invalidate<'a>(&self, keys: impl IntoIterator<Item = &'a str>) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        for key in keys {
            self.entries.remove(key);
        }
    }

    /// Drops every copy.
    fn purge(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries.clear();
    }

    /// Registers an eviction's wait for acknowledgements, before it is published.
    pub(super) fn expect_acks(self: &Arc<Self>) -> AckWait {
        let id = self.next_eviction.fetch_add(1, Ordering::Relaxed);
        let (sender, received) = mpsc::unbounded_channel();
        self.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, sender);
        AckWait {
            tier: Arc::clone(self),
            id,
            received,
        }
    }

    fn acknowledged(&self, id: &str) {
        let Ok(id) = id.parse::<u64>() else {
            return;
        };
        if let Some(sender) = self
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
        {
            let _ = sender.send(());
        }
    }

    fn set_live(&self, live: bool) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if !live {
            self.live.store(false, Ordering::SeqCst);
        }
        self.entries.clear();
        if live {
            self.live.store(true, Ordering::SeqCst);
        }
        self.live_changes.send_replace(live);
    }

    /// Keeps the subscription up for as long as the tier exists.
    pub(super) fn subscribe(self: &Arc<Self>, client: redis::Client, publisher: ConnectionManager) {
        let tier = Arc::downgrade(self);
        let stop = self.stop.clone();
        let (channel, ack_channel) = (self.channel.clone(), self.ack_channel.clone());
        tokio::spawn(async move {
            let mut delay = Duration::from_millis(100);
            loop {
                let outcome = tokio::select! {
                    () = stop.cancelled() => return,
                    outcome = serve(&tier, &client, publisher.clone(), &channel, &ack_channel) => outcome,
                };
                let Some(live) = tier.upgrade() else { return };
                live.set_live(false);
                drop(live);
                match outcome {
                    Ok(()) => return,
                    Err(err) => tracing::warn!(
                        channel,
                        error = %err,
                        "cache invalidations lost; reading through Redis until subscribed again"
                    ),
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(MAX_RECONNECT_DELAY);
            }
        });
    }
}

/// One subscription, until it fails (`Err`) or the tier is gone (`Ok`).
async fn serve(
    tier: &std::sync::Weak<LocalTier>,
    client: &redis::Client,
    mut publisher: ConnectionManager,
    channel: &str,
    ack_channel: &str,
) -> redis::RedisResult<()> {
    let pubsub = client.get_async_pubsub().await?;
    let (mut sink, mut stream) = pubsub.split();
    sink.subscribe(&[channel, ack_channel]).await?;
    match tier.upgrade() {
        Some(tier) => tier.set_live(true),
        None => return Ok(()),
    }
    tracing::info!(channel, "cache invalidations subscribed");
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = stream.next() => {
                let Some(message) = message else {
                    return Err(redis::RedisError::from((
                        redis::ErrorKind::Io,
                        "subscription closed",
                    )));
                };
                let Some(tier) = tier.upgrade() else { return Ok(()) };
                let Ok(payload) = message.get_payload::<String>() else { continue };
                if message.get_channel_name() == ack_channel {
                    tier.acknowledged(&payload);
                    continue;
                }
                let Some((reply_to, id, keys)) = parse(&payload) else { continue };
                let mut keys = keys.peekable();
                if keys.peek().is_none() {
                    tier.purge();
                } else {
                    tier.invalidate(keys);
                }
                drop(tier);
                if !reply_to.is_empty() {
                    let () = publisher.publish(reply_to, id).await?;
                }
            }
            _ = ping.tick() => {
                match tokio::time::timeout(PING_INTERVAL, sink.ping::<redis::Value>()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(err)) => return Err(err),
                    Err(_) => return Err(redis::RedisError::from((
                        redis::ErrorKind::Io,
                        "subscription did not answer PING",
                    ))),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier() -> Arc<LocalTier> {
        let tier = LocalTier::new(
            "test",
            &["product"],
            &LocalCacheConfig {
                enabled: true,
                ttl: Duration::from_secs(60),
                capacity: 100,
                ack_timeout: Duration::from_millis(100),
            },
        );
        tier.set_live(true);
        tier
    }

    #[test]
    fn an_invalidation_message_carries_the_reply_channel_the_id_and_the_keys() {
        let text = message(
            "ack",
            7,
            &["p:product::1".to_owned(), "p:product::2".to_owned()],
        );
        let (reply_to, id, keys) = parse(&text).unwrap();
        assert_eq!((reply_to, id), ("ack", "7"));
        assert_eq!(keys.collect::<Vec<_>>(), ["p:product::1", "p:product::2"]);
        let text = message("", 1, &["k".to_owned()]);
        let (reply_to, _, keys) = parse(&text).unwrap();
        assert_eq!(reply_to, "");
        assert_eq!(keys.count(), 1);
    }

    #[test]
    fn the_purge_message_has_no_keys() {
        let (reply_to, _, mut keys) = parse(PURGE).unwrap();
        assert_eq!(reply_to, "");
        assert!(keys.next().is_none());
    }

    #[tokio::test]
    async fn a_fill_that_raced_an_invalidation_keeps_nothing() {
        let tier = tier();
        let ticket = tier.start_fill().unwrap();
        // The value was read from Redis before the writer deleted it; the invalidation
        // is processed before the fill stores it.
        tier.invalidate(["k"]);
        tier.finish_fill(ticket, "k".to_owned(), Arc::new("old"));
        assert!(tier.get("k").is_none());
        // A fill that started after the invalidation keeps its value.
        let ticket = tier.start_fill().unwrap();
        tier.finish_fill(ticket, "k".to_owned(), Arc::new("new"));
        let kept = tier.get("k").expect("the later fill is kept");
        assert_eq!(kept.downcast_ref::<&str>(), Some(&"new"));
    }

    #[tokio::test]
    async fn nothing_is_kept_or_served_while_the_subscription_is_down() {
        let tier = tier();
        let ticket = tier.start_fill().unwrap();
        tier.finish_fill(ticket, "k".to_owned(), Arc::new(1));
        assert!(tier.get("k").is_some());
        tier.set_live(false);
        assert!(
            tier.get("k").is_none(),
            "served while invalidations may be lost"
        );
        assert!(tier.start_fill().is_none());
        tier.set_live(true);
        assert!(
            tier.get("k").is_none(),
            "a copy from before the outage survived it"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_copy_expires_after_the_local_ttl() {
        let tier = tier();
        let ticket = tier.start_fill().unwrap();
        tier.finish_fill(ticket, "k".to_owned(), Arc::new(1));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(tier.get("k").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn acknowledgements_end_the_wait_and_a_missing_one_times_out() {
        let tier = tier();
        let wait = tier.expect_acks();
        tier.acknowledged(&wait.id().to_string());
        tier.acknowledged(&wait.id().to_string());
        wait.wait(2, "product").await;
        assert!(tier.waiting.lock().unwrap().is_empty());
        let wait = tier.expect_acks();
        let started = Instant::now();
        wait.wait(1, "product").await;
        assert!(started.elapsed() >= Duration::from_millis(100));
    }
}
