//! The consumers over the real broker: cart merging, the address projection, the stock
//! verdict, refunds, idempotency and poison messages; and what they publish.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{LORNE, TOMMY, TestApp, channel, depth, publish_raw, take};

async fn status(app: &TestApp, id: i64) -> Value {
    app.json(&format!("/payment/{id}"), &app.manager()).await
}

#[tokio::test]
async fn product_available_events_merge_into_the_cart_and_a_duplicate_is_applied_once() {
    let app = TestApp::spawn().await;
    let (_conn, ch) = channel(&app.broker.url).await;
    let duplicate = Uuid::new_v4();
    app.product_available(&ch, TOMMY, 5, 19.99, 2, Some(duplicate))
        .await;
    app.product_available(&ch, TOMMY, 5, 19.99, 1, None).await;
    app.product_available(&ch, TOMMY, 6, 0.10, 1, None).await;
    app.product_available(&ch, TOMMY, 5, 19.99, 2, Some(duplicate))
        .await;
    app.consumed("product.available", "processed", 3).await;
    app.consumed("product.available", "duplicate", 1).await;

    let cart = app.json("/payment/cart", &app.customer(TOMMY)).await;
    assert_eq!(
        cart["products"],
        json!([
            {"id": 5, "name": "Product 5", "price": 19.99, "category": "TOOL", "quantity": 3},
            {"id": 6, "name": "Product 6", "price": 0.1, "category": "TOOL", "quantity": 1}
        ])
    );
    assert_eq!(cart["totalPrice"], 60.07);
    let carts: i64 = sqlx::query_scalar("SELECT count(*) FROM cart")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(carts, 1, "one cart per customer");
}

#[tokio::test]
async fn the_latest_primary_address_is_where_an_approved_payment_is_delivered() {
    let app = TestApp::spawn().await;
    let (_conn, ch) = channel(&app.broker.url).await;
    for address in ["11111 leeds, uk", "26593 birmingham, uk"] {
        app.publish(
            &ch,
            "address.topic",
            "address.primary-saved",
            "PrimaryAddressSaved",
            json!({"customerId": TOMMY, "address": address}),
            None,
        )
        .await;
    }
    // An older event that arrives late does not bring back an old address.
    let late = json!({"eventType": "PrimaryAddressSaved", "eventId": Uuid::new_v4(),
        "timestamp": chrono::Utc::now() - chrono::Duration::hours(1), "version": 1,
        "payload": {"customerId": TOMMY, "address": "00000 old town, uk"}});
    publish_raw(
        &ch,
        &app.name("address.topic"),
        "address.primary-saved",
        &serde_json::to_vec(&late).unwrap(),
    )
    .await;
    app.consumed("address.primary-saved", "processed", 3).await;
    app.cart(TOMMY, &[(1, "Clipper", "2.50", 1)]).await;
    let id = app.checkout(TOMMY).await;
    app.publish(
        &ch,
        "product.topic",
        "product.checked",
        "ProductsChecked",
        json!({"paymentId": id, "areProductsAvailable": true, "customerId": TOMMY}),
        None,
    )
    .await;
    let approved = take(&ch, &app.name("order.payment.approved"), 1)
        .await
        .remove(0);
    assert_eq!(approved.body["eventType"], "PaymentApproved");
    assert_eq!(
        approved.body["payload"],
        json!({"paymentId": id, "customerId": TOMMY, "address": "26593 birmingham, uk"})
    );
    assert_eq!(status(&app, id).await["status"], "APPROVED");
}

#[tokio::test]
async fn a_negative_stock_verdict_cancels_the_payment_with_its_reason_and_announces_it() {
    let app = TestApp::spawn().await;
    let (_conn, ch) = channel(&app.broker.url).await;
    let cancelled = app.listen(&ch, "payment.topic", "payment.cancelled").await;
    let id = app.payment(TOMMY, "PENDING", &[(4, 5)]).await;
    let reason = "Product 4: The product is not available in stocks with your desired quantity.";
    app.publish(
        &ch,
        "product.topic",
        "product.checked",
        "ProductsChecked",
        json!({"paymentId": id, "areProductsAvailable": false, "customerId": TOMMY,
               "reason": reason, "unavailableProductId": 4, "unavailableReason": "NOT_IN_STOCKS"}),
        None,
    )
    .await;
    let event = take(&ch, &cancelled, 1).await.remove(0);
    assert_eq!(event.body["eventType"], "PaymentCancelled");
    assert_eq!(
        event.body["payload"],
        json!({"paymentId": id, "customerId": TOMMY, "reason": reason})
    );
    let payment = status(&app, id).await;
    assert_eq!(payment["status"], "CANCELLED");
    assert_eq!(payment["cancellationReason"], reason);
}

