//! The all-or-nothing stock rule of the purchase saga, for carts of 1, 10 and 100 lines.

use std::{collections::BTreeMap, hint::black_box};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use inventory::domain::{StockLevel, check_stock};

fn stock_check(c: &mut Criterion) {
    let mut group = c.benchmark_group("stock_check");
    for lines in [1_i64, 10, 100] {
        let wanted: BTreeMap<i64, i32> = (1..=lines).map(|id| (id, 2)).collect();
        let stock: Vec<StockLevel> = (1..=lines)
            .map(|id| StockLevel {
                id,
                quantity: 10,
                available_in_region: true,
            })
            .collect();
        group.bench_with_input(BenchmarkId::new("approved", lines), &lines, |b, _| {
            b.iter(|| check_stock(black_box(&wanted), black_box(&stock)));
        });
        let mut short = stock.clone();
        if let Some(last) = short.last_mut() {
            last.quantity = 1;
        }
        group.bench_with_input(
            BenchmarkId::new("rejected_last_line", lines),
            &lines,
            |b, _| {
                b.iter(|| check_stock(black_box(&wanted), black_box(&short)));
            },
        );
    }
    group.finish();
}

criterion_group!(benches, stock_check);
criterion_main!(benches);
