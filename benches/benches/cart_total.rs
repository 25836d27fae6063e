//! The cart's exact total (Σ price × quantity in decimals), as payment computes it for
//! every cart view and checkout.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use payment::domain::{cart::Cart, product::Line};
use rust_decimal::Decimal;

fn cart(lines: i64) -> Cart {
    let mut cart = Cart::empty("c908ce9d-faec-4570-b84d-71a4e77f2f4a");
    for id in 1..=lines {
        let price = Decimal::new(1999 + id * 37, 2);
        let line = Line::new(id, "Garrison Sturdy Hammer", price, "TOOL", 1 + id % 3)
            .expect("a valid line");
        cart.add(line);
    }
    cart
}

fn total(c: &mut Criterion) {
    let mut group = c.benchmark_group("cart_total");
    for lines in [1, 5, 50] {
        let cart = cart(lines);
        group.bench_with_input(BenchmarkId::from_parameter(lines), &cart, |b, cart| {
            b.iter(|| black_box(cart).total_price())
        });
    }
    group.finish();
}

criterion_group!(benches, total);
criterion_main!(benches);
