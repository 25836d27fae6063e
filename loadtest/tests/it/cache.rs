//! Issue 7, build point 4: the staleness check passes against the cache as deployed
//! and fails against one that never evicts; the cache phases measure hits and queries.

use std::time::Duration;

use loadtest::{
    cache_experiment::{self, Probes},
    dataset::Dataset,
    journeys::Weights,
    staleness::{self, StalenessConfig},
};
use seeder::generate;

use crate::{
    plan,
    shop::{Knobs, Shop},
    short_run,
};

fn staleness_config(shop: &Shop) -> StalenessConfig {
    let data =
        Dataset::from_plan(&shop.plan, 0..shop.plan.users, generate::LOAD_TEST_PASSWORD).unwrap();
    StalenessConfig {
        gateway: shop.gateway.clone(),
        manager: data.next_manager().cloned().expect("a manager"),
        customer: data.next_customer().clone(),
        products: data.products.iter().copied().take(5).collect(),
        readers: 4,
        duration: Duration::from_secs(2),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_staleness_check_passes_with_eviction_and_fails_against_a_cache_that_never_evicts() {
    let plan = plan();
    let evicting = Shop::start(Knobs::seeded(plan.clone())).await;
    let report = staleness::check(&staleness_config(&evicting))
        .await
        .unwrap();
    assert!(report.passed(), "{report:?}");
    assert_eq!(report.errors, 0, "{report:?}");
    drop(evicting);

    let stale = Shop::start(Knobs {
        inventory_eviction: false,
        ..Knobs::seeded(plan)
    })
    .await;
    let report = staleness::check(&staleness_config(&stale)).await.unwrap();
    assert!(
        !report.passed(),
        "a cache that never evicts passed: {report:?}"
    );
    let first = &report.stale[0];
    assert!(first.read_cents < first.acknowledged_cents, "{first:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_cache_serves_catalogue_reads_from_the_cache() {
    let plan = plan();
    let shop = Shop::start(Knobs::seeded(plan.clone())).await;
    let cache = shop.inventory_cache();
    let probes = Probes {
        redis_url: cache.url.clone(),
        product_keys: format!("{}:product::*", cache.prefix),
        invalidations: platform::cache::invalidation_channel(&cache.prefix),
        database_url: Some(shop.database("inventory").url.clone()),
    };
    let out = tempfile::tempdir().unwrap();
    let mut config = short_run(&shop.gateway, &plan, out.path(), "cold");
    config.weights = Weights {
        shopper: 0,
        returning: 0,
        manager: 0,
        catalog: 1,
    };
    config.run_time = Duration::from_secs(2);
    config.thresholds = None;
    let cold = cache_experiment::phase("cache on, cold", &probes, &config, true)
        .await
        .unwrap();
    config.label = "warm".to_owned();
    let warm = cache_experiment::phase("cache on, warm", &probes, &config, false)
        .await
        .unwrap();

    let table = cache_experiment::markdown(&[cold.clone(), warm.clone()]);
    assert!(cold.reads > 0 && warm.reads > 0, "{table}");
    assert_eq!(warm.results.total_errors(), 0, "{table}");
    // Every warm read is a hit, most of them from inventory's local tier, so Redis
    // sees far fewer reads than the gateway answered.
    assert_eq!(warm.results.cache.get("HIT"), Some(&warm.reads), "{table}");
    assert_eq!(warm.served_from_cache, Some(1.0), "{table}");
    assert!(
        cold.results
            .cache
            .get("MISS")
            .is_some_and(|misses| *misses > 0),
        "{table}"
    );
    assert!(warm.db_queries_per_read.is_some(), "{table}");
}

#[test]
fn the_cold_start_empties_local_tiers_the_way_the_platform_reads_it() {
    assert_eq!(cache_experiment::PURGE, platform::cache::PURGE);
    assert_eq!(
        platform::cache::invalidation_channel("inventory"),
        "inventory:invalidations",
        "the default of `loadtest cache --invalidations`"
    );
}
