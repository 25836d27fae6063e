//! The stock check over the real broker: concurrency, idempotency, poison messages, and
//! what add-to-cart publishes.

use futures::future::join_all;
use reqwest::Method;
use serde_json::json;
use testkit::eventually;
use uuid::Uuid;

use crate::helpers::{DEADLINE, TestApp, channel, depth, payment_saved, publish_raw, take};

const CHECKED: &str = "payment.product.checked";
const SAVED_DLQ: &str = "inventory.payment.saved.dlq";

async fn ready(app: &TestApp) {
    // Readiness connects to the broker and declares the topology.
    testkit::until_ready(&app.client, &app.base, DEADLINE).await;
}

#[tokio::test]
async fn fifty_concurrent_checkouts_of_ten_units_sell_exactly_ten() {
    let app = TestApp::spawn().await;
    ready(&app).await;
    let id = app.product("Ice Pick", "53", 10).await;
    let (_conn, ch) = channel(&app.broker.url).await;
    let exchange = app.queue("payment.topic");
    let bodies: Vec<Vec<u8>> = (0..50)
        .map(|n| serde_json::to_vec(&payment_saved(Uuid::new_v4(), 1000 + n, &[(id, 1)])).unwrap())
        .collect();
    join_all(
        bodies
            .iter()
            .map(|body| publish_raw(&ch, &exchange, "payment.saved", body)),
    )
    .await;

    let verdicts = take(&ch, &app.queue(CHECKED), 50).await;
    let approved = verdicts
        .iter()
        .filter(|m| m.body["payload"]["areProductsAvailable"] == true)
        .count();
    let refused: Vec<_> = verdicts
        .iter()
        .filter(|m| m.body["payload"]["areProductsAvailable"] == false)
        .collect();
    assert_eq!(approved, 10);
    assert_eq!(refused.len(), 40);
    assert!(
        refused
            .iter()
            .all(|m| m.body["payload"]["unavailableReason"] == "NOT_IN_STOCKS")
    );
    assert!(
        refused[0].body["payload"]["reason"]
            .as_str()
            .unwrap()
            .contains("not available in stocks")
    );
    assert_eq!(app.stock(id).await, 0);
    let mut payments: Vec<i64> = verdicts
        .iter()
        .map(|m| m.body["payload"]["paymentId"].as_i64().unwrap())
        .collect();
    payments.sort_unstable();
    payments.dedup();
    assert_eq!(payments.len(), 50, "one verdict per payment");
}

