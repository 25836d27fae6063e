//! The saga over the real broker: orders created from `payment.approved` (once per
//! payment, whatever the broker or the payment service repeats), poison messages, and the
//! `order.cancelled` compensation event.

use serde_json::json;
use testkit::eventually;
use uuid::Uuid;

use crate::helpers::{
    DEADLINE, TOMMY, TestApp, VADER, body, channel, depth, payment_approved, publish_raw, take,
};

const APPROVED_DLQ: &str = "order.payment.approved.dlq";
/// Where payment reads `order.cancelled` from.
const CANCELLED: &str = "payment.order.cancelled";

async fn approve(app: &TestApp, body: &serde_json::Value) {
    let (_conn, ch) = channel(&app.broker.url).await;
    publish_raw(
        &ch,
        &app.queue("payment.topic"),
        "payment.approved",
        &serde_json::to_vec(body).unwrap(),
    )
    .await;
}

async fn metric_line(app: &TestApp, needle: &str) -> Option<()> {
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    metrics.contains(needle).then_some(())
}

#[tokio::test]
async fn an_approved_payment_becomes_one_preparing_order_with_its_address() {
    let app = TestApp::spawn().await;
    app.ready().await;
    approve(
        &app,
        &payment_approved(Uuid::new_v4(), 77, TOMMY, "38234 oslo, norway"),
    )
    .await;
    let orders = eventually("the order to be created", DEADLINE, || async {
        let orders = app.orders_of_payment(77).await;
        (!orders.is_empty()).then_some(orders)
    })
    .await;
    assert_eq!(
        orders,
        [(
            TOMMY.to_owned(),
            "PREPARING".to_owned(),
            "38234 oslo, norway".to_owned()
        )]
    );
    let mine = body(
        app.get("/order/ofCurrentCustomer", &app.customer(TOMMY))
            .await,
    )
    .await;
    assert_eq!(mine[0]["paymentId"], 77);
    assert_eq!(mine[0]["status"], "PREPARING");
    assert_eq!(mine[0]["cancellation"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_redelivered_approval_still_makes_one_order() {
    let app = TestApp::spawn().await;
    app.ready().await;
    let event = payment_approved(Uuid::new_v4(), 78, TOMMY, "oslo");
    approve(&app, &event).await;
    approve(&app, &event).await;
    eventually("the duplicate to be recognised", DEADLINE, || {
        metric_line(&app, r#"outcome="duplicate"} 1"#)
    })
    .await;
    assert_eq!(app.orders_of_payment(78).await.len(), 1);
}

#[tokio::test]
async fn a_second_approval_of_the_same_payment_with_a_new_event_id_still_makes_one_order() {
    let app = TestApp::spawn().await;
    app.ready().await;
    approve(&app, &payment_approved(Uuid::new_v4(), 79, TOMMY, "oslo")).await;
    approve(&app, &payment_approved(Uuid::new_v4(), 79, TOMMY, "bergen")).await;
    eventually("both approvals to be applied", DEADLINE, || {
        metric_line(&app, r#"outcome="processed"} 2"#)
    })
    .await;
    let orders = app.orders_of_payment(79).await;
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0].2, "oslo", "the first approval wins");
}

#[tokio::test]
async fn poison_messages_go_to_the_dead_letter_queue_and_consumption_continues() {
    let app = TestApp::spawn().await;
    app.ready().await;
    let (_conn, ch) = channel(&app.broker.url).await;
    let exchange = app.queue("payment.topic");
    publish_raw(&ch, &exchange, "payment.approved", b"{not json").await;
    let no_address = json!({"eventType": "PaymentApproved", "eventId": Uuid::new_v4(),
        "timestamp": chrono::Utc::now(), "version": 1,
        "payload": {"paymentId": 80, "customerId": TOMMY, "address": "  "}});
    publish_raw(
        &ch,
        &exchange,
        "payment.approved",
        &serde_json::to_vec(&no_address).unwrap(),
    )
    .await;
    approve(&app, &payment_approved(Uuid::new_v4(), 81, VADER, "mexico")).await;

    let dead = take(&ch, &app.queue(APPROVED_DLQ), 2).await;
    let invalid_json = dead
        .iter()
        .find(|m| m.raw == b"{not json")
        .expect("the invalid JSON is parked as sent");
    assert!(
        invalid_json.headers["x-failure-reason"].contains("invalid envelope JSON"),
        "{:?}",
        invalid_json.headers
    );
    let invalid = dead.iter().find(|m| m.raw != b"{not json").unwrap();
    assert!(
        invalid.headers["x-failure-reason"].contains("address"),
        "{:?}",
        invalid.headers
    );
    eventually("the good approval to be applied", DEADLINE, || async {
        (!app.orders_of_payment(81).await.is_empty()).then_some(())
    })
    .await;
    assert!(app.orders_of_payment(80).await.is_empty());
}

#[tokio::test]
async fn cancelling_publishes_order_cancelled_with_the_exact_payload() {
    let app = TestApp::spawn().await;
    app.ready().await;
    let id = app.order(TOMMY, 55, "ON_THE_WAY").await;
    let response = app
        .put(
            &format!("/order/{id}/cancel"),
            &app.customer(TOMMY),
            Some(json!({"cancellationReason": "DELIVERY_TOOK_TOO_LONG", "explanation": "three weeks"})),
        )
        .await;
    assert_eq!(response.status(), reqwest::StatusCode::OK);

    let (_conn, ch) = channel(&app.broker.url).await;
    let message = take(&ch, &app.queue(CANCELLED), 1).await.remove(0);
    assert_eq!(message.body["eventType"], "OrderCancelled");
    assert_eq!(message.body["version"], 1);
    assert_eq!(
        message.body["payload"],
        json!({"orderId": id, "paymentId": 55, "customerId": TOMMY,
               "cancellationReason": "DELIVERY_TOOK_TOO_LONG", "explanation": "three weeks"})
    );
    assert_eq!(
        message.message_id.as_deref(),
        message.body["eventId"].as_str()
    );
    assert_eq!(message.content_type.as_deref(), Some("application/json"));

    // A refused second cancel publishes nothing more.
    let again = app
        .put(
            &format!("/order/{id}/cancel"),
            &app.customer(TOMMY),
            Some(json!({"cancellationReason": "DONT_NEED_ANYMORE"})),
        )
        .await;
    assert_eq!(again.status(), reqwest::StatusCode::CONFLICT);
    assert_eq!(app.outbox().await.len(), 1);
    assert_eq!(depth(&ch, &app.queue(CANCELLED)).await, 0);
}
