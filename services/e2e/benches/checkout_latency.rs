//! Time from accepting a payment to the order being visible, over sequential checkouts.
//!
//! `cargo bench -p e2e --bench checkout_latency [-- --checkouts N]` starts the whole shop
//! in process (every service real, on the Postgres, RabbitMQ and Redis the tests use),
//! then one customer checks out N times (default 100), one checkout at a time: fill the
//! cart, accept, and poll `/order/ofCurrentCustomer` through the gateway every
//! millisecond until the new order is there. Prints p50, p90, p99 and max.
//!
//! The saga between the two (payment.saved → inventory → product.checked → payment →
//! payment.approved → order) crosses the broker three times and three outboxes.

#![allow(missing_docs)]

#[allow(dead_code)]
#[path = "../tests/it/shop.rs"]
mod shop;

#[allow(dead_code)]
#[path = "../tests/it/journey.rs"]
mod journey;

use std::time::{Duration, Instant};

use crate::{
    journey::{accept, add_address, add_to_cart, manager, orders, product},
    shop::{Knobs, Shop},
};

const DEADLINE: Duration = Duration::from_secs(30);

fn checkouts() -> usize {
    let mut args = std::env::args()
        .skip_while(|arg| arg != "--checkouts")
        .skip(1);
    args.next()
        .map(|n| n.parse().expect("--checkouts takes a number"))
        .unwrap_or(100)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; the filter arguments of libtest mean nothing here.
    let n = checkouts();
    let shop = Shop::start(Knobs::default()).await;
    let vader = manager(&shop).await;
    let item = product(&shop, &vader, "Benchmark lamp", 10.0, n as i64).await;
    let customer = shop.new_customer("bench").await;
    add_address(&shop, &customer).await;

    let mut latencies = Vec::with_capacity(n);
    for i in 0..n {
        add_to_cart(&shop, &customer, item, 1).await;
        accept(&shop, &customer).await;
        let accepted = Instant::now();
        loop {
            if orders(&shop, &customer).await.map(|o| o.len()) == Some(i + 1) {
                break;
            }
            assert!(
                accepted.elapsed() < DEADLINE,
                "checkout {i}: no order after {DEADLINE:?}"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        latencies.push(accepted.elapsed());
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "accept → order visible over {n} sequential checkouts: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 90.0)),
        ms(percentile(&latencies, 99.0)),
        ms(latencies[n - 1]),
    );
}
