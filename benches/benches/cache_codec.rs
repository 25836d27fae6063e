//! What a cached read costs besides Redis: the key, and the value's JSON both ways
//! (inventory's cached `Product`, payment's cached payment list).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use inventory::domain::{Category, Product};
use platform::{cache::Cache, config::CacheConfig, metrics::Metrics};
use rust_decimal::Decimal;
use secrecy::SecretString;

fn product(id: i64) -> Product {
    Product {
        id,
        name: "Garrison Sturdy Laptop".to_owned(),
        price: Decimal::new(299_999, 2),
        category: Category::Electronics,
        quantity: 120,
        available_in_region: true,
    }
}

fn codec(c: &mut Criterion) {
    // Disabled: no Redis is touched, only the key and the codec are measured.
    let cache = Cache::new(
        &CacheConfig {
            url: SecretString::from("redis://127.0.0.1:6379"),
            prefix: "inventory".to_owned(),
            enabled: false,
            timeout: std::time::Duration::from_millis(250),
        },
        Metrics::new(),
    );
    let mut group = c.benchmark_group("cache");
    group.bench_function("key", |b| {
        b.iter(|| cache.key(black_box("product"), black_box("123456")))
    });
    let one = product(42);
    let raw = serde_json::to_string(&one).expect("serializes");
    group.bench_function("serialize_product", |b| {
        b.iter(|| serde_json::to_string(black_box(&one)))
    });
    group.bench_function("deserialize_product", |b| {
        b.iter(|| serde_json::from_str::<Product>(black_box(&raw)))
    });
    let page: Vec<Product> = (1..=50).map(product).collect();
    let raw_page = serde_json::to_string(&page).expect("serializes");
    group.bench_function("serialize_50_products", |b| {
        b.iter(|| serde_json::to_string(black_box(&page)))
    });
    group.bench_function("deserialize_50_products", |b| {
        b.iter(|| serde_json::from_str::<Vec<Product>>(black_box(&raw_page)))
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