#[tokio::test]
async fn a_verdict_for_a_payment_that_is_no_longer_pending_changes_nothing() {
    let app = TestApp::spawn().await;
    let (_conn, ch) = channel(&app.broker.url).await;
    let id = app.payment(TOMMY, "CANCELLED", &[(4, 1)]).await;
    app.publish(
        &ch,
        "product.topic",
        "product.checked",
        "ProductsChecked",
        json!({"paymentId": id, "areProductsAvailable": true, "customerId": TOMMY}),
        None,
    )
    .await;
    app.publish(
        &ch,
        "product.topic",
        "product.checked",
        "ProductsChecked",
        json!({"paymentId": 424_242, "areProductsAvailable": true, "customerId": TOMMY}),
        None,
    )
    .await;
    app.consumed("product.checked", "processed", 2).await;
    assert_eq!(status(&app, id).await["status"], "CANCELLED");
    assert_eq!(depth(&ch, &app.name("order.payment.approved")).await, 0);
}

#[tokio::test]
async fn approval_without_a_known_address_cancels_the_payment_and_gives_the_stock_back() {
    let app = TestApp::spawn().await;
    let (_conn, ch) = channel(&app.broker.url).await;
    // Checkout refuses this up front; a PENDING payment without an address can only
    // predate that rule.
    let id = app.payment(LORNE, "PENDING", &[(2, 1), (8, 3)]).await;
    app.publish(
        &ch,
        "product.topic",
        "product.checked",
        "ProductsChecked",
        json!({"paymentId": id, "areProductsAvailable": true, "customerId": LORNE}),
        None,
    )
    .await;
    let refund = take(&ch, &app.name("inventory.payment.refunded"), 1)
        .await
        .remove(0);
    assert_eq!(
        refund.body["payload"],
        json!({"paymentId": id, "customerId": LORNE, "productQuantities": {"2": 1, "8": 3}})
    );
    let payment = status(&app, id).await;
    assert_eq!(payment["status"], "CANCELLED");
    assert_eq!(payment["cancellationReason"], "No delivery address.");
    assert_eq!(depth(&ch, &app.name("order.payment.approved")).await, 0);
}

#[tokio::test]
async fn a_cancelled_order_refunds_its_approved_payment_once_with_the_exact_quantities() {
    let app = TestApp::spawn().await;
    let (_conn, ch) = channel(&app.broker.url).await;
    let approved = app.payment(TOMMY, "APPROVED", &[(3, 1), (4, 2)]).await;
    let pending = app.payment(TOMMY, "PENDING", &[(5, 1)]).await;
    let event_id = Uuid::new_v4();
    for _ in 0..2 {
        app.publish(
            &ch,
            "order.topic",
            "order.cancelled",
            "OrderCancelled",
            json!({"orderId": 9, "paymentId": approved, "customerId": TOMMY,
                   "cancellationReason": "DELIVERY_TOOK_TOO_LONG", "explanation": "slow"}),
            Some(event_id),
        )
        .await;
    }
    app.publish(
        &ch,
        "order.topic",
        "order.cancelled",
        "OrderCancelled",
        json!({"orderId": 10, "paymentId": pending, "customerId": TOMMY,
               "cancellationReason": "OTHER", "explanation": null}),
        None,
    )
    .await;
    let refund = take(&ch, &app.name("inventory.payment.refunded"), 1)
        .await
        .remove(0);
    assert_eq!(refund.body["eventType"], "PaymentRefunded");
    assert_eq!(
        refund.body["payload"],
        json!({"paymentId": approved, "customerId": TOMMY, "productQuantities": {"3": 1, "4": 2}})
    );
    app.consumed("order.cancelled", "processed", 2).await;
    app.consumed("order.cancelled", "duplicate", 1).await;
    assert_eq!(status(&app, approved).await["status"], "REFUNDED");
    assert_eq!(
        status(&app, pending).await["status"],
        "PENDING",
        "only an approved payment is refunded"
    );
    assert_eq!(
        depth(&ch, &app.name("inventory.payment.refunded")).await,
        0,
        "refunded once"
    );
}

#[tokio::test]
async fn poison_messages_go_to_the_dead_letter_queue_and_consumption_continues() {
    let app = TestApp::spawn().await;
    let (_conn, ch) = channel(&app.broker.url).await;
    let exchange = app.name("product.topic");
    publish_raw(&ch, &exchange, "product.available", b"{not json").await;
    app.product_available(&ch, TOMMY, 1, 2.5, 0, None).await;
    app.product_available(&ch, TOMMY, 1, 2.5, 1, None).await;

    let dead = take(&ch, &app.name("payment.product.available.dlq"), 2).await;
    let invalid = dead
        .iter()
        .find(|m| m.raw == b"{not json")
        .expect("the invalid JSON is parked as sent");
    assert!(invalid.headers["x-failure-reason"].contains("invalid envelope JSON"));
    let zero = dead.iter().find(|m| m.raw != b"{not json").unwrap();
    assert!(
        zero.headers["x-failure-reason"].contains("desiredQuantity"),
        "{:?}",
        zero.headers
    );
    app.consumed("product.available", "processed", 1).await;
    let cart = app.json("/payment/cart", &app.customer(TOMMY)).await;
    assert_eq!(
        cart["products"][0]["quantity"], 1,
        "the consumer kept consuming"
    );
}
