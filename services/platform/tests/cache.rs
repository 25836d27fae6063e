//! The cache-aside contract on real Redis: a read that loaded before a write never stores
//! what it loaded once the write has evicted the entry.

use std::time::Duration;

use platform::{
    cache::{Cache, CacheStatus},
    config::CacheConfig,
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
