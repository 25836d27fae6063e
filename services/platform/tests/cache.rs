//! The cache-aside contract on real Redis: a read that loaded before a write never stores
//! what it loaded once the write has evicted the entry; the local tier's copies are gone
//! from every replica once an eviction returns, and are not used while a replica may be
//! missing invalidations.

use std::time::Duration;

use platform::{
    cache::{Cache, CacheStatus},
    config::{CacheConfig, LocalCacheConfig},
    metrics::Metrics,
};
use secrecy::SecretString;
use testkit::TestCache;
use tokio::sync::oneshot;

const TTL: Duration = Duration::from_secs(60);

fn cache(test: &TestCache) -> Cache {
    Cache::new(
        &CacheConfig {
            url: SecretString::from(test.url.clone()),
            prefix: test.prefix.clone(),
            enabled: true,
            timeout: Duration::from_secs(2),
        },
        Metrics::new(),
    )
}

async fn load(cache: &Cache, value: &str) -> (String, CacheStatus) {
    cache
        .get_or_load("cart", "c1", TTL, async { Ok::<_, ()>(value.to_owned()) })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_miss_stores_the_loaded_value_and_the_next_read_hits() {
    let test = TestCache::new("platform").await;
    let cache = cache(&test);
    assert_eq!(
        load(&cache, "empty").await,
        ("empty".to_owned(), CacheStatus::Miss)
    );
    assert_eq!(
        load(&cache, "ignored").await,
        ("empty".to_owned(), CacheStatus::Hit)
    );
}

#[tokio::test]
async fn a_value_loaded_before_a_write_is_not_stored_after_its_eviction() {
    let test = TestCache::new("platform").await;
    let cache = cache(&test);
    let (loaded_tx, loaded_rx) = oneshot::channel::<()>();
    let (release_tx, release_rx) = oneshot::channel::<()>();
    // The reader has read the source ("empty") and is about to store it...
    let reader = {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .get_or_load("cart", "c1", TTL, async {
                    let stale = "empty".to_owned();
                    loaded_tx.send(()).unwrap();
                    release_rx.await.unwrap();
                    Ok::<_, ()>(stale)
                })
                .await
                .unwrap()
        })
    };
    loaded_rx.await.unwrap();
    // ...when a writer commits ("one lamp") and evicts.
    cache.evict("cart", &["c1".to_owned()]).await;
    release_tx.send(()).unwrap();
    assert_eq!(
        reader.await.unwrap(),
        ("empty".to_owned(), CacheStatus::Miss),
        "the reader answers what it read"
    );
    // The stale value was not stored: the next read loads the source again.
    assert_eq!(
        load(&cache, "one lamp").await,
        ("one lamp".to_owned(), CacheStatus::Miss)
    );
    assert_eq!(
        load(&cache, "ignored").await,
        ("one lamp".to_owned(), CacheStatus::Hit)
    );
}

#[tokio::test]
async fn an_eviction_drops_the_entry_for_every_later_read() {
    let test = TestCache::new("platform").await;
    let cache = cache(&test);
    load(&cache, "v1").await;
    cache.evict("cart", &["c1".to_owned()]).await;
    assert_eq!(
        load(&cache, "v2").await,
        ("v2".to_owned(), CacheStatus::Miss)
    );
    assert_eq!(
        load(&cache, "v3").await,
        ("v2".to_owned(), CacheStatus::Hit)
    );
}

// The local tier: copies in the process, dropped by every replica before an eviction
// returns.

fn replica(test: &TestCache, url: &str) -> Cache {
    replica_with(test, url, Metrics::new())
}

fn replica_with(test: &TestCache, url: &str, metrics: Metrics) -> Cache {
    Cache::new(
        &CacheConfig {
            url: SecretString::from(url.to_owned()),
            prefix: test.prefix.clone(),
            enabled: true,
            timeout: Duration::from_secs(2),
        },
        metrics,
    )
    .with_local_tier(&["cart"], &LocalCacheConfig::default())
}

async fn until_local_tier(cache: &Cache, live: bool) {
    let mut changes = cache.local_tier_live().expect("a local tier");
    tokio::time::timeout(
        Duration::from_secs(10),
        changes.wait_for(|now| *now == live),
    )
    .await
    .expect("the local tier changes state within 10 s")
    .expect("the local tier is still there");
}

