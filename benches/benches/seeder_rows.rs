//! The seeder's pure row generators, `(plan, index) → row`: their speed bounds how fast
//! the seeder can stream rows into `COPY`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use seeder::{Plan, generate};

fn rows(c: &mut Criterion) {
    let plan = Plan::with_counts(42, 100_000, 10_000, 300_000);
    let mut group = c.benchmark_group("seeder_rows");
    group.throughput(Throughput::Elements(1));
    let mut i = 0u64;
    group.bench_function("user", |b| {
        b.iter(|| {
            i = (i + 1) % plan.users;
            generate::user(black_box(&plan), i)
        })
    });
    group.bench_function("addresses", |b| {
        b.iter(|| {
            i = (i + 1) % plan.users;
            generate::addresses(black_box(&plan), i)
        })
    });
    group.bench_function("product", |b| {
        b.iter(|| {
            i = (i + 1) % plan.products;
            generate::product(black_box(&plan), i)
        })
    });
    group.bench_function("payment", |b| {
        b.iter(|| {
            i = (i + 1) % plan.payments;
            generate::payment(black_box(&plan), i)
        })
    });
    group.bench_function("order", |b| {
        b.iter(|| {
            i = (i + 1) % plan.payments;
            generate::order(black_box(&plan), i)
        })
    });
    group.finish();
}

criterion_group!(benches, rows);
criterion_main!(benches);