#[tokio::test]
async fn a_redelivered_event_changes_nothing() {
    let app = TestApp::spawn().await;
    ready(&app).await;
    let id = app.product("Phone", "5", 6).await;
    let (_conn, ch) = channel(&app.broker.url).await;
    let event = serde_json::to_vec(&payment_saved(Uuid::new_v4(), 7, &[(id, 2)])).unwrap();
    let exchange = app.queue("payment.topic");
    publish_raw(&ch, &exchange, "payment.saved", &event).await;
    publish_raw(&ch, &exchange, "payment.saved", &event).await;
    eventually("the duplicate to be recognised", DEADLINE, || async {
        let metrics = app
            .client
            .get(app.url("/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        metrics.contains(r#"outcome="duplicate"} 1"#).then_some(())
    })
    .await;
    assert_eq!(app.stock(id).await, 4, "decremented once");
    take(&ch, &app.queue(CHECKED), 1).await;
    assert_eq!(depth(&ch, &app.queue(CHECKED)).await, 0, "one verdict only");
}

#[tokio::test]
async fn poison_messages_go_to_the_dead_letter_queue_and_consumption_continues() {
    let app = TestApp::spawn().await;
    ready(&app).await;
    let id = app.product("Skirt", "20", 3).await;
    let (_conn, ch) = channel(&app.broker.url).await;
    let exchange = app.queue("payment.topic");
    publish_raw(&ch, &exchange, "payment.saved", b"{not json").await;
    let bad_payload = json!({"eventType": "PaymentSaved", "eventId": Uuid::new_v4(), "timestamp": chrono::Utc::now(), "version": 1,
        "payload": {"paymentId": 9, "customerId": "c", "productQuantities": {"abc": 1}}});
    publish_raw(
        &ch,
        &exchange,
        "payment.saved",
        &serde_json::to_vec(&bad_payload).unwrap(),
    )
    .await;
    let good = serde_json::to_vec(&payment_saved(Uuid::new_v4(), 10, &[(id, 1)])).unwrap();
    publish_raw(&ch, &exchange, "payment.saved", &good).await;

    let dead = take(&ch, &app.queue(SAVED_DLQ), 2).await;
    let invalid_json = dead
        .iter()
        .find(|m| m.raw == b"{not json")
        .expect("the invalid JSON is parked as sent");
    assert!(
        invalid_json.headers["x-failure-reason"].contains("invalid envelope JSON"),
        "{:?}",
        invalid_json.headers
    );
    assert_eq!(
        invalid_json.headers["x-original-routing-key"],
        "payment.saved"
    );
    let unknown = dead.iter().find(|m| m.raw != b"{not json").unwrap();
    assert!(
        unknown.headers["x-failure-reason"].contains("\"abc\" is not a product id"),
        "{:?}",
        unknown.headers
    );

    let verdict = take(&ch, &app.queue(CHECKED), 1).await;
    assert_eq!(
        verdict[0].body["payload"]["paymentId"], 10,
        "the consumer kept consuming"
    );
    assert_eq!(app.stock(id).await, 2);
}

#[tokio::test]
async fn a_checkout_naming_a_deleted_product_is_refused_and_nothing_is_taken() {
    let app = TestApp::spawn().await;
    ready(&app).await;
    let kept = app.product("Pants", "500", 7).await;
    let (_conn, ch) = channel(&app.broker.url).await;
    let body = serde_json::to_vec(&payment_saved(
        Uuid::new_v4(),
        11,
        &[(kept, 1), (424_242, 1)],
    ))
    .unwrap();
    publish_raw(&ch, &app.queue("payment.topic"), "payment.saved", &body).await;
    let verdict = take(&ch, &app.queue(CHECKED), 1).await;
    let payload = &verdict[0].body["payload"];
    assert_eq!(payload["areProductsAvailable"], false);
    assert_eq!(payload["unavailableReason"], "PRODUCT_NOT_FOUND");
    assert_eq!(payload["unavailableProductId"], 424_242);
    assert_eq!(app.stock(kept).await, 7, "all or nothing");
}

#[tokio::test]
async fn add_to_cart_publishes_product_available_in_the_envelope() {
    let app = TestApp::spawn().await;
    ready(&app).await;
    let id = app.product("Laptop", "2999.99", 5).await;
    let response = app
        .send_json(
            Method::POST,
            &format!("/inventory/product/{id}/addToCart"),
            &app.customer(),
            &json!({"quantity": 2}),
        )
        .await;
    assert!(response.status().is_success());
    let (_conn, ch) = channel(&app.broker.url).await;
    let message = take(&ch, &app.queue("payment.product.available"), 1)
        .await
        .remove(0);
    assert_eq!(message.content_type.as_deref(), Some("application/json"));
    assert_eq!(message.body["eventType"], "ProductAvailable");
    assert_eq!(message.body["version"], 1);
    assert_eq!(
        message.message_id.as_deref(),
        message.body["eventId"].as_str()
    );
    assert_eq!(
        message.body["payload"],
        json!({"id": id, "name": "Laptop", "price": 2999.99, "productCategory": "TOOL", "desiredQuantity": 2,
               "customerId": "c908ce9d-faec-4570-b84d-71a4e77f2f4a"})
    );
    assert!(
        message.headers.contains_key("traceparent"),
        "trace context travels with the event: {:?}",
        message.headers
    );
}

#[tokio::test]
async fn a_refund_restores_the_stock_exactly_once() {
    let app = TestApp::spawn().await;
    testkit::until_ready(&app.client, &app.base, DEADLINE).await;
    let id = app.product("Desk", "25", 3).await;
    let (_conn, ch) = channel(&app.broker.url).await;
    let exchange = app.queue("payment.topic");
    publish_raw(
        &ch,
        &exchange,
        "payment.saved",
        &serde_json::to_vec(&payment_saved(Uuid::new_v4(), 21, &[(id, 2)])).unwrap(),
    )
    .await;
    take(&ch, &app.queue(CHECKED), 1).await;
    assert_eq!(app.stock(id).await, 1);

    let refund = json!({"eventType": "PaymentRefunded", "eventId": Uuid::new_v4(), "timestamp": chrono::Utc::now(), "version": 1,
        "payload": {"paymentId": 21, "customerId": "c908ce9d-faec-4570-b84d-71a4e77f2f4a", "productQuantities": {id.to_string(): 2, "424242": 1}}});
    let body = serde_json::to_vec(&refund).unwrap();
    publish_raw(&ch, &exchange, "payment.refunded", &body).await;
    publish_raw(&ch, &exchange, "payment.refunded", &body).await;
    eventually(
        "the refund and its duplicate to be consumed",
        DEADLINE,
        || async {
            let metrics = app
                .client
                .get(app.url("/metrics"))
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            let refunded = r#"consumer_messages_total{queue="inventory.payment.refunded",outcome="#;
            (metrics.contains(&format!(r#"{refunded}"processed"}} 1"#))
                && metrics.contains(&format!(r#"{refunded}"duplicate"}} 1"#)))
            .then_some(())
        },
    )
    .await;
    assert_eq!(
        app.stock(id).await,
        3,
        "restored once, the deleted product skipped"
    );
}