async fn redis(test: &TestCache) -> redis::aio::MultiplexedConnection {
    redis::Client::open(test.url.clone())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// What a plain read (no loading) answers.
async fn cached(cache: &Cache) -> Option<String> {
    cache.get("cart", "c1").await
}

/// Deletes the Redis entry behind the cache's back (no eviction, no invalidation).
async fn delete_in_redis(test: &TestCache, conn: &mut redis::aio::MultiplexedConnection) {
    let deleted: u64 = redis::cmd("DEL")
        .arg(format!("{}:cart::c1", test.prefix))
        .query_async(conn)
        .await
        .unwrap();
    assert_eq!(deleted, 1, "the entry was in Redis");
}

#[tokio::test]
async fn a_local_copy_answers_reads_without_redis_until_the_entry_is_evicted() {
    let test = TestCache::new("platform").await;
    let metrics = Metrics::new();
    let cache = replica_with(&test, &test.url, metrics.clone());
    until_local_tier(&cache, true).await;
    load(&cache, "v1").await;
    // A read from Redis keeps a copy.
    assert_eq!(cached(&cache).await.as_deref(), Some("v1"));
    delete_in_redis(&test, &mut redis(&test).await).await;
    assert_eq!(
        load(&cache, "ignored").await,
        ("v1".to_owned(), CacheStatus::Hit),
        "the copy answered"
    );
    let text = metrics.render();
    for (result, count) in [("miss", 1), ("hit", 1), ("local_hit", 1)] {
        assert!(
            text.contains(&format!(
                r#"cache_requests_total{{cache="cart",result="{result}"}} {count}"#
            )),
            "{result}: {text}"
        );
    }
    cache.evict("cart", &["c1".to_owned()]).await;
    assert_eq!(
        load(&cache, "v2").await,
        ("v2".to_owned(), CacheStatus::Miss)
    );
}

#[tokio::test]
async fn an_eviction_returns_only_once_every_replica_dropped_its_copy() {
    let test = TestCache::new("platform").await;
    let (reader, writer) = (replica(&test, &test.url), replica(&test, &test.url));
    until_local_tier(&reader, true).await;
    until_local_tier(&writer, true).await;
    load(&reader, "v1").await;
    assert_eq!(cached(&reader).await.as_deref(), Some("v1"));
    // The writer commits "v2" and evicts; the reader's very next read must not answer
    // its copy of "v1".
    writer.evict("cart", &["c1".to_owned()]).await;
    assert_eq!(
        load(&reader, "v2").await,
        ("v2".to_owned(), CacheStatus::Miss)
    );
}

#[tokio::test]
async fn a_replica_that_lost_its_subscription_reads_through_redis_until_it_is_back() {
    let test = TestCache::new("platform").await;
    // Its own Redis user, so that killing its subscription touches no other test.
    let user = format!("{}-user", test.prefix.replace(':', "-"));
    let mut admin = redis(&test).await;
    let () = redis::cmd("ACL")
        .arg(&["SETUSER", &user, "on", ">secret", "~*", "&*", "+@all"])
        .query_async(&mut admin)
        .await
        .unwrap();
    let mut url = reqwest::Url::parse(&test.url).unwrap();
    url.set_username(&user).unwrap();
    url.set_password(Some("secret")).unwrap();
    let cache = replica(&test, url.as_str());
    until_local_tier(&cache, true).await;
    load(&cache, "v1").await;
    assert_eq!(cached(&cache).await.as_deref(), Some("v1"));

    let killed: u64 = redis::cmd("CLIENT")
        .arg(&["KILL", "USER", &user, "TYPE", "pubsub"])
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(killed, 1, "the replica's subscription was killed");
    until_local_tier(&cache, false).await;
    // Invalidations published now would be lost to it, so its copy is gone.
    delete_in_redis(&test, &mut admin).await;
    assert_eq!(
        load(&cache, "v2").await,
        ("v2".to_owned(), CacheStatus::Miss)
    );
    // Subscribed again, it keeps copies again.
    until_local_tier(&cache, true).await;
    assert_eq!(cached(&cache).await.as_deref(), Some("v2"));
    delete_in_redis(&test, &mut admin).await;
    assert_eq!(cached(&cache).await.as_deref(), Some("v2"));
    let () = redis::cmd("ACL")
        .arg(&["DELUSER", &user])
        .query_async::<u64>(&mut admin)
        .await
        .map(drop)
        .unwrap();
}
