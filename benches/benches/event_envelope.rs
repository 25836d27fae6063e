//! Serializing and parsing the event envelope, as the outbox relay and consumers do.

use std::{collections::BTreeMap, hint::black_box};

use criterion::{Criterion, criterion_group, criterion_main};
use inventory::domain::Category;
use inventory::events::{PaymentSaved, ProductAvailable};
use platform::messaging::Envelope;

fn payment_saved(lines: usize) -> Envelope<PaymentSaved> {
    Envelope::new(PaymentSaved {
        payment_id: 42,
        customer_id: "c908ce9d-faec-4570-b84d-71a4e77f2f4a".to_owned(),
        product_quantities: (1..=lines)
            .map(|id| (id.to_string(), 2))
            .collect::<BTreeMap<_, _>>(),
    })
}

fn envelope(c: &mut Criterion) {
    let mut group = c.benchmark_group("envelope");
    let small = payment_saved(3);
    let large = payment_saved(100);
    let available = Envelope::new(ProductAvailable {
        id: 2,
        name: "Laptop".to_owned(),
        price: "2999.99".parse().expect("decimal"),
        product_category: Category::Electronics,
        desired_quantity: 1,
        customer_id: "c908ce9d-faec-4570-b84d-71a4e77f2f4a".to_owned(),
    });
    group.bench_function("serialize_payment_saved_3_lines", |b| {
        b.iter(|| serde_json::to_vec(black_box(&small)))
    });
    group.bench_function("serialize_payment_saved_100_lines", |b| {
        b.iter(|| serde_json::to_vec(black_box(&large)))
    });
    group.bench_function("serialize_product_available", |b| {
        b.iter(|| serde_json::to_vec(black_box(&available)))
    });
    let small_bytes = serde_json::to_vec(&small).expect("serializes");
    let large_bytes = serde_json::to_vec(&large).expect("serializes");
    group.bench_function("parse_payment_saved_3_lines", |b| {
        b.iter(|| serde_json::from_slice::<Envelope<PaymentSaved>>(black_box(&small_bytes)))
    });
    group.bench_function("parse_payment_saved_100_lines", |b| {
        b.iter(|| serde_json::from_slice::<Envelope<PaymentSaved>>(black_box(&large_bytes)))
    });
    // What the consumer does first: the envelope with the payload left as JSON.
    group.bench_function("parse_envelope_untyped_3_lines", |b| {
        b.iter(|| serde_json::from_slice::<Envelope<serde_json::Value>>(black_box(&small_bytes)))
    });
    group.finish();
}

criterion_group!(benches, envelope);
criterion_main!(benches);
